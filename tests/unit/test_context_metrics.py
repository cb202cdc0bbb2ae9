"""Summarization metrics: counted per process, summed over workers, exported."""

from __future__ import annotations

from switchpoint.execution.records import CallRecord, SummarizationRecord
from switchpoint.observability.metrics import GatewayMetrics, merge_metrics
from tests.unit.metrics_text import exposition_text


def summarized(metrics: GatewayMetrics, outcome: str = "summarized") -> None:
    call = CallRecord("r", "openai_chat", False, 0.0, 0.0, workload="agent")
    record = SummarizationRecord(
        trigger="routing",
        outcome=outcome,  # type: ignore[arg-type]
        profile="agent",
        tokens_before=150_000,
        tokens_after=30_000,
        budget=99_000,
        cache_hits=2,
        summarizer_calls=3,
    )
    metrics.on_summarization(call, record)


def test_summarizations_are_counted_merged_and_exported() -> None:
    first, second = GatewayMetrics(), GatewayMetrics()
    summarized(first)
    summarized(second)
    summarized(second, "timeout")
    total = merge_metrics([first, second])
    assert total.summarizations == {
        ("agent", "routing", "summarized"): 2,
        ("agent", "routing", "timeout"): 1,
    }
    assert total.summary_cache_hits == 6 and total.summarizer_calls == 9
    # Only successful ones removed tokens.
    assert total.summarized_tokens_removed == 2 * 120_000
    text = exposition_text(total)
    assert (
        'switchpoint_summarizations_total{outcome="timeout",trigger="routing",workload="agent"} 1.0'
        in text
    )
    assert "switchpoint_summarizer_calls_total 9.0" in text
    assert 'switchpoint_fallbacks_total{reason="summarization"} 0.0' in text
