"""Instructions the gateway executes per request, counted by valgrind (callgrind).

CPU time per request moves by tens of percent between runs on a shared VM (other guests
take the host's cores; steal time), which hides any change smaller than that. The
number of instructions does not depend on what else the machine is doing: for the same
code and the same requests, runs agree within a few percent (what differs is work done
on a timer, the access log's and the ledger's flushes, which falls on more or fewer
requests as valgrind runs faster or slower), so it can tell a change of several percent
on the hot path from noise. It is not a time:
a cache miss or a system call costs far more than its instructions say, so the timed
benchmarks (`bench.run`, `bench.request_cpu`) remain the measure of speed.

The fake upstream runs normally; `switchpoint serve` (the benchmark's configuration:
everything on, SQLite ledger) runs under callgrind; after a warm-up its counters are
zeroed, it serves N sequential requests over one keep-alive connection (no batching,
so every request takes the same path), and the counts are dumped. Callgrind acts on
those commands when the gateway next runs code, so the count also holds whatever
timer fired before the dump: a few hundred instructions, against N times ~10^6.

    python -m bench.request_instructions --root . --root /tmp/other-checkout --repeats 3

Prints instructions per request, plain and streamed (20 chunks), per checkout and run
(runs alternate between checkouts), then the median and range of each. With
`--gap-ms 2` a stream's chunks arrive 2 ms apart, one read each, as a real model's do;
`--chunks 1` against the default 20 separates a stream's fixed cost from its cost per
event. `--keep DIR` keeps each run's dump, for `callgrind_annotate DIR/<file>`.
"""

from __future__ import annotations

import argparse
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from bench import fake_upstream
from bench.payloads import chat_body
from bench.procs import ManagedProcess, free_port, install_cleanup, stop_all
from bench.targets import SWITCHPOINT_MASTER_KEY, UPSTREAM_MODEL, switchpoint_config

_WARM_UP = 200
_START_TIMEOUT_S = 180


