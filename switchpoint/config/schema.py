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


class CostConfig(Strict):
    budget_fallback_trigger: float = Field(0.5, ge=0, le=1)
    metric: Literal["cost_per_completed_outcome", "cost_per_token"] = "cost_per_completed_outcome"
    # The seed downgrades profiles whose cost weight is above this when the budget is low.
    downgrade_cost_weight_above: float = Field(0.7, ge=0, le=1)
    budget_profile: str | None = "cost_sensitive"
    on_task_budget: Literal["downgrade", "reject"] = "downgrade"


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


class ObservabilityConfig(Strict):
    # Keep Prometheus metrics and serve them at /metrics.
    metrics: bool = True
    # Serve /metrics without the master key (for a scraper that cannot send one).
    public_metrics: bool = False
    # Serve the live dashboard at /ui (and its data for `switchpoint top`).
    dashboard: bool = True
    # "auto": export traces when OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is set.
    tracing: Literal["auto", "off"] = "auto"


class Config(Strict):
    server: ServerConfig = ServerConfig()
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    models: dict[str, ModelConfig] = Field(default_factory=dict)
    routing: RoutingConfig
    logging: LoggingConfig = LoggingConfig()
    observability: ObservabilityConfig = ObservabilityConfig()
