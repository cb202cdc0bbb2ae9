"""The HTTP/1.1 server: a small asyncio protocol on httptools, and request dispatch."""
