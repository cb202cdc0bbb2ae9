"""Whether traces are exported, from OpenTelemetry's standard environment variables.

Kept apart from `tracing` so that deciding costs no OpenTelemetry import.
"""

from __future__ import annotations

from collections.abc import Mapping


def otlp_traces_endpoint(environ: Mapping[str, str]) -> str | None:
    """The OTLP/HTTP traces URL the standard environment variables configure, if any."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    if environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return None
    specific = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    if specific:
        return specific
    base = environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    if base:
        return base.removesuffix("/") + "/v1/traces"
    return None
