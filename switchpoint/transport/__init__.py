"""The wire to the providers: a pooled HTTP/1.1 client and an SSE decoder."""