class _Client:
    """Sequential requests over one keep-alive connection; reads each whole response."""

    def __init__(self, port: int, body: bytes, stream: bool) -> None:
        self._sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self._request = (
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: bench\r\n"
            b"content-type: application/json\r\n"
            b"authorization: Bearer " + SWITCHPOINT_MASTER_KEY.encode() + b"\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )
        self._stream = stream
        self._buffer = b""

    def one(self) -> None:
        self._sock.sendall(self._request)
        end = b"0\r\n\r\n" if self._stream else None
        while True:
            if end is not None and self._buffer.endswith(end):
                break
            if end is None and self._whole_response():
                break
            piece = self._sock.recv(65536)
            if not piece:
                raise RuntimeError("the gateway closed the connection")
            self._buffer += piece
        if b" 200 " not in self._buffer[:16]:
            raise RuntimeError(f"not a 200: {self._buffer[:200]!r}")
        self._buffer = b""

    def _whole_response(self) -> bool:
        head, sep, rest = self._buffer.partition(b"\r\n\r\n")
        if not sep:
            return False
        match = re.search(rb"content-length: (\d+)", head, re.IGNORECASE)
        return match is not None and len(rest) >= int(match.group(1))

    def close(self) -> None:
        self._sock.close()


def _callgrind_control(*args: str) -> None:
    subprocess.run(["callgrind_control", *args], check=True, capture_output=True, timeout=60)


def _dumped_instructions(out_dir: Path) -> int:
    """The count in the first dump (`callgrind.out.<pid>.1`): from the zeroing on."""
    for path in out_dir.glob("callgrind.out.*.1"):
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("summary:"):
                return int(line.split()[1])
    return 0


def _keep_dump(work: Path, keep: Path, name: str) -> None:
    """The newest run's dump (from the zeroing on), as `<keep>/<name>-<run dir>.out`."""
    dumps = sorted(work.glob("*/callgrind.out.*.1"), key=lambda path: path.stat().st_mtime)
    if dumps:
        keep.mkdir(parents=True, exist_ok=True)
        shutil.copy(dumps[-1], keep / f"{name}-{dumps[-1].parent.name}.out")


def measure(root: Path, upstream_port: int, stream: bool, requests: int, work: Path) -> float:
    """Instructions per request for one checkout and one request shape."""
    port = free_port()
    run_dir = work / f"{root.name}-{port}"
    run_dir.mkdir(parents=True)
    config = run_dir / "switchpoint.yaml"
    config.write_text(yaml.safe_dump(switchpoint_config(port, upstream_port), sort_keys=False))
    process = ManagedProcess(
        name=f"switchpoint@{root} (callgrind)",
        argv=[
            "valgrind", "--tool=callgrind",
            f"--callgrind-out-file={run_dir}/callgrind.out.%p",
            sys.executable, "-m", "switchpoint", "serve",
            "--config", str(config), "--port", str(port),
        ],
        env={
            "BENCH_KEY": "bench-upstream-key",
            "SWITCHPOINT_MASTER_KEY": SWITCHPOINT_MASTER_KEY,
            "PYTHONPATH": str(root),
        },
        cpus={1},
        log_path=run_dir / "gateway.log",
        cwd=run_dir,
    )
    process.start()
    try:
        process.wait_ready("127.0.0.1", port, "/readyz", _START_TIMEOUT_S)
        client = _Client(port, chat_body(UPSTREAM_MODEL, stream=stream), stream)
        for _ in range(_WARM_UP):
            client.one()
        _callgrind_control("--zero", str(process.pid))
        for _ in range(requests):
            client.one()
        _callgrind_control("--dump", str(process.pid))
        client.close()
    finally:
        process.stop(grace_s=60)
    total = _dumped_instructions(run_dir)
    if total <= 0:
        log = (run_dir / "gateway.log").read_text(errors="replace")[-2000:]
        files = sorted(path.name for path in run_dir.iterdir())
        raise RuntimeError(f"no callgrind totals in {run_dir} ({files}); the log ends:\n{log}")
    return total / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", action="append", required=True, help="a checkout (repeatable)")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--shape", choices=("plain", "stream", "both"), default="both")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chunks", type=int, default=20,
                        help="events per stream (1 against 20 separates a stream's fixed "
                             "cost from its cost per event)")
    parser.add_argument("--gap-ms", type=float, default=0.0,
                        help="space a stream's chunks this far apart, so that each is read, "
                             "relayed and written on its own (the per-chunk path)")
    parser.add_argument("--keep", type=Path,
                        help="copy each run's callgrind dump here, to read with "
                             "callgrind_annotate (which C functions the count is made of)")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (apt-get install valgrind)")
    install_cleanup()
    shapes = ("plain", "stream") if args.shape == "both" else (args.shape,)
    with tempfile.TemporaryDirectory(prefix="bench-instructions-") as tmp:
        work = Path(tmp)
        _upstream, upstream_port = fake_upstream.start(work / "upstream.log", {0})
        fake_upstream.configure(upstream_port, chunks=args.chunks, gap_ms=args.gap_ms)
        counts: dict[tuple[str, str], list[float]] = {}
        try:
            for shape in shapes:
                for _ in range(args.repeats):
                    for root in args.root:
                        per_request = measure(
                            Path(root).resolve(), upstream_port, shape == "stream",
                            args.requests, work,
                        )
                        counts.setdefault((shape, root), []).append(per_request)
                        if args.keep is not None:
                            _keep_dump(work, args.keep, f"{shape}-{len(counts[shape, root])}")
                        print(f"{shape:6s} {root}: {per_request:,.0f} instructions/request",
                              flush=True)
        finally:
            stop_all()
    for (shape, root), values in counts.items():
        print(f"{shape:6s} {root}: median {statistics.median(values):,.0f} "
              f"(range {min(values):,.0f}-{max(values):,.0f}) instructions/request")


if __name__ == "__main__":
    main()
