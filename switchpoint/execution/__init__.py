"""Execution: turning a routing decision into attempts, retries, fallbacks and an answer."""
