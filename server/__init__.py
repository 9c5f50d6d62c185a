"""The Cove relay: a thin, strict, durable delivery service (aiohttp + SQLite).

It stores ciphertext and group membership, orders each group's messages and
never holds a group secret. See ``docs/server/`` and ``docs/threat-model.md``.

Layers: :mod:`.http` (routes from the wire table, thin handlers, error
middleware) -> :mod:`.domain` (rules) -> :mod:`.storage` (one interface, SQLite).
"""
