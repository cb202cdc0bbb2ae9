"""The composition root: one configured gateway, its providers, router and executor."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Mapping

from switchpoint.budgets.admission import Admission
from switchpoint.budgets.estimate import CostEstimator
from switchpoint.budgets.key_budgets import KeyBudgets
from switchpoint.budgets.settlement import SettlementListener
from switchpoint.budgets.task_budgets import TaskBudgets
from switchpoint.chat.request import ChatRequest
from switchpoint.compaction.assessment import Assessor, ContextAssessment
from switchpoint.compaction.calibration_listener import CalibrationListener
from switchpoint.compaction.compactor import Compactor
from switchpoint.compaction.measure import ContextMeter
from switchpoint.compaction.planning import CompressionPlanner
from switchpoint.compaction.summary_caches import build_summary_cache
from switchpoint.config.schema import Config, SummarizationStrategy
from switchpoint.events import EventBus
from switchpoint.execution.executor import Executor
from switchpoint.ingress.admin_auth import AdminAuth
from switchpoint.ingress.load_shedding import LoadShedder
from switchpoint.keys.access import AccessControl, KeyRejected, Principal
from switchpoint.keys.keyring import KeyRing
from switchpoint.keys.master_key import MasterKey
from switchpoint.keys.task_teams import TaskTeams
from switchpoint.ledger.database import DATABASE_ERRORS, Connection
from switchpoint.ledger.key_records import load_keys
from switchpoint.ledger.ledger import Ledger
from switchpoint.ledger.store import LedgerUnavailable
from switchpoint.observability.access_log import AccessLog
from switchpoint.observability.dashboard_snapshot import SnapshotBuilder
from switchpoint.observability.ledger_panel import LedgerPanel
from switchpoint.observability.live_stats import LiveStats
from switchpoint.observability.metrics import GatewayMetrics
from switchpoint.observability.prometheus_export import GatewayCollector, MetricsExposition
from switchpoint.observability.trace_config import otlp_traces_endpoint
from switchpoint.observability.worker_share import WorkerShare
from switchpoint.pricing import PriceTable
from switchpoint.providers.base import ProviderAdapter
from switchpoint.providers.registry import ProviderStatus, build_adapters, provider_statuses
from switchpoint.routing.decision import RoutingDecision, RoutingRequest
from switchpoint.routing.registry import Registry
from switchpoint.routing.resolve import resolve
from switchpoint.routing.workload import select_workload
from switchpoint.tokens import bpe
from switchpoint.tokens.calibration import Calibrator
from switchpoint.tokens.counter import TokenCounter
from switchpoint.tokens.tokenizers import tokenizer_for
from switchpoint.transport.http_client import HttpClient

log = logging.getLogger("switchpoint")

# An unknown virtual key triggers a reload of the keys (it may have just been created
# by `switchpoint keys create`), at most this often.
_KEY_RELOAD_MIN_S = 1.0
_STARTUP_ERRORS: tuple[type[BaseException], ...] = (LedgerUnavailable, *DATABASE_ERRORS)


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
        self.prices = PriceTable(dict(config.models))
        self._context(config)

        # Accounting: the ledger (opened by `start()`), virtual keys, budgets.
        env = os.environ if environ is None else environ
        self.ledger = Ledger(config.ledger) if config.ledger.enabled else None
        self.keyring = KeyRing()
        # One master key, one comparison, for the ledger's admin endpoints and the
        # dashboard and metrics alike.
        master = MasterKey.from_config(config, env)
        self.access = AccessControl(
            self.keyring,
            master_key=master,
            master_key_env=config.server.master_key_env,
            keys_supported=self.ledger is not None,
        )
        cost = config.routing.cost
        self.key_budgets = KeyBudgets()
        self.task_budgets = TaskBudgets(cost.task_budgets)
        self.task_teams = TaskTeams()
        self.admission = Admission(
            self.key_budgets,
            self.task_budgets,
            CostEstimator(dict(config.models), cost.reserve_output_tokens),
            on_task_budget=cost.on_task_budget,
            reservation_ttl_s=config.routing.fallback.request_deadline_s + 60.0,
        )
        self.bus.subscribe(SettlementListener(self.admission))
        self._key_reload: asyncio.Future[bool] | None = None
        self._key_reload_at = 0.0
        self.admin_auth = AdminAuth(master)
        self._observe(env)
        self.shedder = self._load_shedder(config)

    def _context(self, config: Config) -> None:
        """Token counting and summarization (per process: the counter's piece cache, the
        calibrator, and the summary cache unless it is in Redis)."""
        self.calibrator = Calibrator()
        self.counter = TokenCounter(calibrator=self.calibrator)
        provider_types = {name: p.type for name, p in config.providers.items()}
        output_limits = {name: m.output_limit_tokens for name, m in config.models.items()}
        self.meter = ContextMeter(self.counter, self.registry, provider_types, output_limits)
        planner = CompressionPlanner(config.routing.context, self.registry, self.meter)
        self.assessor = Assessor(config, self.registry, self.meter, planner)
        self.summary_cache = build_summary_cache(config.routing.context.summary_cache)
        self.compactor = Compactor(
            config,
            self.registry,
            self.meter,
            planner,
            self.executor,
            self.bus,
            self.summary_cache,
        )
        self.bus.subscribe(CalibrationListener(self.calibrator))

    def bpe_encodings(self) -> tuple[bpe.EncodingName, ...]:
        """The BPEs exact counts may need: o200k (every vendor's basis), and cl100k if a
        profile serves a gpt-4 or gpt-3.5 model."""
        names: list[bpe.EncodingName] = ["o200k_base"]
        types = {name: p.type for name, p in self.config.providers.items()}
        for profile in self.registry.profiles.values():
            encoding = tokenizer_for(profile.model, types.get(profile.provider, "openai"))
            if encoding.exact_encoding == "cl100k_base" and "cl100k_base" not in names:
                names.append("cl100k_base")
        return tuple(names)

    async def preload_tokenizer(self) -> None:
        """Load the BPE files in a worker thread (once per process), so that the first
        request near a limit does not wait for them."""
        if self.config.routing.context.preload_tokenizer:
            names = self.bpe_encodings()
            await asyncio.to_thread(bpe.warm, names)

    def _observe(self, environ: Mapping[str, str]) -> None:
        """Metrics, the dashboard's live picture and traces: listeners on the bus."""
        options = self.config.observability
        self.metrics: GatewayMetrics | None = None
        self.exposition: MetricsExposition | None = None
        self.snapshots: SnapshotBuilder | None = None
        self.worker_share: WorkerShare | None = None
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
        if self.exposition is not None and self.ledger is not None:
            panel = LedgerPanel(self.ledger, self.config.routing.cost.metric)
            self.exposition.process.sources.append(panel.metrics)
        if options.tracing == "auto" and otlp_traces_endpoint(environ) is not None:
            from switchpoint.observability.tracing import otlp_trace_exporter

            tracer = otlp_trace_exporter(environ)
            if tracer is not None:
                self.bus.subscribe(tracer)
                if self.exposition is not None:
                    self.exposition.process.sources.append(tracer.metrics)

    def _load_shedder(self, config: Config) -> LoadShedder:
        server = config.server
        lag_ms = server.max_loop_lag_ms
        metrics = self.metrics
        shedder = LoadShedder(
            max_in_flight=server.max_in_flight,
            max_loop_lag_s=None if lag_ms is None else lag_ms / 1000.0,
            on_shed=metrics.count_shed if metrics is not None else None,
        )
        if shedder.enabled:
            self.bus.subscribe(shedder)
        return shedder

    def share_metrics(self, share: WorkerShare) -> None:
        """One of several workers: scrapes answer for all of them (see `worker_share`)."""
        if self.snapshots is not None:
            self.snapshots.worker = (share.index, share.count)
        metrics = self.metrics
        if self.exposition is None or metrics is None:
            return
        self.worker_share = share
        collector = self.exposition.collector
        own_states = self.executor.breakers.states
        collector.view = lambda: share.combined(metrics)
        collector.breaker_states = lambda: share.combined_states(own_states())
        process = self.exposition.process
        process.worker = share.index
        process.peers = share.peer_families

    def targets(self) -> list[tuple[str, str]]:
        """Every (provider, model) a request can be sent to, in profile order."""
        return list(
            dict.fromkeys(
                (profile.provider, profile.model)
                for profile in self.registry.profiles.values()
                if profile.available
            )
        )

    # --- accounting -----------------------------------------------------------------
    def start(self) -> None:
        """Open the ledger: load keys and spend, start the writer. Serving calls this;
        commands that only explain routing never do, so they touch no database."""
        ledger = self.ledger
        if ledger is None or ledger.started:
            return
        writer = ledger.writer
        writer.commit_hooks.extend([self.key_budgets.committed, self.task_budgets.committed])
        writer.sync_jobs.append(self._sync_accounting)
        self.task_budgets.request_sync = writer.request_sync
        try:
            ledger.store.run(self._sync_accounting)
        except _STARTUP_ERRORS as exc:
            log.error(
                "ledger database %s is unavailable (%s): calls are served and their records "
                "kept in memory until it is back; virtual keys cannot be checked until then",
                ledger.describe(),
                exc,
            )
        ledger.start()
        self.bus.subscribe(ledger.listener)

    def _sync_accounting(self, connection: Connection) -> None:
        """Re-read keys and spend (on the ledger's writer thread, or once at start)."""
        records = load_keys(connection)
        self.keyring.replace(records)
        self.key_budgets.track([r for r in records if r.budget_usd is not None])
        self.key_budgets.sync(connection)
        self.task_budgets.sync(connection)

    async def authenticate(self, presented: str | None) -> Principal:
        """Who is calling; an unknown virtual key first triggers a reload of the keys."""
        try:
            return self.access.client(presented)
        except KeyRejected as rejected:
            if rejected.revoked or self.ledger is None or not await self._reload_keys():
                raise
            return self.access.client(presented)

    async def _reload_keys(self) -> bool:
        """Reload keys on demand: concurrent callers share one reload, and reloads start
        at most once a second (unknown keys cannot make the database busy). False when
        no reload was started or joined."""
        running = self._key_reload
        if running is None:
            now = time.monotonic()
            if now - self._key_reload_at < _KEY_RELOAD_MIN_S or self.ledger is None:
                return False
            self._key_reload_at = now
            running = self._key_reload = asyncio.ensure_future(self.ledger.writer.synced())
            running.add_done_callback(self._key_reload_done)
        await asyncio.shield(running)
        return True

    def _key_reload_done(self, _: asyncio.Future[bool]) -> None:
        self._key_reload = None

    @property
    def ready(self) -> bool:
        return any(adapter.available for adapter in self.adapters.values())

    def provider_statuses(self) -> list[ProviderStatus]:
        return provider_statuses(self.adapters)

    def clock(self) -> float:
        return time.perf_counter()

    async def assess(
        self,
        request: ChatRequest | None,
        *,
        workload: str | None,
        model: str | None,
        raw: bytes | None = None,
        strategy: SummarizationStrategy | None = None,
        context_tokens: int | None = None,
        max_output: int | None = None,
    ) -> ContextAssessment:
        """What routing needs to know about the request's context (see `compaction`):
        its size per profile, and whether it can be summarized for the profile asked for.
        `context_tokens`, a bare count, replaces the request's own count."""
        selection = select_workload(self.registry, workload, model)
        assessor = self.assessor
        quick = assessor.quick(
            request,
            selection,
            raw=raw,
            strategy=strategy,
            given_tokens=context_tokens,
            max_output=max_output,
        )
        if quick is not None:
            return quick
        return await assessor.assess(
            request,
            selection,
            raw=raw,
            strategy=strategy,
            given_tokens=context_tokens,
            max_output=max_output,
        )

    def route(
        self,
        assessment: ContextAssessment,
        *,
        budget: float,
        over_task_budget: bool = False,
        strategy: SummarizationStrategy | None = None,
    ) -> tuple[RoutingDecision, int]:
        """The routing decision, and the context size it dispatches (after
        summarization, the size summarized to). `strategy` overrides the request's."""
        selection = assessment.selection
        decision = resolve(
            self.registry,
            RoutingRequest(
                workload=selection.profile,
                estimated_context_tokens=0,
                budget_constraint=budget,
                pinned=selection.pinned_model is not None,
                over_task_budget=over_task_budget,
                context=assessment.size,
                strategy=strategy or assessment.strategy,
                outlook=assessment.outlook,
            ),
        )
        if decision.context_budget is not None:
            return decision, decision.context_budget
        return decision, decision.context_tokens

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
        for model in sorted({p.model for p in self.registry.profiles.values()}):
            if not self.prices.known(model):
                log.warning(
                    "model %s has no price in models: its calls are recorded with unknown "
                    "cost (not zero) and cannot be held to USD budgets",
                    model,
                )
        if self.ledger is not None:
            log.info(
                "ledger: %s (written every %gs, up to %d records held if it is unavailable)",
                self.ledger.describe(),
                self.config.ledger.flush_interval_s,
                self.config.ledger.max_queue,
            )
        else:
            log.warning("ledger disabled: calls are not recorded and virtual keys are unavailable")
        if self.access.open:
            log.warning(
                "no master key is set (%s): the gateway runs open: admin endpoints (keys, "
                "reports) need no credential and calls without a virtual key are served "
                "unattributed",
                self.access.master_key_env,
            )

    async def aclose(self) -> None:
        await self.executor.aclose()
        close_cache = getattr(self.summary_cache, "aclose", None)
        if close_cache is not None:
            await close_cache()
        await self.bus.aclose()
        if self.ledger is not None:
            await self.ledger.aclose()
        for adapter in self.adapters.values():
            await adapter.aclose()
        self.client.close()
