"""Fit the character-class estimator's weights and error bound against o200k.

    python tools/fit_token_estimator.py            # fit, report, write the weights module
    python tools/fit_token_estimator.py --check    # report only

Reads every `tests/data/token_corpus/<category>__<name>` file, counts each text exactly
with the bundled o200k BPE, and:

1. fits non-negative weights per byte class by least squares on the relative error of
   paragraph-sized segments, each category weighing the same whatever its size;
2. rounds them to integers in 1/SCALE token and polishes the rounding by coordinate
   descent on the same objective;
3. measures the error: per file and per segment in-sample, and held out (each file
   predicted by weights fitted without it);
4. derives the stated bound |exact - estimate| <= R*estimate + S*sqrt(estimate) + A per
   text, with R covering every whole file held out (content-type bias), S the extra
   spread of segments, A that of single lines, each rounded up;
5. writes `switchpoint/tokens/charclass_weights.py` with the weights, the bound and the
   measured figures.
"""

from __future__ import annotations

import hashlib
import math
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from switchpoint.tokens import bpe
from switchpoint.tokens.charclass import CLASSES, class_counts

CORPUS = Path("tests/data/token_corpus")
OUT = Path("switchpoint/tokens/charclass_weights.py")
SCALE = 16
# An emoji's lead byte would otherwise take a weight near 4 tokens from the one emoji-rich
# file; capping it keeps the Adler chunks long (see charclass.py) at little cost.
CAP = {"lead4": 2.5}


@dataclass
class Sample:
    category: str
    file: str
    counts: list[int]
    exact: int


def segments(text: str, min_tokens: int, count: object) -> list[str]:
    """Paragraphs, merged with the next ones until each holds `min_tokens` tokens."""
    out: list[str] = []
    current = ""
    for para in text.split("\n\n"):
        current = f"{current}\n\n{para}" if current else para
        if count(current) >= min_tokens:  # type: ignore[operator]
            out.append(current)
            current = ""
    if current.strip():
        out.append(current)
    return out


def load() -> tuple[list[Sample], list[Sample], list[Sample], str]:
    def count(text: str) -> int:
        return bpe.count("o200k_base", text)

    files, segs, lines = [], [], []
    digest = hashlib.sha256()
    for path in sorted(CORPUS.glob("*__*")):
        text = path.read_text(encoding="utf-8")
        digest.update(path.name.encode() + b"\0" + text.encode())
        category = path.name.split("__")[0]
        vec = lambda t: [class_counts(t)[c] for c in CLASSES]  # noqa: E731
        files.append(Sample(category, path.name, vec(text), count(text)))
        segs.extend(
            Sample(category, path.name, vec(seg), count(seg)) for seg in segments(text, 48, count)
        )
        lines.extend(
            Sample(category, path.name, vec(line), count(line))
            for line in text.splitlines()
            if line.strip()
        )
    return files, segs, lines, digest.hexdigest()[:16]


def solve(rows: list[list[float]], targets: list[float], weights: list[float]) -> list[float]:
    n = len(rows[0])
    m = [
        [sum(w * r[i] * r[j] for r, w in zip(rows, weights, strict=True)) for j in range(n)]
        for i in range(n)
    ]
    v = [
        sum(w * r[i] * y for r, y, w in zip(rows, targets, weights, strict=True)) for i in range(n)
    ]
    for i in range(n):
        m[i][i] += 1e-9
    for i in range(n):
        p = max(range(i, n), key=lambda k: abs(m[k][i]))
        m[i], m[p], v[i], v[p] = m[p], m[i], v[p], v[i]
        for k in range(n):
            if k != i and m[i][i]:
                f = m[k][i] / m[i][i]
                m[k] = [a - f * b for a, b in zip(m[k], m[i], strict=True)]
                v[k] -= f * v[i]
    return [v[i] / m[i][i] if m[i][i] else 0.0 for i in range(n)]


def fit(samples: list[Sample]) -> list[float]:
    """Non-negative, capped least squares on relative error, categories weighing alike."""
    per_category: dict[str, int] = defaultdict(int)
    for s in samples:
        per_category[s.category] += 1
    fixed: dict[int, float] = {}
    while True:
        free = [i for i in range(len(CLASSES)) if i not in fixed]
        rows, targets, weights = [], [], []
        for s in samples:
            rest = s.exact - sum(s.counts[i] * w for i, w in fixed.items())
            rows.append([s.counts[i] / s.exact for i in free])
            targets.append(rest / s.exact)
            weights.append(1.0 / per_category[s.category])
        solved = dict(zip(free, solve(rows, targets, weights), strict=True))
        bad = {i: 0.0 for i, w in solved.items() if w < 0}
        bad |= {
            i: CAP[CLASSES[i]]
            for i, w in solved.items()
            if CLASSES[i] in CAP and w > CAP[CLASSES[i]]
        }
        if not bad:
            return [fixed.get(i, solved.get(i, 0.0)) for i in range(len(CLASSES))]
        fixed |= bad


def predict(weights: list[float], s: Sample) -> float:
    return sum(w * c for w, c in zip(weights, s.counts, strict=True))


