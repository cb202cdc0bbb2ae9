# ruff: noqa: RUF001, E501, PERF401
# (multilingual text is the point; and the order of the generator calls below defines the
# committed corpus byte for byte, so it is kept exactly as written)
"""Write the machine-made part of the estimator corpus (tests/data/token_corpus/).

The prose, code, CJK and other-language files there were written by hand; JSON, logs and
opaque strings (base64, hex, UUIDs) are made here, deterministically (fixed seed), so
that they can be re-made identically. Run from the repository root:

    python tools/make_token_corpus.py
"""

from __future__ import annotations

import base64
import json
import random
import uuid
from pathlib import Path

OUT = Path("tests/data/token_corpus")

_WORDS_TEXT = """
alpha beta cache client config context deploy error event file gateway handler index job
key latency limit log model node order owner payment policy profile queue region request
response retry route schema session shard status stream task team tenant timeout token
trace user value version window worker zone
"""
WORDS = tuple(_WORDS_TEXT.split())
_NAMES_TEXT = """
ana bruno chen dmitri emma farah gita hiro ines jonas kemal lucia mateo nadia
"""
NAMES = tuple(_NAMES_TEXT.split())
STATUSES = ["open", "closed", "pending", "failed", "succeeded", "cancelled"]


def sentence(rng: random.Random, n: int) -> str:
    words = [rng.choice(WORDS) for _ in range(n)]
    return " ".join(words).capitalize() + "."


def chat_request(rng: random.Random) -> str:
    tools = []
    for name in ("read_file", "run_shell", "search_code", "http_get"):
        tools.append(
            {
                "type": "function",
                "function": {
                    "name": name,
                    "description": sentence(rng, 12),
                    "parameters": {
                        "type": "object",
                        "properties": {
                            "path": {"type": "string", "description": sentence(rng, 6)},
                            "timeout_s": {"type": "integer", "minimum": 1, "maximum": 600},
                            "mode": {"type": "string", "enum": ["fast", "thorough", "dry_run"]},
                        },
                        "required": ["path"],
                    },
                },
            }
        )
    body = {
        "model": "gpt-5.4",
        "temperature": 0.2,
        "max_tokens": 4096,
        "messages": [
            {"role": "system", "content": sentence(rng, 40)},
            {"role": "user", "content": sentence(rng, 25)},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": f"call_{rng.getrandbits(64):016x}",
                        "type": "function",
                        "function": {
                            "name": "read_file",
                            "arguments": json.dumps({"path": "src/app/main.py", "mode": "fast"}),
                        },
                    }
                ],
            },
        ],
        "tools": tools,
    }
    return json.dumps(body, indent=2)


def issues(rng: random.Random) -> str:
    items = []
    for number in range(1200, 1212):
        items.append(
            {
                "id": rng.randrange(10**9, 10**10),
                "number": number,
                "title": sentence(rng, rng.randrange(4, 10)).rstrip("."),
                "state": rng.choice(["open", "closed"]),
                "user": {"login": rng.choice(NAMES), "id": rng.randrange(10**5, 10**7)},
                "labels": [{"name": rng.choice(WORDS), "color": f"{rng.getrandbits(24):06x}"}],
                "comments": rng.randrange(0, 40),
                "created_at": f"2026-0{rng.randrange(1, 9)}-{rng.randrange(10, 28)}T"
                f"{rng.randrange(10, 23)}:{rng.randrange(10, 59)}:{rng.randrange(10, 59)}Z",
                "body": " ".join(sentence(rng, rng.randrange(8, 20)) for _ in range(3)),
                "draft": False,
                "milestone": None,
            }
        )
    return json.dumps(items, indent=2)


