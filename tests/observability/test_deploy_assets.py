"""deploy/: the Grafana dashboard and Prometheus alert rules only use metrics that exist.

Every PromQL expression they hold is parsed for metric names, and each name must be a
sample the gateway exports after traffic that exercises every series: successes,
streams, retries, fallbacks, a breaker trip, an unpriced model, a ledger and a failing
trace exporter.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fakes import OpenAIFake, ServerError
from tests.observability.stack import PRICES, client, gateway_config, running_gateway, scrape

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy/grafana/switchpoint-dashboard.json"
ALERTS = ROOT / "deploy/prometheus/switchpoint-alerts.yml"
USER: list[Any] = [{"role": "user", "content": "hello"}]

# Series Prometheus makes itself, not the gateway.
PROMETHEUS_SERIES = {"up"}
_KEYWORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "inf",
    "nan",
}


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression (or a Grafana `label_values(...)` query)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # range selectors
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\$\{?\w+\}?", " ", text)  # Grafana variables
    label_values = re.fullmatch(r"\s*label_values\(\s*([a-zA-Z_:][\w:]*)\s*,.*\)\s*", text)
    if label_values:
        return {label_values.group(1)}
    names = set()
    for match in re.finditer(r"[a-zA-Z_:][\w:]*", text):
        name = match.group(0)
        following = text[match.end() :].lstrip()[:1]
        if following == "(" or name.lower() in _KEYWORDS:
            continue  # a function or aggregation, not a metric
        if re.fullmatch(r"\d+[smhdwy]", name):
            continue
        names.add(name)
    return names


def dashboard_queries() -> Iterator[str]:
    data = json.loads(DASHBOARD.read_text())

    def walk(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("expr", "definition") and isinstance(value, str):
                    yield value
                else:
                    yield from walk(value)
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)

    yield from walk(data)


def alert_expressions() -> list[str]:
    data = yaml.safe_load(ALERTS.read_text())
    return [rule["expr"] for group in data["groups"] for rule in group["rules"]]


def test_the_parser_finds_metric_names() -> None:
    assert metric_names(
        'histogram_quantile(0.95, sum by (le, provider) (rate(a_seconds_bucket{x="y"}[5m])))'
    ) == {"a_seconds_bucket"}
    assert metric_names("sum(rate(a_total[5m])) / sum(rate(b_total[5m])) > 4 * 500") == {
        "a_total",
        "b_total",
    }
    assert metric_names("count(m == 2) or vector(0)") == {"m"}
    assert metric_names("label_values(a_total, workload)") == {"a_total"}


def test_alert_rules_are_well_formed() -> None:
    data = yaml.safe_load(ALERTS.read_text())
    rules = [rule for group in data["groups"] for rule in group["rules"]]
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names))
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}
        assert rule["labels"]["severity"] in ("info", "warning", "critical")
        assert rule["annotations"]["summary"]
        assert rule["expr"].count("(") == rule["expr"].count(")")
    # The four the issue asks for: breaker open, fallback rate, error rate, budget burn.
    for wanted in (
        "CircuitBreakerOpen",
        "HighFallbackRate",
        "HighErrorRate",
        "BudgetBurn",
        "LedgerDroppingRecords",
    ):
        assert f"Switchpoint{wanted}" in names


def test_dashboard_is_importable_json() -> None:
    data = json.loads(DASHBOARD.read_text())
    assert data["uid"] and data["title"] == "switchpoint"
    ids = [panel["id"] for panel in data["panels"]]
    assert len(ids) == len(set(ids))
    charts = [p for p in data["panels"] if p["type"] in ("timeseries", "state-timeline")]
    assert len(charts) >= 15
    for panel in data["panels"]:
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"])
        for target in panel.get("targets", []):
            assert target["expr"].count("(") == target["expr"].count(")"), target["expr"]


@pytest.fixture
def backup_fake() -> Iterator[OpenAIFake]:
    with OpenAIFake() as fake:
        yield fake


def test_every_referenced_metric_is_exported(
    openai_fake: OpenAIFake, backup_fake: OpenAIFake, refused_port: int, tmp_path: Path
) -> None:
    prices = {model: price for model, price in PRICES.items() if model != "gpt-long"}
    config = gateway_config(
        openai_fake,
        backup_fake,
        fallback={"max_retries": 1},
        prices=prices,
        ledger_path=tmp_path / "ledger.db",
    )
    environ = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{refused_port}",
        "OTEL_BSP_SCHEDULE_DELAY": "50",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "0.3",
    }
    with running_gateway(config, environ) as server:
        sdk = client(server)
        list(sdk.chat.completions.create(model="primary", messages=USER, stream=True))
        openai_fake.enqueue(ServerError())
        sdk.chat.completions.create(model="primary", messages=USER)  # a retry
        sdk.chat.completions.create(  # the context guard, onto the unpriced model
            model="primary",
            messages=USER,
            extra_headers={"x-switchpoint-context-tokens": "700000"},
        )
        openai_fake.down(model="gpt-primary")
        for _ in range(3):  # with one retry each: the breaker opens on the second
            sdk.chat.completions.create(model="primary", messages=USER)
        samples = {name for name, _ in scrape(server)}
    referenced: dict[str, set[str]] = {}
    for expr in [*dashboard_queries(), *alert_expressions()]:
        for name in metric_names(expr):
            referenced.setdefault(name, set()).add(expr)
    assert len(referenced) >= 12
    missing = {
        name: sorted(exprs)[0]
        for name, exprs in referenced.items()
        if name not in samples and name not in PROMETHEUS_SERIES
    }
    assert missing == {}


def test_dashboard_panels_are_laid_out_on_grafanas_grid() -> None:
    """Each panel has whole-number coordinates within the 24 columns, and a unique id;
    a stat panel's colour steps are under its thresholds, where Grafana reads them."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids))
    for panel in panels:
        grid = panel["gridPos"]
        assert all(type(grid[key]) is int for key in ("h", "w", "x", "y")), panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] == "stat":
            steps = panel["fieldConfig"]["defaults"].get("thresholds", {}).get("steps", [])
            assert all("color" in step for step in steps), panel["title"]
