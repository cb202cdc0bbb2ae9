"""Routing decisions: pure functions of the request and the registry. No I/O here."""
