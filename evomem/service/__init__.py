"""evomem as a service: a REST server (``app``), its API keys (``auth``), the HTTP client (``client``) and an MCP
server (``mcp``). Only ``client`` is light (httpx); the servers need the ``server`` extra."""
