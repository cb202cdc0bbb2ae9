"""The run's report: one rich table on the terminal, and everything as JSON."""

from __future__ import annotations

import math
import statistics
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from bench.figures import BASELINE, Figure
from bench.noise import FOREIGN_CPU_LIMIT, SPREAD_LIMIT, NoiseSample
from bench.session import Session

# Share of figures with a wide repeat spread above which the whole run is called noisy.
NOISY_FIGURE_SHARE = 0.25


def fmt(value: float, unit: str) -> str:
    if math.isnan(value):
        return "-"
    if math.isinf(value):
        return "overload"
    if unit in ("req/s", "streams/s", "/s"):
        return f"{value:,.0f}"
    if unit == "count":
        return f"{value:,.0f}"
    if unit in ("ms", "us", "x"):
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    if unit in ("MB", "s"):
        return f"{value:.2f}" if unit == "s" else f"{value:.1f}"
    return f"{value:.3g}"


def _cell(fig: Figure, target: str) -> Text:
    if target not in fig.values:
        return Text("-", style="dim")
    sp = fig.spread(target)
    text = Text(fmt(sp.median, fig.unit))
    if fig.additive and target != BASELINE and BASELINE in fig.values:
        added = fig.added(target).median
        text.append(f" (+{fmt(added, fig.unit)})" if added >= 0 else
                    f" ({fmt(added, fig.unit)})", style="cyan")
    if fig.unit in ("req/s", "streams/s") and target not in (BASELINE, "aiohttp_proxy") \
            and "aiohttp_proxy" in fig.values:
        text.append(f" {fig.ratio(target, 'aiohttp_proxy'):.2g}x aio", style="magenta")
    if fig.unit in ("req/s", "streams/s") and target not in (BASELINE, "floor_proxy") \
            and "floor_proxy" in fig.values:
        text.append(f" {fig.ratio(target, 'floor_proxy'):.2g}x floor", style="green")
    if len(sp.values) > 1 and not math.isnan(sp.relative):
        style = "yellow" if sp.relative > SPREAD_LIMIT else "dim"
        text.append(f" ±{sp.relative * 50:.0f}%", style=style)
    if fig.foreign.get(target, 0.0) > FOREIGN_CPU_LIMIT:
        text.append(" !", style="bold red")
    return text


def _goal_cell(fig: Figure, goal_target: str) -> Text:
    out = Text()
    for i, goal in enumerate(fig.goals):
        if i:
            out.append("\n")
        if goal_target not in fig.values:
            out.append(goal.describe(), style="dim")
            continue
        other = goal.on.removeprefix("ratio:")
        if goal.on.startswith("ratio:") and other not in fig.values:
            out.append(f"{goal.describe()} (no {other})", style="dim")
            continue
        x = fig.goal_value(goal, goal_target)
        met = goal.check(x)
        mark, style = ("✓", "green") if met else (("✗", "red") if met is False else ("?", "dim"))
        out.append(f"{mark} {fmt(x, 'x' if goal.on.startswith('ratio') else fig.unit)} "
                   f"{goal.describe()}", style=style)
    return out


def columns(session: Session) -> list[str]:
    """Targets that ran, then any other name figures were recorded under (the routing
    micro-benchmark records under the goal target even when its server was skipped)."""
    names = [t.name for t in session.targets]
    for fig in session.figures.all():
        names.extend(n for n in fig.values if n not in names)
    return names


def table(session: Session) -> Table:
    names = columns(session)
    goal_target = session.goal_target
    tbl = Table(title="switchpoint benchmark" + (" (quick)" if session.quick else ""),
                show_lines=False, header_style="bold")
    tbl.add_column("measurement")
    tbl.add_column("scenario")
    tbl.add_column("metric")
    for name in names:
        tbl.add_column(name, justify="right")
    tbl.add_column(f"goal ({goal_target})")
    previous: tuple[str, str] | None = None
    for fig in session.figures.all():
        if previous is not None and fig.measurement != previous[0]:
            tbl.add_section()
        same = previous == (fig.measurement, fig.scenario)
        cells = [_cell(fig, n) for n in names]
        tbl.add_row("" if same else fig.measurement, "" if same else fig.scenario,
                    fig.metric, *cells, _goal_cell(fig, goal_target))
        previous = (fig.measurement, fig.scenario)
    tbl.caption = (
        "median of repeats; (+x) added vs direct in the same repeat; ±% half the range of "
        f"repeats (yellow: repeats differ by more than {SPREAD_LIMIT:.0%}); "
        "Nx aio: ratio to aiohttp_proxy; Nx floor: ratio to floor_proxy; "
        "overload: the target fell behind the arrival rate; ! other programs used more than "
        f"{FOREIGN_CPU_LIMIT:g} cores during a run"
    )
    return tbl


