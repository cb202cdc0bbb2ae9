"""The composition root: one configured gateway, its providers, router and executor."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from typing import Any

from switchpoint.config.schema import Config
from switchpoint.events import EventBus
from switchpoint.execution.executor import Executor
from switchpoint.ingress.admin_auth import AdminAuth
from switchpoint.observability.access_log import AccessLog
from switchpoint.observability.dashboard_snapshot import SnapshotBuilder
from switchpoint.observability.live_stats import LiveStats
from switchpoint.observability.metrics import GatewayMetrics
from switchpoint.observability.prometheus_export import GatewayCollector, MetricsExposition
from switchpoint.observability.trace_config import otlp_traces_endpoint
from switchpoint.providers.base import ProviderAdapter
from switchpoint.providers.registry import ProviderStatus, build_adapters, provider_statuses
from switchpoint.routing.context_size import estimate_body_tokens
from switchpoint.routing.decision import RoutingDecision, RoutingRequest
from switchpoint.routing.registry import Registry
from switchpoint.routing.resolve import resolve
from switchpoint.routing.workload import select_workload
from switchpoint.transport.http_client import HttpClient

log = logging.getLogger("switchpoint")


class Gateway:
    def __init__(
        self,
        config: Config,
        *,
        environ: Mapping[str, str] | None = None,
        adapters: dict[str, ProviderAdapter] | None = None,
        assume_available: bool = False,
    ) -> None:
        """`assume_available` routes as if every provider had its key: for explaining a
        configuration's decisions on a machine that holds no keys (`switchpoint route`)."""
        self.config = config
        self.client = HttpClient()
        self.adapters = (
            adapters if adapters is not None else build_adapters(config, self.client, environ)
        )
        unavailable = (
            []
            if assume_available
            else [name for name, adapter in self.adapters.items() if not adapter.available]
        )
        self.registry = Registry.from_config(config, unavailable_providers=unavailable)
        self.bus = EventBus()
        if config.logging.access_log:
            self.bus.subscribe(AccessLog())
        self.executor = Executor(config, self.registry, self.adapters, self.bus)
        environ = os.environ if environ is None else environ
        self.admin_auth = AdminAuth.from_config(config, environ)
        self._observe(environ)

    def _observe(self, environ: Mapping[str, str]) -> None:
        """Metrics, the dashboard's live picture and traces: listeners on the bus."""
        options = self.config.observability
        self.metrics: GatewayMetrics | None = None
        self.exposition: MetricsExposition | None = None
        self.snapshots: SnapshotBuilder | None = None
        breakers = self.executor.breakers
        if options.metrics:
            self.metrics = GatewayMetrics()
            self.bus.subscribe(self.metrics)
            collector = GatewayCollector(
                self.metrics, targets=self.targets, breaker_states=breakers.states
            )
            self.exposition = MetricsExposition(collector)
        if options.dashboard:
            live = LiveStats()
            self.bus.subscribe(live)
            self.snapshots = SnapshotBuilder(
                live, self.metrics, targets=self.targets, breaker_states=breakers.states
            )
        if options.tracing == "auto" and otlp_traces_endpoint(environ) is not None:
            from switchpoint.observability.tracing import otlp_trace_exporter

            tracer = otlp_trace_exporter(environ)
            if tracer is not None:
                self.bus.subscribe(tracer)
                if self.exposition is not None:
                    self.exposition.collector.sources.append(tracer.metrics)

    def targets(self) -> list[tuple[str, str]]:
        """Every (provider, model) a request can be sent to, in profile order."""
        return list(
            dict.fromkeys(
                (profile.provider, profile.model)
                for profile in self.registry.profiles.values()
                if profile.available
            )
        )

    @property
    def ready(self) -> bool:
        return any(adapter.available for adapter in self.adapters.values())

    def provider_statuses(self) -> list[ProviderStatus]:
        return provider_statuses(self.adapters)

    def clock(self) -> float:
        return time.perf_counter()

    def route(
        self,
        *,
        workload: str | None,
        model: str | None,
        budget: float,
        context_tokens: int | None,
        body: dict[str, Any] | None,
    ) -> tuple[RoutingDecision, int]:
        """The routing decision for a request, and the context size it was made for."""
        selection = select_workload(self.registry, workload, model)
        if context_tokens is None:
            context_tokens = estimate_body_tokens(body) if body is not None else 0
        decision = resolve(
            self.registry,
            RoutingRequest(
                workload=selection.profile,
                estimated_context_tokens=context_tokens,
                budget_constraint=budget,
                pinned=selection.pinned_model is not None,
            ),
        )
        return decision, context_tokens

    def log_startup(self) -> None:
        for status in self.provider_statuses():
            if status.available:
                log.info("provider %s (%s) is available", status.name, status.type)
            else:
                log.warning(
                    "provider %s (%s) is unavailable: %s", status.name, status.type, status.reason
                )
        for name, profile in self.registry.profiles.items():
            if not profile.available:
                log.warning(
                    "profile %s (%s) cannot be served: its provider %s is unavailable",
                    name,
                    profile.model,
                    profile.provider,
                )
        if not self.ready:
            log.error("no provider is usable: every request will fail until keys are set")

    async def aclose(self) -> None:
        await self.executor.aclose()
        await self.bus.aclose()
        for adapter in self.adapters.values():
            await adapter.aclose()
        self.client.close()
