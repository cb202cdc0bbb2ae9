"""The configuration file's shape.

The `routing:` section keeps the seed template's keys exactly
(`context.reliability_threshold`, `cost.budget_fallback_trigger`, `profiles.<name>`,
`fallback.{enabled,max_retries,circuit_breaker_threshold}`); everything else extends it.
Unknown keys are errors: a typo must not silently fall back to a default.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    ValidationInfo,
    field_validator,
    model_validator,
)

from switchpoint.url_redaction import redact_url

ProviderType = Literal[
    "openai", "openai_responses", "anthropic", "google", "openai_compatible", "simulated"
]
SummarizationStrategy = Literal["hierarchical", "none", "reject"]


# The most tokens any figure may hold (a trillion: far past any real call). Past it a
# number is a mistake, and it would overflow the ledger's 64-bit columns.
MAX_TOKEN_COUNT = 10**12
# Worker processes of one `serve` (the file's `server.workers` and `--workers` alike).
MAX_WORKERS = 256


class Strict(BaseModel):
    # An infinite price or timeout passes every `ge=` bound and then poisons what it
    # touches (a cost of inf x 0 is NaN): refused with the key named, as any bad value.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _empty_sections(cls, data: object) -> object:
        # A section whose keys are all commented out reads as null in YAML: it sets
        # nothing, so its defaults apply (a section that may be off, `simulation:`, stays
        # null).
        if not isinstance(data, dict):
            return data
        empty = [
            name
            for name, value in data.items()
            if value is None and name in cls.model_fields and _is_section(cls, name)
        ]
        return {**data, **{name: {} for name in empty}} if empty else data

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, value: object, info: ValidationInfo) -> object:
        # Pydantic takes `true` for 1: `port: true`, `workers: yes` or `cost_weight: on`
        # (YAML booleans all) would pass as a number nobody wrote.
        if isinstance(value, bool) and info.field_name is not None:
            field = cls.model_fields[info.field_name]
            kinds = get_args(field.annotation) or (field.annotation,)
            if bool not in kinds and (int in kinds or float in kinds):
                raise ValueError("must be a number, not a boolean")
        return value


def _is_section(model: type[BaseModel], name: str) -> bool:
    """Whether field `name` of `model` holds a mapping of keys that cannot be null."""
    annotation = model.model_fields[name].annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return get_origin(annotation) is dict


class ServerConfig(Strict):
    # Not empty: "" binds every interface, which a blank template value must not do.
    host: str = Field("127.0.0.1", min_length=1)
    port: int = Field(8080, ge=0, le=65535)
    workers: int = Field(1, ge=1, le=MAX_WORKERS)
    max_body_bytes: int = Field(32 * 1024 * 1024, gt=0)
    # Not empty: a blank template value would name no variable, and run the gateway open.
    master_key_env: str = Field("SWITCHPOINT_MASTER_KEY", min_length=1)
    # Idle keep-alive connections from clients are closed after this long.
    keep_alive_s: float = Field(75.0, gt=0)
    # A client must finish sending a request's headers and body within this.
    request_read_timeout_s: float = Field(60.0, gt=0)
    # A client whose socket takes none of a response for this long (the gateway's send
    # buffer stays full) is disconnected: a stream it stopped reading would otherwise hold
    # its upstream connection, and an unread answer its memory, until the client's host
    # went away.
    client_write_timeout_s: float = Field(60.0, gt=0)
    # After SIGTERM, calls in flight get this long to finish (the ledger's own flush,
    # `ledger.shutdown_timeout_s`, comes after it). Keep the two under what the process
    # manager waits before SIGKILL: `docker stop` 10 s, Kubernetes 30 s, systemd 90 s.
    shutdown_grace_s: float = Field(30.0, ge=0, le=3600)
    # Load shedding, off by default: a worker refuses new chat calls (503, or 529 to
    # Anthropic clients, with `Retry-After`) while it already has `max_in_flight` of them,
    # or while its event loop runs more than `max_loop_lag_ms` late. Past saturation,
    # every call taken on makes every call in flight slower (`ingress/load_shedding.py`).
    max_in_flight: int | None = Field(None, ge=1)
    max_loop_lag_ms: float | None = Field(None, gt=0)


class SimulationConfig(Strict):
    """Behaviour of a `simulated` provider (the offline demo's stand-in for a vendor)."""

    latency_ms: float = Field(40.0, ge=0)
    error_rate: float = Field(0.0, ge=0, le=1)
    chunk_delay_ms: float = Field(5.0, ge=0)
    output_tokens: int = Field(60, ge=1, le=MAX_TOKEN_COUNT)


class RedisOrMemory(Strict):
    """State kept in this process only, or in Redis, shared by every worker and instance."""

    type: Literal["memory", "redis"] = "memory"
    url: str | None = None  # redis://host:port/db

    @model_validator(mode="after")
    def _redis_needs_url(self) -> Self:
        if self.type == "redis":
            if not self.url:
                raise ValueError("type redis needs a url (e.g. redis://127.0.0.1:6379/0)")
            if not self.url.startswith(("redis://", "rediss://", "unix://")):
                raise ValueError(
                    f"url must start with redis://, rediss:// or unix:// ({redact_url(self.url)!r})"
                )
            problem = _redis_url_problem(self.url)
            if problem:
                raise ValueError(f"url {redact_url(self.url)!r}: {problem}")
        return self


def _redis_url_problem(url: str) -> str | None:
    """What Redis's client would refuse in `url` when it connects (a port out of range,
    an option it cannot read) or silently ignore (a database that is not a number, so
    db 0 is used), found before serving instead of as a crash at start-up."""
    from urllib.parse import urlsplit

    # Imported only for a Redis store: the client library is not needed otherwise.
    from redis.asyncio.connection import parse_url

    try:
        parse_url(url)
    except ValueError as exc:
        return str(exc).rstrip(".")
    if not url.startswith("unix://"):
        database = urlsplit(url).path.strip("/")
        if database and not database.isdigit():
            return f"the database after the host must be a number (got {database!r})"
    return None


class GeminiCallMemoryConfig(RedisOrMemory):
    """Where a `google` provider keeps the function calls Gemini made (their thought
    signatures, and the ids Gemini gave them) until a client replays them: this worker's
    memory (the latest calls), or Redis, so that a replay reaching another worker, another
    instance or a restarted gateway still goes back to Gemini as it came."""

    key_prefix: str = Field("switchpoint:gemini-calls", min_length=1)
    # A call not replayed within this long is forgotten (Google's placeholder goes back
    # in its signature's place).
    ttl_s: int = Field(86400, ge=60)


# RFC 9110's token: what a header name is made of.
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# How each request is framed and addressed is the gateway's to say.
_FRAMING_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection", "te"})

# The variable each vendor's own SDK reads its key from: a provider of that type that
# names none uses it (docs: "per type"), whatever the provider is called.
DEFAULT_KEY_ENV: dict[str, str] = {
    "openai": "OPENAI_API_KEY",
    "openai_responses": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "google": "GEMINI_API_KEY",
}


class ProviderConfig(Strict):
    type: ProviderType
    base_url: HttpUrl | None = None
    # Not empty: a blank template value would read no variable at all.
    api_key_env: str | None = Field(None, min_length=1)
    # Google's API version (part of its URL path); Anthropic's `anthropic-version` header.
    api_version: str | None = None
    # One attempt, end to end (a non-streamed answer's silence is bounded only by this:
    # its headers come after the whole answer is generated).
    timeout_s: float = Field(600.0, gt=0)
    # Opening a TCP (and TLS) connection.
    connect_timeout_s: float = Field(5.0, gt=0)
    # A stream's first content (text, tool call or reasoning), counted from the attempt's
    # start: a provider that accepts and goes silent is failed over after this.
    first_token_timeout_s: float = Field(60.0, gt=0)
    # The longest gap between two pieces of content once a stream has started.
    stream_idle_timeout_s: float = Field(30.0, gt=0)
    headers: dict[str, str] = Field(default_factory=dict)
    simulation: SimulationConfig | None = None
    # Type google only: where Gemini's function calls are kept until they are replayed.
    call_memory: GeminiCallMemoryConfig | None = None

    @field_validator("headers")
    @classmethod
    def _sendable_headers(cls, headers: dict[str, str]) -> dict[str, str]:
        sent: dict[str, str] = {}
        problems: list[str] = []
        for name, value in headers.items():
            lowered = name.lower()
            if not _TOKEN.fullmatch(name):
                problems.append(f"{name!r} is not a header name (letters, digits, -, _, ...)")
            elif lowered in _FRAMING_HEADERS:
                problems.append(f"{name!r} is set by the gateway for each request")
            elif lowered in sent:
                problems.append(f"{name!r} is given twice (header names ignore case)")
            elif not all(" " <= c <= "~" or "\xa0" <= c <= "\xff" or c == "\t" for c in value):
                problems.append(
                    f"the value of {name!r} holds a line break, a control character or a "
                    "character outside Latin-1"
                )
            # Lower-cased, as the gateway's own: a `Content-Type` here replaces its
            # `content-type` instead of going out beside it.
            sent[lowered] = value
        if problems:
            raise ValueError("; ".join(problems))
        return sent

    @field_validator("api_version")
    @classmethod
    def _version_token(cls, version: str | None) -> str | None:
        # It goes into a header (Anthropic) or the URL path (Google) as it is.
        if version is not None and not re.fullmatch(r"[A-Za-z0-9._-]+", version):
            raise ValueError("must be letters, digits, '.', '_' or '-' (e.g. 2023-06-01, v1beta)")
        return version

    @model_validator(mode="before")
    @classmethod
    def _key_env_by_type(cls, data: object) -> object:
        if isinstance(data, dict) and data.get("api_key_env") is None:
            default = DEFAULT_KEY_ENV.get(str(data.get("type")))
            if default is not None:
                return {**data, "api_key_env": default}
        return data

    @model_validator(mode="after")
    def _needs_base_url(self) -> ProviderConfig:
        if self.type == "openai_compatible" and self.base_url is None:
            raise ValueError("type openai_compatible needs a base_url")
        if self.type != "simulated" and self.simulation is not None:
            raise ValueError("simulation: is only valid for type simulated")
        if self.type != "google" and self.call_memory is not None:
            raise ValueError("call_memory: is only valid for type google")
        for name in ("connect_timeout_s", "first_token_timeout_s", "stream_idle_timeout_s"):
            # A default above a lowered timeout_s is simply capped by it; a value set
            # explicitly above it is a mistake worth naming.
            if name in self.model_fields_set and getattr(self, name) > self.timeout_s:
                raise ValueError(
                    f"{name} ({getattr(self, name):g}) cannot exceed timeout_s "
                    f"({self.timeout_s:g}), the limit of the whole attempt"
                )
        return self


class ModelConfig(Strict):
    """Per-model facts: prices in USD per million tokens, and capabilities."""

    input_usd_per_mtok: float | None = Field(None, ge=0)
    output_usd_per_mtok: float | None = Field(None, ge=0)
    cached_input_usd_per_mtok: float | None = Field(None, ge=0)
    cache_write_usd_per_mtok: float | None = Field(None, ge=0)
    # Whether the model continues a trailing assistant message (used to resume a stream cut
    # mid-answer). Unset: by vendor (Anthropic, Gemini yes; OpenAI, compatible servers no);
    # a model that rejects a prefill is not asked again, whatever this says.
    supports_prefill: bool | None = None
    # Default `max_tokens` when a protocol that requires it (Anthropic) gets none.
    max_output_tokens: int | None = Field(None, gt=0, le=MAX_TOKEN_COUNT)
    # The most the model writes in one answer (the vendor refuses a larger maximum with a
    # 400): a request asking for more is capped to it before it is sent, since the client
    # did not choose the model. Unset: the client's maximum goes to the vendor as it is.
    output_limit_tokens: int | None = Field(None, gt=0, le=MAX_TOKEN_COUNT)

    @model_validator(mode="after")
    def _default_within_limit(self) -> ModelConfig:
        default, limit = self.max_output_tokens, self.output_limit_tokens
        if default is not None and limit is not None and default > limit:
            raise ValueError(
                f"max_output_tokens ({default}) cannot exceed output_limit_tokens ({limit}): "
                "the default maximum would be capped on every request that relies on it"
            )
        return self


def _name_for_headers(name: str) -> str:
    # Profile, provider and model names are sent back in every answer's headers
    # (x-switchpoint-profile, -provider, -model) and label metrics: a line break there
    # wrote headers of its own into answers, a character outside Latin-1 made them fail.
    if not name or not all("!" <= c <= "~" for c in name):
        raise ValueError(
            "not usable as a name: visible ASCII characters only (letters, digits, "
            "punctuation; no spaces), as names go into answers' headers"
        )
    return name


Name = Annotated[str, AfterValidator(_name_for_headers)]


class ProfileConfig(Strict):
    model: Name
    provider: Name
    max_context: int = Field(gt=0, le=MAX_TOKEN_COUNT)
    cost_weight: float = Field(ge=0, le=1)
    fallbacks: tuple[str, ...] = ()
    routing_rationale: str = ""
    summarization_strategy: SummarizationStrategy | None = None


class SummaryCacheConfig(RedisOrMemory):
    """Where summaries already written are kept: this process only (an LRU bounded in
    entries and characters), or Redis, shared by every worker and instance."""

    key_prefix: str = Field("switchpoint:summaries", min_length=1)
    # Redis entries expire after this long without being written again.
    ttl_s: int = Field(7 * 86400, ge=60)
    max_entries: int = Field(4096, ge=1)
    max_chars: int = Field(64 * 1024 * 1024, ge=1024)


class ContextConfig(Strict):
    reliability_threshold: int = Field(600_000, gt=0, le=MAX_TOKEN_COUNT)
    # What to do when a request exceeds the threshold or its model's context:
    # `hierarchical` summarizes the earlier turns, `none` moves to a long-context
    # profile (the seed), `reject` answers a clear error. Per profile and per request
    # (X-Switchpoint-Context-Strategy) too.
    summarization_strategy: SummarizationStrategy = "hierarchical"
    # Where work above the reliability threshold goes (the seed moves gpt-5.5 work here).
    long_context_profile: str | None = "deep_research"
    # The profile that writes summaries (default: cost_sensitive if configured, else the
    # default profile); its fallbacks, retries and breakers apply.
    summarizer_profile: str | None = None
    # How much of the most recent conversation is kept verbatim: a number of tokens, or
    # else this share of the budget the conversation is compressed to.
    keep_recent_tokens: int | None = Field(None, gt=0, le=MAX_TOKEN_COUNT)
    keep_recent_share: float = Field(0.25, gt=0, lt=1)
    # Most tokens one summary may take.
    summary_tokens: int = Field(2000, ge=256, le=32_000)
    # Most transcript tokens sent in one summarizer call (less if the summarizer
    # profile's context is smaller).
    chunk_tokens: int = Field(100_000, ge=4096, le=MAX_TOKEN_COUNT)
    # One summarizer call (its retries and fallbacks included) must answer within this.
    summarizer_timeout_s: float = Field(120.0, gt=0)
    # Summarizer calls made at once for one request.
    summarizer_concurrency: int = Field(4, ge=1, le=64)
    summary_cache: SummaryCacheConfig = SummaryCacheConfig()
    # Load OpenAI's BPE (about 0.7 s of CPU and 56 MB per worker) in the background
    # after start-up, so that the first exact count near a limit does not wait for it.
    # Off by default: most workers never count exactly (only estimates that straddle a
    # limit are), and when one does, the load happens in a worker thread, once.
    preload_tokenizer: bool = False


class TaskBudgetConfig(Strict):
    """A default budget for tasks of one workload (a task's own headers override it)."""

    tokens: int | None = Field(None, gt=0, le=MAX_TOKEN_COUNT)
    usd: float | None = Field(None, gt=0)

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
    reserve_output_tokens: int = Field(1024, ge=1, le=MAX_TOKEN_COUNT)


class BreakerStoreConfig(RedisOrMemory):
    """Where breaker state lives: this process only, or shared through Redis by every
    gateway instance (one trips a breaker, the others see it open within `sync_interval_s`)."""

    key_prefix: str = Field("switchpoint:breakers", min_length=1)
    sync_interval_s: float = Field(1.0, gt=0, le=60)


class CircuitBreakerConfig(Strict):
    """Per (provider, model). Opens when, over the last `window_s` seconds and with at
    least `min_requests` outcomes, the share of failures reaches the fallback section's
    `circuit_breaker_threshold`; an answer slower than `latency_limit_ms` (time to first
    token for streams, whole call otherwise) counts as a failure. Open for `open_s`, then
    `half_open_probes` requests probe it; it closes when they all succeed."""

    window_s: float = Field(30.0, ge=1, le=3600)
    min_requests: int = Field(10, ge=1)
    open_s: float = Field(15.0, gt=0, le=3600)
    half_open_probes: int = Field(2, ge=1, le=100)
    latency_limit_ms: float | None = Field(None, gt=0)
    store: BreakerStoreConfig = BreakerStoreConfig()


class FallbackConfig(Strict):
    enabled: bool = True
    # Retries on the same target (429, 5xx, 529, connection failures) before failing over.
    max_retries: int = Field(2, ge=0, le=10)
    circuit_breaker_threshold: float = Field(0.15, gt=0, le=1)
    circuit_breaker: CircuitBreakerConfig = CircuitBreakerConfig()
    # The whole call, every attempt and backoff included, ends within this.
    request_deadline_s: float = Field(900.0, gt=0)
    # Exponential backoff with jitter between retries, floored by the provider's Retry-After.
    backoff_base_s: float = Field(0.25, ge=0, le=60)
    backoff_max_s: float = Field(8.0, ge=0, le=600)
    # A Retry-After longer than this fails over at once instead of waiting.
    max_retry_after_s: float = Field(30.0, ge=0)
    # Retries a target may receive per breaker window: `retry_budget_min`, plus this share
    # of its attempts. A provider that is failing everything gets no retry storm.
    retry_budget_ratio: float = Field(0.2, ge=0, le=10)
    retry_budget_min: int = Field(10, ge=0)
    # A content-policy refusal is the provider's answer: passed back unless this is true.
    content_policy_fallback: bool = False
    # A stream cut after the client received part of it is resumed on a target that can
    # continue an assistant turn, at most this many times per call (0 disables).
    max_continuations: int = Field(3, ge=0, le=20)

    @model_validator(mode="after")
    def _backoff_order(self) -> FallbackConfig:
        if self.backoff_max_s < self.backoff_base_s:
            raise ValueError(
                f"backoff_max_s ({self.backoff_max_s:g}) is below backoff_base_s "
                f"({self.backoff_base_s:g})"
            )
        return self


class RoutingConfig(Strict):
    default_profile: str = "cost_sensitive"
    context: ContextConfig = ContextConfig()
    cost: CostConfig = CostConfig()
    profiles: dict[Name, ProfileConfig]
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
    # Most records written in one transaction, and the backlog that wakes the writer
    # before its interval, so it bounds the queue (~1.3 KB a record) under full load:
    # at 8,700 requests/s it peaked at ~8,000 records with 5,000 and ~1,700 with 1,000.
    # 1,000 saves ~9 MB of RSS there but made the p99 time to first token of 2,000
    # slow streams several times worse (docs/performance.md), so the default is 5,000.
    max_batch: int = Field(5_000, ge=1)
    # How often spend and keys are re-read from the database (what other worker
    # processes spent, keys created or revoked elsewhere).
    sync_interval_s: float = Field(5.0, gt=0)
    # At shutdown, how long to keep trying to write what is queued if the database is
    # down; what is still unwritten then is counted as dropped and logged.
    shutdown_timeout_s: float = Field(10.0, ge=0)
    # PostgreSQL: the server cancels a statement running longer (a lock wait included);
    # a report over a very large ledger may need more than the default.
    statement_timeout_s: float = Field(30.0, gt=0, le=86_400)

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
    providers: dict[Name, ProviderConfig] = Field(default_factory=dict)
    models: dict[Name, ModelConfig] = Field(default_factory=dict)
    routing: RoutingConfig
    logging: LoggingConfig = LoggingConfig()
    observability: ObservabilityConfig = ObservabilityConfig()
    ledger: LedgerConfig = LedgerConfig()
