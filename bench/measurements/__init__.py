"""One module per measurement; each exposes `run(session)` and records figures."""
