"""Gateway metrics as `/metrics` renders them, for tests that read the exposition."""

from __future__ import annotations

from switchpoint.observability.metrics import GatewayMetrics
from switchpoint.observability.prometheus_export import GatewayCollector, MetricsExposition


def exposition_text(metrics: GatewayMetrics) -> str:
    collector = GatewayCollector(metrics, targets=list, breaker_states=dict)
    body, _ = MetricsExposition(collector).render(None)
    return body.decode()