def noise_verdict(session: Session, idle: NoiseSample) -> dict[str, Any]:
    foreign = [float(str(s["foreign_cores"])) for s in session.noise]
    flagged = []
    total = 0
    for fig in session.figures.all():
        for target in fig.values:
            if len(fig.values[target]) > 1 and fig.unit != "count":
                total += 1
                if fig.noisy(target):
                    flagged.append(f"{fig.measurement}/{fig.scenario}/{fig.metric}/{target}")
    median_foreign = statistics.median(foreign) if foreign else 0.0
    reasons = []
    if idle.foreign_cores > FOREIGN_CPU_LIMIT:
        reasons.append(f"other programs used {idle.foreign_cores:.2f} cores before the run")
    if median_foreign > FOREIGN_CPU_LIMIT:
        reasons.append(f"other programs used {median_foreign:.2f} cores (median) during "
                       "measurements")
    if total and len(flagged) / total > NOISY_FIGURE_SHARE:
        reasons.append(f"{len(flagged)} of {total} figures vary by more than "
                       f"{SPREAD_LIMIT:.0%} between repeats")
    return {
        "noisy": bool(reasons),
        "reasons": reasons,
        "idle_before": idle.to_dict(),
        "foreign_cores_median": median_foreign,
        "foreign_cores_max": max(foreign, default=0.0),
        "wide_spread_figures": flagged,
    }


def print_report(console: Console, session: Session, verdict: dict[str, Any]) -> None:
    console.print(table(session))
    for fig in session.figures.all():
        for note in fig.notes:
            console.print(f"[dim]note[/] {fig.measurement} / {fig.scenario} / {fig.metric}: "
                          f"{note}")
    for name in [t.name for t in session.targets if t.name != BASELINE]:
        start = session.startup_s.get(name)
        rss = session.ready_rss.get(name)
        if start is not None and rss is not None:
            console.print(f"{name}: ready after {start:.2f} s, RSS {rss / 2**20:.1f} MB")
    for name, reason in session.skipped.items():
        console.print(f"[yellow]skipped {name}[/]: {reason}")
    if verdict["noisy"]:
        console.print("[bold yellow]NOISY MACHINE: do not trust small differences.[/] "
                      + "; ".join(verdict["reasons"]))
    else:
        console.print("[green]machine quiet[/]: foreign load median "
                      f"{verdict['foreign_cores_median']:.2f} cores, repeats agree")


def finite(doc: Any) -> Any:
    """NaN and infinity (an overloaded target's latency) as null: strict JSON."""
    if isinstance(doc, float):
        return doc if math.isfinite(doc) else None
    if isinstance(doc, dict):
        return {k: finite(v) for k, v in doc.items()}
    if isinstance(doc, list | tuple):
        return [finite(v) for v in doc]
    return doc


def to_json(session: Session, verdict: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    names = columns(session)
    targets: dict[str, Any] = {}
    for t in session.targets:
        targets[t.name] = {
            "status": "ran",
            "port": t.port,
            "cpus": sorted(t.cpus),
            "argv": t.argv,
            "startup_s": session.startup_s.get(t.name),
            "rss_ready_bytes": session.ready_rss.get(t.name),
        }
    for name, reason in session.skipped.items():
        targets[name] = {"status": "skipped", "reason": reason}
    doc: dict[str, Any] = finite({
        **meta,
        "targets": targets,
        "restarts": session.restarts,
        "noise": {**verdict, "samples": session.noise},
        "figures": [f.to_dict(names, session.goal_target)
                    for f in session.figures.all()],
        "records": session.records,
    })
    return doc
