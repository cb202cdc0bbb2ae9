"""Observability: logs, metrics, traces, dashboards. Listeners on the event bus."""
