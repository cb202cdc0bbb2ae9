"""`switchpoint serve`: run the gateway."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
import uvloop

from switchpoint.cli.config_option import ConfigPath, load_or_exit
from switchpoint.cli.start_checks import unsafe_start_problems
from switchpoint.config.schema import MAX_WORKERS, Config
from switchpoint.observability.logging_setup import configure_logging
from switchpoint.server.open_files import raise_open_file_limit, report_open_file_limit

if TYPE_CHECKING:
    from switchpoint.observability.worker_share import WorkerShare

log = logging.getLogger("switchpoint")


def serve(
    config: ConfigPath = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(min=0, max=65535, help="Port to listen on.")] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, max=MAX_WORKERS, help="Worker processes.")
    ] = None,
) -> None:
    """Start the gateway (default 127.0.0.1:8080, built-in seed configuration)."""
    cfg = load_or_exit(config)
    server = cfg.server.model_copy(
        update={
            key: value
            for key, value in (("host", host), ("port", port), ("workers", workers))
            if value is not None
        }
    )
    cfg = cfg.model_copy(update={"server": server})
    configure_logging(cfg.logging.level, cfg.logging.format)
    refuse_unsafe_start(cfg)
    # Before any worker starts: they inherit it.
    report_open_file_limit(*raise_open_file_limit(), server.max_in_flight)
    if server.workers == 1:
        raise typer.Exit(run_worker(cfg, reuse_port=False))
    from switchpoint.observability.worker_share import (
        make_share_directory,
        remove_share_directory,
    )
    from switchpoint.server.workers import reserve_port, run_workers

    try:
        # Port 0: one port the kernel picks for every worker, not one each.
        reserved = reserve_port(server.host) if server.port == 0 else None
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", server.host, server.port, exc.strerror)
        raise typer.Exit(1) from None
    if reserved is not None:
        server = server.model_copy(update={"port": reserved.getsockname()[1]})
        cfg = cfg.model_copy(update={"server": server})
    log.info("starting %d workers on %s:%d", server.workers, server.host, server.port)
    # Where the workers pool their metrics, so that any of them answers a scrape for all.
    shared = make_share_directory()
    try:
        code = run_workers(
            server.workers,
            lambda index: _worker_exit(cfg, index, server.workers, shared),
            # The supervisor, killed, cannot remove it: its last workers do.
            on_orphaned=lambda: remove_share_directory(shared),
        )
    finally:
        remove_share_directory(shared)
        if reserved is not None:
            reserved.close()
    raise typer.Exit(code)


def refuse_unsafe_start(cfg: Config) -> None:
    """Exit (2) on settings that would expose the gateway by mistake (`start_checks`)."""
    problems = unsafe_start_problems(cfg, os.environ)
    for problem in problems:
        log.error("%s", problem)
    if problems:
        raise typer.Exit(2)


def _worker_exit(cfg: Config, index: int, count: int, shared: Path) -> None:
    from switchpoint.ingress.request_ids import reseed
    from switchpoint.observability.worker_share import WorkerShare
    from switchpoint.server.workers import EXIT_STARTUP_FAILED

    reseed()
    code = run_worker(cfg, reuse_port=True, share=WorkerShare(shared, index, count))
    if code:
        # It could not listen: the supervisor stops rather than restart it.
        raise SystemExit(EXIT_STARTUP_FAILED)


def run_worker(cfg: Config, *, reuse_port: bool, share: WorkerShare | None = None) -> int:
    from switchpoint.gateway import Gateway
    from switchpoint.server.runner import listening_socket
    from switchpoint.server.runner import serve as serve_socket

    try:
        sock = listening_socket(cfg.server.host, cfg.server.port, reuse_port=reuse_port)
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", cfg.server.host, cfg.server.port, exc.strerror)
        return 1

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        gateway = Gateway(cfg)
        gateway.log_startup()
        publishing: asyncio.Task[None] | None = None
        if share is not None and gateway.metrics is not None:
            gateway.share_metrics(share)
            families = gateway.exposition.process.snapshot if gateway.exposition else None
            publishing = asyncio.create_task(
                share.run(gateway.metrics, gateway.executor.breakers.states, stop, families)
            )
        host, port = sock.getsockname()[:2]

        def ready() -> None:
            log.info(
                "switchpoint listening on http://%s:%d (pid %d, %d profiles)",
                host,
                port,
                os.getpid(),
                len(gateway.registry.profiles),
            )

        await serve_socket(gateway, sock, stop, on_ready=ready, own_process=True)
        if publishing is not None:
            await publishing
        log.info("switchpoint stopped")

    uvloop.run(main())
    return 0
