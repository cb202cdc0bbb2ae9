"""The benchmark harness's own logic (no timing here: benchmarks live in bench/)."""

from __future__ import annotations

import math

import orjson
import pytest

from bench.client_conn import ClientConnection, Exchange
from bench.fake_upstream import _STREAM_RE, build_stream_events
from bench.figures import Figure, Goal
from bench.payloads import SIZES, chat_body
from bench.stats import percentile, spread, summarize
from bench.targets import switchpoint_config


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 99.9) == 100.0
    assert math.isnan(percentile([], 50))
    assert summarize([3.0, 1.0, 2.0])["max"] == 3.0


def test_spread_ignores_nan_and_reports_relative_range() -> None:
    sp = spread([10.0, 11.0, math.nan, 9.0])
    assert sp.median == 10.0
    assert sp.relative == 0.2


def test_added_is_taken_within_each_repeat() -> None:
    fig = Figure("latency", "500 req/s", "p50 ms", "ms", "lower", additive=True)
    fig.values = {"direct": {0: 1.0, 1: 2.0, 2: 3.0}, "proxy": {0: 1.5, 1: 2.5, 2: 3.5}}
    added = fig.added("proxy")
    assert added.values == (0.5, 0.5, 0.5)
    assert Goal("added", "<=", 0.5).check(added.median) is True
    assert (
        Goal("ratio:direct", ">=", 2).check(fig.goal_value(Goal("ratio:direct", ">=", 2), "proxy"))
        is False
    )


def _stream_response() -> bytes:
    chunks = b"".join(build_stream_events(5))
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + chunks
    )


def _feed(pieces: list[bytes]) -> Exchange:
    finished: list[Exchange] = []
    conn = ClientConnection(lambda _c, ex: finished.append(ex), track_events=True)
    ex = Exchange(0)
    ex.event_times = []
    conn.current = ex
    for piece in pieces:
        conn.data_received(piece)
    assert finished == [ex]
    return ex


def test_sse_events_are_counted_once_whatever_the_read_boundaries() -> None:
    raw = _stream_response()
    whole = _feed([raw])
    # 5 content events, the usage event and [DONE]
    assert whole.events == 7 and whole.done and whole.status == 200
    for size in (1, 2, 3, 5, 7, 64):
        split = _feed([raw[i : i + size] for i in range(0, len(raw), size)])
        assert split.events == 7 and split.done


def test_stream_flag_detection() -> None:
    assert _STREAM_RE.search(b'{"stream": true}')
    assert _STREAM_RE.search(b'{"stream":true,"stream_options":{}}')
    assert not _STREAM_RE.search(b'{"stream": false, "stream_options": {"x": true}}')


def test_bodies_have_the_requested_size_and_shape() -> None:
    for size in SIZES.values():
        body = chat_body("m", size_bytes=size)
        assert 0.98 * size <= len(body) <= size
        doc = orjson.loads(body)
        assert doc["messages"][0]["role"] == "system"
        assert doc["messages"][-1]["content"] == "Say hello."
    assert orjson.loads(chat_body("m", stream=True))["stream"] is True


def test_switchpoint_config_is_valid_for_the_gateway() -> None:
    from switchpoint.config.loader import parse_config

    config = parse_config(switchpoint_config(8080, 9000, workers=2))
    assert config.server.workers == 2
    assert config.routing.profiles["fast"].provider == "bench"
    assert str(config.providers["bench"].base_url) == "http://127.0.0.1:9000/v1"
    assert config.models["bench-model"].input_usd_per_mtok == 1.0


def test_server_settings_reach_the_measured_gateway() -> None:
    from bench.run import parse_args
    from switchpoint.config.loader import parse_config

    args = parse_args(
        ["--switchpoint-server", "max_in_flight=1000", "--switchpoint-server", "max_loop_lag_ms=50"]
    )
    assert args.switchpoint_server == {"max_in_flight": 1000, "max_loop_lag_ms": 50}
    config = parse_config(switchpoint_config(8080, 9000, server_settings=args.switchpoint_server))
    assert (config.server.max_in_flight, config.server.max_loop_lag_ms) == (1000, 50.0)
    with pytest.raises(SystemExit):
        parse_args(["--switchpoint-server", "max_in_flight"])
