"""The configuration file's shape.

The `routing:` section keeps the seed template's keys exactly
(`context.reliability_threshold`, `cost.budget_fallback_trigger`, `profiles.<name>`,
`fallback.{enabled,max_retries,circuit_breaker_threshold}`); everything else extends it.
Unknown keys are errors: a typo must not silently fall back to a default.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

ProviderType = Literal["openai", "anthropic", "google", "openai_compatible", "simulated"]
SummarizationStrategy = Literal["hierarchical", "none", "reject"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerConfig(Strict):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    workers: int = Field(1, ge=1, le=256)
    max_body_bytes: int = Field(32 * 1024 * 1024, gt=0)
    master_key_env: str = "SWITCHPOINT_MASTER_KEY"
    # Idle keep-alive connections from clients are closed after this long.
    keep_alive_s: float = Field(75.0, gt=0)
    # A client must finish sending a request's headers and body within this.
    request_read_timeout_s: float = Field(60.0, gt=0)


class SimulationConfig(Strict):
    """Behaviour of a `simulated` provider (the offline demo's stand-in for a vendor)."""

    latency_ms: float = Field(40.0, ge=0)
    error_rate: float = Field(0.0, ge=0, le=1)
    chunk_delay_ms: float = Field(5.0, ge=0)
    output_tokens: int = Field(60, ge=1)


class ProviderConfig(Strict):
    type: ProviderType
    base_url: HttpUrl | None = None
    api_key_env: str | None = None
    # Google's API version (part of its URL path); Anthropic's `anthropic-version` header.
    api_version: str | None = None
    # One attempt, end to end.
    timeout_s: float = Field(600.0, gt=0)
    connect_timeout_s: float = Field(5.0, gt=0)
    first_token_timeout_s: float = Field(60.0, gt=0)
    stream_idle_timeout_s: float = Field(60.0, gt=0)
    headers: dict[str, str] = Field(default_factory=dict)
    simulation: SimulationConfig | None = None

    @model_validator(mode="after")
    def _needs_base_url(self) -> ProviderConfig:
        if self.type == "openai_compatible" and self.base_url is None:
            raise ValueError("type openai_compatible needs a base_url")
        if self.type != "simulated" and self.simulation is not None:
            raise ValueError("simulation: is only valid for type simulated")
        return self


class ModelConfig(Strict):
    """Per-model facts: prices in USD per million tokens, and capabilities."""

    input_usd_per_mtok: float | None = Field(None, ge=0)
    output_usd_per_mtok: float | None = Field(None, ge=0)
    cached_input_usd_per_mtok: float | None = Field(None, ge=0)
    cache_write_usd_per_mtok: float | None = Field(None, ge=0)
    # Whether the model continues a trailing assistant message (used to resume a cut stream).
    supports_prefill: bool | None = None
    # Default `max_tokens` when a protocol that requires it (Anthropic) gets none.
    max_output_tokens: int | None = Field(None, gt=0)


class ProfileConfig(Strict):
    model: str = Field(min_length=1)
    provider: str = Field(min_length=1)
    max_context: int = Field(gt=0)
    cost_weight: float = Field(ge=0, le=1)
    fallbacks: tuple[str, ...] = ()
    routing_rationale: str = ""
    summarization_strategy: SummarizationStrategy | None = None


class ContextConfig(Strict):
    reliability_threshold: int = Field(600_000, gt=0)
    summarization_strategy: SummarizationStrategy = "hierarchical"
    # Where work above the reliability threshold goes (the seed moves gpt-5.5 work here).
    long_context_profile: str | None = "deep_research"
    summarizer_profile: str | None = None
    keep_recent_tokens: int | None = Field(None, gt=0)
    keep_recent_share: float = Field(0.25, gt=0, lt=1)


class TaskBudgetConfig(Strict):
    """A default budget for tasks of one workload (a task's own headers override it)."""

    tokens: int | None = Field(None, gt=0)
    usd: float | None = Field(None, gt=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _some_limit(self) -> TaskBudgetConfig:
        if self.tokens is None and self.usd is None:
            raise ValueError("give tokens, usd, or both")
        return self


class CostConfig(Strict):
    budget_fallback_trigger: float = Field(0.5, ge=0, le=1)
    # What reports rank groups by (and show first).
    metric: Literal["cost_per_completed_outcome", "cost_per_token"] = "cost_per_completed_outcome"
    # The seed downgrades profiles whose cost weight is above this when the budget is low.
    downgrade_cost_weight_above: float = Field(0.7, ge=0, le=1)
    budget_profile: str | None = "cost_sensitive"
    # When a task's next call would exceed its budget: move it to `budget_profile`
    # (refusing only once the budget is spent), or refuse it at once.
    on_task_budget: Literal["downgrade", "reject"] = "downgrade"
    # Default task budgets by workload profile.
    task_budgets: dict[str, TaskBudgetConfig] = Field(default_factory=dict)
    # Output tokens a request is assumed to use when it sets no maximum of its own
    # (what budgets reserve before the call; the actual usage settles it after).
    reserve_output_tokens: int = Field(1024, ge=1)


class CircuitBreakerConfig(Strict):
    window_s: float = Field(30.0, gt=0)
    min_requests: int = Field(10, ge=1)
    open_s: float = Field(15.0, gt=0)
    half_open_probes: int = Field(2, ge=1)
    latency_limit_ms: float | None = Field(None, gt=0)


class FallbackConfig(Strict):
    enabled: bool = True
    max_retries: int = Field(2, ge=0, le=10)
    circuit_breaker_threshold: float = Field(0.15, gt=0, le=1)
    circuit_breaker: CircuitBreakerConfig = CircuitBreakerConfig()
    request_deadline_s: float = Field(900.0, gt=0)
    backoff_base_s: float = Field(0.25, ge=0)
    backoff_max_s: float = Field(8.0, ge=0)


class RoutingConfig(Strict):
    default_profile: str = "cost_sensitive"
    context: ContextConfig = ContextConfig()
    cost: CostConfig = CostConfig()
    profiles: dict[str, ProfileConfig]
    fallback: FallbackConfig = FallbackConfig()

    @field_validator("profiles")
    @classmethod
    def _some_profiles(cls, profiles: dict[str, ProfileConfig]) -> dict[str, ProfileConfig]:
        if not profiles:
            raise ValueError("at least one profile is required")
        return profiles


class LoggingConfig(Strict):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["json", "text"] = "json"
    # One structured line per request.
    access_log: bool = True


class LedgerConfig(Strict):
    """Where call records, outcomes and virtual keys are kept."""

    enabled: bool = True
    # SQLAlchemy-style: sqlite:///relative.db, sqlite:////absolute.db, postgresql://...
    url: str = "sqlite:///switchpoint-ledger.db"
    # Records are written in batches at least this often: the most a crash can lose.
    flush_interval_s: float = Field(0.5, gt=0, le=60)
    # Records held in memory while the database is slow or down; beyond it they are
    # dropped (and counted).
    max_queue: int = Field(100_000, ge=1)
    # Most records written in one transaction.
    max_batch: int = Field(5_000, ge=1)
    # How often spend and keys are re-read from the database (what other worker
    # processes spent, keys created or revoked elsewhere).
    sync_interval_s: float = Field(5.0, gt=0)
    # At shutdown, how long to keep trying to write what is queued if the database is
    # down; what is still unwritten then is counted as dropped and logged.
    shutdown_timeout_s: float = Field(10.0, ge=0)

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        scheme = url.partition(":")[0].partition("+")[0].lower()
        if scheme not in ("sqlite", "postgresql", "postgres") or "://" not in url:
            raise ValueError(
                "must be sqlite:///relative/path.db, sqlite:////absolute/path.db "
                "or postgresql://user@host:port/database"
            )
        if scheme == "sqlite" and not url.partition("://")[2].startswith("/"):
            raise ValueError("a SQLite URL has three slashes before its path: sqlite:///file.db")
        return url


class Config(Strict):
    server: ServerConfig = ServerConfig()
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    models: dict[str, ModelConfig] = Field(default_factory=dict)
    routing: RoutingConfig
    logging: LoggingConfig = LoggingConfig()
    ledger: LedgerConfig = LedgerConfig()