def orders_minified(rng: random.Random) -> str:
    orders = []
    for _ in range(25):
        lines = [
            {
                "sku": f"SKU-{rng.randrange(1000, 9999)}-{rng.choice('ABCDEFG')}",
                "qty": rng.randrange(1, 9),
                "unit_price": round(rng.uniform(1, 500), 2),
                "currency": "EUR",
            }
            for _ in range(rng.randrange(1, 5))
        ]
        orders.append(
            {
                "order_id": str(uuid.UUID(int=rng.getrandbits(128))),
                "customer": {
                    "name": rng.choice(NAMES).title(),
                    "tier": rng.choice(["free", "pro"]),
                },
                "status": rng.choice(STATUSES),
                "lines": lines,
                "total": round(sum(x["qty"] * x["unit_price"] for x in lines), 2),
                "shipping": {
                    "country": rng.choice(["DE", "FR", "JP", "US", "BR"]),
                    "express": rng.random() < 0.3,
                },
            }
        )
    return json.dumps({"data": orders, "page": 3, "has_more": True}, separators=(",", ":"))


def json_lines_logs(rng: random.Random) -> str:
    out = []
    for i in range(60):
        out.append(
            json.dumps(
                {
                    "ts": f"2026-11-26T06:{i // 60 + 10:02d}:{i % 60:02d}.{rng.randrange(1000):03d}Z",
                    "level": rng.choice(["info", "info", "info", "warning", "error"]),
                    "request_id": f"req_{rng.getrandbits(48):012x}",
                    "route": rng.choice(["/v1/chat/completions", "/v1/messages"]),
                    "profile": rng.choice(["terminal_agent", "deep_research", "cost_sensitive"]),
                    "input_tokens": rng.randrange(100, 200000),
                    "latency_ms": round(rng.lognormvariate(6, 1), 1),
                    "status": rng.choice([200, 200, 200, 429, 502]),
                }
            )
        )
    return "\n".join(out) + "\n"


def access_logs(rng: random.Random) -> str:
    out = []
    for i in range(70):
        ip = ".".join(str(rng.randrange(1, 255)) for _ in range(4))
        path = rng.choice(["/v1/chat/completions", "/v1/messages", "/healthz", "/metrics"])
        out.append(
            f'{ip} - - [26/Nov/2026:06:{10 + i // 60:02d}:{i % 60:02d} +0000] "POST {path} HTTP/1.1" '
            f'{rng.choice([200, 200, 201, 400, 429, 502])} {rng.randrange(200, 90000)} "-" '
            f'"{rng.choice(["OpenAI/Python 3.57.0", "Anthropic/Python 2.14.0", "curl/8.5.0"])}" '
            f"rt={rng.uniform(0.01, 40):.3f} uct=0.000 urt={rng.uniform(0.01, 40):.3f}"
        )
    return "\n".join(out) + "\n"


def traceback_and_tests(rng: random.Random) -> str:
    frames = []
    for _ in range(8):
        module = "/".join(rng.choice(WORDS) for _ in range(3))
        frames.append(
            f'  File "/srv/app/{module}.py", line {rng.randrange(10, 900)}, in {rng.choice(WORDS)}_{rng.choice(WORDS)}\n'
            f"    result = await self._{rng.choice(WORDS)}({rng.choice(WORDS)}, timeout={rng.randrange(1, 60)})"
        )
    trace = "Traceback (most recent call last):\n" + "\n".join(frames)
    trace += "\nhttpx.ReadTimeout: timed out after 30.0s while reading response headers\n\n"
    tests = []
    for _ in range(40):
        name = f"tests/test_{rng.choice(WORDS)}.py::test_{rng.choice(WORDS)}_{rng.choice(WORDS)}"
        outcome = rng.choice(["PASSED", "PASSED", "PASSED", "FAILED", "SKIPPED"])
        tests.append(f"{name} {outcome} [{rng.randrange(1, 100):3d}%]")
    summary = "==== 3 failed, 34 passed, 3 skipped in 12.84s ===="
    return trace + "\n".join(tests) + "\n" + summary + "\n"


def opaque(rng: random.Random) -> str:
    blob = base64.b64encode(rng.randbytes(1500)).decode()
    lines = [blob[i : i + 76] for i in range(0, len(blob), 76)]
    hashes = [f"{rng.getrandbits(256):064x}  dist/pkg-{i}.whl" for i in range(12)]
    ids = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(20)]
    header = base64.urlsafe_b64encode(b'{"alg":"RS256","typ":"JWT"}').decode().rstrip("=")
    payload = base64.urlsafe_b64encode(rng.randbytes(180)).decode().rstrip("=")
    sig = base64.urlsafe_b64encode(rng.randbytes(256)).decode().rstrip("=")
    return "\n".join([*lines, "", *hashes, "", *ids, "", f"{header}.{payload}.{sig}"]) + "\n"


