"""Storage: the Chroma collections and lexical indexes (``store``, ``lexical``, ``connection``), the memory states
(``state``, ``postgres``), and the write protocol that keeps them in step (``writer``, ``journal``, ``locks``,
``space``, ``swap``). Imports the model's latent queue, never search, maintenance or the facade."""
