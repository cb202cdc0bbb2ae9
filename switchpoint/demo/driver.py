"""Driving the demo's traffic through a running gateway over real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from switchpoint.demo.scenario import OUTCOME_KIND, DemoRequest, DemoTask
from switchpoint.transport.http_client import HttpClient, encode_head, encode_headers
from switchpoint.transport.origin import split_base_url


@dataclass(slots=True)
class DemoResult:
    request: DemoRequest
    status: int
    model: str | None
    provider: str | None
    fallback: bool
    attempts: int


def _body(request: DemoRequest) -> tuple[str, bytes]:
    prompt = f"Demo {request.workload} task: summarise the state of the build."
    if request.protocol == "anthropic":
        body = {
            "model": request.workload,
            "max_tokens": 256,
            "stream": request.stream,
            "messages": [{"role": "user", "content": prompt}],
        }
        return "/v1/messages", orjson.dumps(body)
    body = {
        "model": request.workload,
        "stream": request.stream,
        "messages": [
            {"role": "system", "content": "You are a coding agent."},
            {"role": "user", "content": prompt},
        ],
    }
    return "/v1/chat/completions", orjson.dumps(body)


async def send(client: HttpClient, base_url: str, request: DemoRequest) -> DemoResult:
    origin, _ = split_base_url(base_url)
    path, body = _body(request)
    headers = {
        "content-type": "application/json",
        "authorization": "Bearer demo-client",
        "anthropic-version": "2023-06-01",
        "x-switchpoint-budget": str(request.budget),
        "x-switchpoint-context-tokens": str(request.context_tokens),
        "x-switchpoint-task-id": request.task_id,
    }
    head = encode_head("POST", path, origin, encode_headers(headers), len(body))
    response = await client.request(origin, head, body, connect_timeout=5, response_timeout=30)
    if request.stream and response.status == 200:
        while await response.next_chunk(30) is not None:
            pass
    else:
        await response.read(30)
    h = response.headers
    return DemoResult(
        request=request,
        status=response.status,
        model=h.get("x-switchpoint-model"),
        provider=h.get("x-switchpoint-provider"),
        fallback=h.get("x-switchpoint-fallback") == "true",
        attempts=int(h.get("x-switchpoint-attempts", "0")),
    )


async def drive(
    base_url: str,
    requests: list[DemoRequest],
    rate_per_s: float,
    on_result: Callable[[int, DemoResult], None],
) -> list[DemoResult]:
    """Send `requests` at a fixed rate (open loop: a slow answer never delays the next)."""
    client = HttpClient()
    loop = asyncio.get_running_loop()
    start = loop.time()
    results: list[DemoResult] = []

    async def one(index: int, request: DemoRequest) -> None:
        result = await send(client, base_url, request)
        results.append(result)
        on_result(index, result)

    tasks = []
    for index, request in enumerate(requests):
        delay = start + index / rate_per_s - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(index, request)))
    await asyncio.gather(*tasks)
    client.close()
    return results


async def post_json(client: HttpClient, base_url: str, path: str, payload: object) -> object:
    origin, _ = split_base_url(base_url)
    body = orjson.dumps(payload)
    headers = encode_headers({"content-type": "application/json"})
    head = encode_head("POST", path, origin, headers, len(body))
    response = await client.request(origin, head, body, connect_timeout=5, response_timeout=30)
    return orjson.loads(await response.read(30))


async def get_json(client: HttpClient, base_url: str, path: str) -> object:
    origin, _ = split_base_url(base_url)
    head = (f"GET {path} HTTP/1.1\r\nhost: {origin.host_header}\r\n\r\n").encode("latin-1")
    response = await client.request(origin, head, b"", connect_timeout=5, response_timeout=30)
    return orjson.loads(await response.read(30))


async def report_outcomes(base_url: str, tasks: list[DemoTask], wait_s: float) -> object:
    """Post each task's outcome, let the ledger flush, and fetch the outcomes report."""
    client = HttpClient()
    try:
        for task in tasks:
            await post_json(
                client,
                base_url,
                "/v1/outcomes",
                {
                    "task_id": task.task_id,
                    "outcome": "success" if task.succeeds else "failure",
                    "kind": OUTCOME_KIND[task.workload],
                },
            )
        await asyncio.sleep(wait_s)
        return await get_json(client, base_url, "/v1/reports/outcomes?since=1d&by=workload")
    finally:
        client.close()