CJK_PHRASES = [
    "请求超时，请稍后重试",
    "上下文长度超过模型限制",
    "已切换到长上下文模型",
    "预算不足，已降级到低成本模型",
    "リクエストがタイムアウトしました",
    "モデルの上限を超えています",
    "要約を作成しました",
    "요청 시간이 초과되었습니다",
    "모델 한도를 초과했습니다",
    "요약이 생성되었습니다",
]


def cjk_json(rng: random.Random) -> str:
    events = [
        {
            "id": f"evt_{rng.getrandbits(40):010x}",
            "level": rng.choice(["info", "warning", "error"]),
            "message": rng.choice(CJK_PHRASES),
            "detail": "，".join(rng.choice(CJK_PHRASES) for _ in range(3)),
            "tokens": rng.randrange(1000, 900000),
            "user": rng.choice(NAMES),
        }
        for _ in range(30)
    ]
    return json.dumps({"events": events}, ensure_ascii=False, indent=1)


def k8s_events(rng: random.Random) -> str:
    reasons = ["Scheduled", "Pulled", "Created", "Started", "BackOff", "Unhealthy", "Killing"]
    out = ["LAST SEEN   TYPE      REASON      OBJECT                                MESSAGE"]
    for _ in range(45):
        pod = f"pod/gateway-{rng.getrandbits(32):08x}-{rng.getrandbits(20):05x}"
        reason = rng.choice(reasons)
        kind = "Warning" if reason in ("BackOff", "Unhealthy") else "Normal"
        message = {
            "Scheduled": f"Successfully assigned prod/{pod[4:]} to node-{rng.randrange(1, 40)}",
            "Pulled": f'Container image "registry.local/switchpoint:1.{rng.randrange(0, 9)}.{rng.randrange(0, 30)}" already present on machine',
            "Created": "Created container gateway",
            "Started": "Started container gateway",
            "BackOff": "Back-off restarting failed container gateway in pod",
            "Unhealthy": f"Readiness probe failed: HTTP probe failed with statuscode: {rng.choice([500, 503])}",
            "Killing": "Stopping container gateway",
        }[reason]
        out.append(f"{rng.randrange(1, 59)}m{'':8s}{kind:9s} {reason:11s} {pod:37s} {message}")
    return "\n".join(out) + "\n"


def hexdump_keys(rng: random.Random) -> str:
    data = rng.randbytes(384)
    rows = []
    for off in range(0, len(data), 16):
        chunk = data[off : off + 16]
        hexes = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        rows.append(f"{off:08x}  {hexes[:23]}  {hexes[24:]}  |{text}|")
    keys = [
        "ssh-ed25519 "
        + base64.b64encode(rng.randbytes(51)).decode()
        + f" deploy@{rng.choice(NAMES)}"
        for _ in range(4)
    ]
    digests = [f"sha512-{base64.b64encode(rng.randbytes(64)).decode()}" for _ in range(6)]
    secrets = [f"sk-test-{base64.urlsafe_b64encode(rng.randbytes(36)).decode()}" for _ in range(5)]
    return "\n".join([*rows, "", *keys, "", *digests, "", *secrets]) + "\n"


def main() -> None:
    rng = random.Random(20261126)
    files = {
        "json__chat_request.json.txt": chat_request(rng),
        "json__issues.json.txt": issues(rng),
        "json__orders_minified.json.txt": orders_minified(rng),
        "json__jsonl_logs.txt": json_lines_logs(rng),
        "logs__access.txt": access_logs(rng),
        "logs__traceback_tests.txt": traceback_and_tests(rng),
        "opaque__base64_hex_uuid.txt": opaque(rng),
        "json__cjk_events.json.txt": cjk_json(rng),
        "logs__k8s_events.txt": k8s_events(rng),
        "opaque__hexdump_keys.txt": hexdump_keys(rng),
    }
    for name, text in files.items():
        (OUT / name).write_text(text, encoding="utf-8")
        print(f"{name}: {len(text)} chars")


if __name__ == "__main__":
    main()
