"""Closed-loop throughput with wrk: N keep-alive connections, each sending its next request
as soon as the previous response is complete.

wrk counts a response only when its HTTP message is complete, which for a chunked SSE
stream means after the terminating zero-length chunk: so for streams, requests/s is
complete streams/s. With `check_done` the script also checks every body holds
`data: [DONE]` and counts those that do not as bad (this costs wrk some CPU, so the
figure is a lower bound of what the server can do).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

_MARK = "WRKJSON "

_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
%(headers)s
local f = assert(io.open(%(body_path)s, "rb"))
wrk.body = f:read("*a")
f:close()

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  bad = 0
end
%(response_fn)s
function done(summary, latency, requests)
  local b = 0
  for _, t in ipairs(threads) do b = b + t:get("bad") end
  local e = summary.errors
  io.write(string.format(
    '%(mark)s{"requests":%%d,"duration_us":%%d,"bytes":%%d,' ..
    '"errors":{"connect":%%d,"read":%%d,"write":%%d,"status":%%d,"timeout":%%d},' ..
    '"bad":%%d,"latency_us":{"p50":%%d,"p90":%%d,"p99":%%d,"p999":%%d,"max":%%d,"mean":%%f}}\\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout, b,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean))
end
"""

_CHECK_DONE = """
function response(status, headers, body)
  if status ~= 200 or not string.find(body, "data: [DONE]", 1, true) then
    bad = bad + 1
  end
end
"""


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests: int
    duration_s: float
    rps: float
    errors: int
    bad: int
    latency_us: dict[str, float]
    raw: dict[str, object]


def available() -> bool:
    return shutil.which("wrk") is not None


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid Lua string literal here


def write_script(
    directory: Path, body: bytes, headers: dict[str, str], check_done: bool
) -> Path:
    body_path = directory / "body.json"
    body_path.write_bytes(body)
    header_lines = "\n".join(
        f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}" for k, v in headers.items()
    )
    script = _LUA % {
        "headers": header_lines,
        "body_path": _lua_string(str(body_path)),
        "response_fn": _CHECK_DONE if check_done else "",
        "mark": _MARK,
    }
    path = directory / "post.lua"
    path.write_text(script)
    return path


def run(
    url: str,
    body: bytes,
    *,
    connections: int,
    duration_s: float,
    headers: dict[str, str] | None = None,
    check_done: bool = False,
    threads: int = 1,
    cpus: set[int] | None = None,
    timeout_s: float = 10.0,
) -> WrkResult:
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        script = write_script(Path(tmp), body, headers or {}, check_done)
        cmd = [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(duration_s))}s",
            f"--timeout={max(1, round(timeout_s))}s",
            "-s",
            str(script),
            url,
        ]
        affinity = cpus

        def pin() -> None:
            if affinity:
                os.sched_setaffinity(0, affinity)

        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=duration_s + timeout_s + 30,
            preexec_fn=pin,
            check=False,
        )
    for line in proc.stdout.splitlines():
        if line.startswith(_MARK):
            doc = json.loads(line[len(_MARK) :])
            break
    else:
        raise RuntimeError(f"wrk gave no result (exit {proc.returncode}): {proc.stderr.strip()}")
    errors = doc["errors"]
    seconds = doc["duration_us"] / 1e6
    return WrkResult(
        requests=doc["requests"],
        duration_s=seconds,
        rps=doc["requests"] / seconds if seconds else 0.0,
        errors=sum(errors.values()),
        bad=doc["bad"],
        latency_us={k: float(v) for k, v in doc["latency_us"].items()},
        raw=doc,
    )
