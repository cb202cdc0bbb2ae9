"""Self cost per C function in callgrind dumps, and the difference between two of them.

`callgrind_annotate` reports CPython's recursive frames (`_PyEval_EvalFrameDefault'2`,
`_PyObject_Call'2`) with their callees' cost folded in, so its per-function figures add
up to several times the total. This reads a dump's cost lines itself and keeps, for
each function, only the instructions executed in it (the cost line after a `calls=`
line is the callee's, and is skipped). The sum is the dump's `totals:`, which can exceed
its `summary:` (what `bench.request_instructions` reports) by a few percent.

    python -m bench.callgrind_self DUMP [--per N]                 # one dump, per request
    python -m bench.callgrind_self BASE DUMP --per 200 --by 19    # what 19 more events cost

With two dumps (`bench.request_instructions --keep`, e.g. `--chunks 1` and `--chunks
20`), prints DUMP minus BASE per function, divided by `--per` (the requests counted)
and `--by` (e.g. the events that differ), largest first.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_NAMED = re.compile(r"\((\d+)\)(?: (.*))?")


def self_costs(path: Path) -> Counter[str]:
    """Instructions executed in each function itself, over the whole dump."""
    names: dict[str, str] = {}
    costs: Counter[str] = Counter()
    function: str | None = None
    callee_line = False
    with path.open(errors="replace") as lines:
        for line in lines:
            if line.startswith(("fn=", "cfn=")):
                key, _, value = line.rstrip("\n").partition("=")
                named = _NAMED.fullmatch(value)
                if named is not None:
                    if named.group(2):
                        names[named.group(1)] = named.group(2)
                    value = names.get(named.group(1), named.group(1))
                if key == "fn":
                    function = value
                continue
            if line.startswith("calls="):
                callee_line = True
                continue
            if not line[:1].isdigit() and line[:1] not in ("+", "-", "*"):
                continue
            if callee_line:
                callee_line = False  # the call's inclusive cost, not this function's
                continue
            fields = line.split()
            if function is not None and len(fields) >= 2 and fields[1].isdigit():
                costs[function] += int(fields[1])
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dumps", nargs="+", type=Path, help="DUMP, or BASE DUMP")
    parser.add_argument("--per", type=float, default=1.0, help="divide by (requests)")
    parser.add_argument("--by", type=float, default=1.0, help="and by (e.g. events)")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    if len(args.dumps) > 2:
        parser.error("give one dump, or two to subtract")
    scale = args.per * args.by
    costs = self_costs(args.dumps[-1])
    if len(args.dumps) == 2:
        costs.subtract(self_costs(args.dumps[0]))
    print(f"{sum(costs.values()) / scale:12,.0f}  total")
    for function, cost in costs.most_common(args.top):
        print(f"{cost / scale:12,.0f}  {function[:110]}")


if __name__ == "__main__":
    main()