def objective(weights: list[float], samples: list[Sample]) -> float:
    per_category: dict[str, int] = defaultdict(int)
    for s in samples:
        per_category[s.category] += 1
    return sum(
        ((predict(weights, s) - s.exact) / s.exact) ** 2 / per_category[s.category] for s in samples
    )


def quantize(weights: list[float], samples: list[Sample]) -> list[int]:
    units = [max(0, round(w * SCALE)) for w in weights]
    caps = [round(CAP.get(c, 8.0) * SCALE) for c in CLASSES]

    def score(u: list[int]) -> float:
        return objective([x / SCALE for x in u], samples)

    best = score(units)
    improved = True
    while improved:
        improved = False
        for i in range(len(units)):
            for step in (-1, 1):
                trial = list(units)
                trial[i] += step
                if 0 <= trial[i] <= caps[i] and (value := score(trial)) < best:
                    units, best, improved = trial, value, True
    return units


def main(check_only: bool) -> None:
    files, segs, lines, corpus_hash = load()
    weights_f = fit(segs)
    units = quantize(weights_f, segs)
    weights = [u / SCALE for u in units]

    # Held out: each file predicted by weights fitted on the other files only.
    held_out: dict[str, list[float]] = {}
    for f in files:
        held_out[f.file] = fit([s for s in segs if s.file != f.file])

    def rel(w: list[float], s: Sample) -> float:
        return (predict(w, s) - s.exact) / s.exact

    print(
        f"corpus {corpus_hash}: {len(files)} files, {sum(f.exact for f in files)} tokens, "
        f"{len(segs)} segments, {len(lines)} lines"
    )
    print("weights (tokens per byte):", dict(zip(CLASSES, weights, strict=True)))
    print(f"\n{'file':42s} {'exact':>7s} {'in-sample':>10s} {'held-out':>9s}")
    by_category: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for f in files:
        a, b = rel(weights, f), rel(held_out[f.file], f)
        by_category[f.category].append((a, b))
        print(f"{f.file:42s} {f.exact:7d} {a:+10.3f} {b:+9.3f}")
    print(
        f"\n{'category':10s} {'files':>5s} {'max |in|':>9s} {'max |held-out|':>15s} "
        f"{'max |segment|':>14s}"
    )
    category_rows = []
    for cat, errs in sorted(by_category.items()):
        seg_max = max(abs(rel(weights, s)) for s in segs if s.category == cat)
        row = (cat, len(errs), max(abs(a) for a, _ in errs), max(abs(b) for _, b in errs), seg_max)
        category_rows.append(row)
        print(f"{cat:10s} {row[1]:5d} {row[2]:9.3f} {row[3]:15.3f} {row[4]:14.3f}")

    # The bound. R: every whole file, held out. S: every segment, in-sample and held out.
    # A: every single line.
    r = math.ceil(max(abs(rel(held_out[f.file], f)) for f in files) * 100 + 1) / 100

    def excess(est: float, exact: int) -> float:
        return abs(exact - est) - r * est

    s_needed = 0.0
    for s in segs:
        for w in (weights, held_out[s.file]):
            est = predict(w, s)
            s_needed = max(s_needed, excess(est, s.exact) / math.sqrt(max(est, 1.0)))
    sq = math.ceil(s_needed * 10 + 1) / 10
    a_needed = 0.0
    for s in lines:
        est = predict(weights, s)
        a_needed = max(a_needed, excess(est, s.exact) - sq * math.sqrt(max(est, 0.0)))
    ab = float(math.ceil(a_needed + 1))
    print(f"\nbound: |exact - est| <= {r} * est + {sq} * sqrt(est) + {ab}")
    if check_only:
        return

    lines_out = [
        '"""Fitted weights of the character-class estimator. Generated by',
        "tools/fit_token_estimator.py; do not edit by hand.",
        "",
        f"Corpus: tests/data/token_corpus (content hash {corpus_hash}), {len(files)} files,",
        f"{sum(f.exact for f in files)} o200k tokens; fitted on {len(segs)} paragraph segments.",
        "",
        "Measured relative error of whole files (in-sample / held out: predicted by weights",
        "fitted without that file), and the worst paragraph segment in-sample, per category:",
        "",
    ]
    for cat, n, a, b, seg_max in category_rows:
        lines_out.append(
            f"    {cat:8s} {n:2d} files  max {a:5.1%} / {b:5.1%}  segment {seg_max:5.1%}"
        )
    lines_out += [
        '"""',
        "",
        f"SCALE = {SCALE}",
        "WEIGHTS: dict[str, int] = {",
        *[f'    "{c}": {u},' for c, u in zip(CLASSES, units, strict=True)],
        "}",
        "# |exact - estimate| <= RELATIVE_ERROR * estimate + SQRT_ERROR * sqrt(estimate)",
        "#                      + ABSOLUTE_ERROR, for every file, segment and line measured.",
        f"RELATIVE_ERROR = {r}",
        f"SQRT_ERROR = {sq}",
        f"ABSOLUTE_ERROR = {ab}",
        "",
    ]
    OUT.write_text("\n".join(lines_out), encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main("--check" in sys.argv)
