"""Maintenance of an open store (a ``Workspace``): reading a namespace again from its stored text, ``check``,
``repair`` of collections that lost vectors, and ``reembed`` from another model."""
