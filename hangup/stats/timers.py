"""Timer signatures: answered calls whose durations pile up on one value, and the timer that cuts them there.

A timer or a limit ends calls at a fixed time after answer (32 s when an ACK never arrives, a session timer's
interval, a maximum duration), so their durations form a spike that ordinary talk times do not. For each
platform (and route, when calls carry one) the durations of answered calls in the window are counted per
second, and every second ``c`` from ``MIN_SECONDS`` on is tested:

* ``observed`` = calls lasting ``c - 1``, ``c`` or ``c + 1`` s (platforms round durations either way);
* ``expected`` = the smooth density around it: a quadratic fitted to the counts of the ``W`` seconds on
  each side, ``W = max(10, c/10)`` (``background``), summed over the three seconds;
* the spike is a cluster when ``observed - expected >= MIN_COUNT`` calls, ``observed >= MIN_RATIO ×
  expected``, and the Poisson probability of seeing ``observed`` or more is below ``ALPHA`` divided by the
  number of seconds tested (Bonferroni: over clean traffic the chance of any false cluster stays under
  ``ALPHA``) — with the expectation taken at the top of its own ~95 % interval (it is estimated from
  ``2·W`` seconds of counts, whose Poisson noise the test must not mistake for a spike).

Neighbouring significant seconds are one cluster (the most populated second names it). A cluster within
1 s of a value of ``timers.csv`` names that timer; otherwise it is reported as an unnamed fixed limit.
``docs/kpis.md`` ("Timer signatures") describes the criterion and its limits.
"""

from __future__ import annotations

import csv
import functools
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import urlencode

from hangup.bounds import MAX_TIME
from hangup.records import CallRecord
from hangup.stats.db import StatsDB
from hangup.store.schema import CALL_COLUMNS
from hangup.store.sql import ended_at

MIN_SECONDS = 10
MIN_COUNT = 20
MIN_RATIO = 1.2
ALPHA = 1e-3
#: Fields calls are grouped by before their durations are tested (``route`` when the calls table has it).
GROUP_FIELDS: tuple[str, ...] = tuple(f for f in ("provider", "route") if f in CALL_COLUMNS)


@dataclass(frozen=True, slots=True)
class Timer:
    """A duration a known timer or limit cuts calls at (a row of ``timers.csv``)."""

    seconds: int
    name: str
    source: str


@functools.cache
def known_timers() -> tuple[Timer, ...]:
    text = resources.files("hangup.stats").joinpath("timers.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(line for line in text.splitlines() if line.strip() and not line.startswith("#"))
    return tuple(Timer(int(r["seconds"]), r["name"], r["source"]) for r in rows)


def suspect(seconds: int) -> Timer | None:
    """The known timer within 1 s of ``seconds``, if any."""
    return next((t for t in known_timers() if abs(t.seconds - seconds) <= 1), None)


@dataclass(frozen=True, slots=True)
class Spike:
    """Durations piling up at ``seconds`` (± 1 s)."""

    seconds: int
    observed: int
    expected: float
    p_value: float


def poisson_tail(k: int, mean: float) -> float:
    """P(X >= k) for X ~ Poisson(mean), summed in log space (no overflow for large k)."""
    if k <= 0:
        return 1.0
    mean = max(mean, 1e-9)
    log_pmf = k * math.log(mean) - mean - math.lgamma(k + 1)
    total, term, i = 0.0, log_pmf, k
    while True:
        total += math.exp(term)
        i += 1
        term += math.log(mean) - math.log(i)
        if term < log_pmf - 40 or i > k + 100_000:
            return min(1.0, total)


def _solve3(m: list[list[float]], v: list[float]) -> list[float] | None:
    """``m⁻¹ v`` for a 3×3 system (Gaussian elimination with pivoting); ``None`` when singular."""
    a = [row[:] + [x] for row, x in zip(m, v, strict=True)]
    for i in range(3):
        pivot = max(range(i, 3), key=lambda r: abs(a[r][i]))
        if abs(a[pivot][i]) < 1e-12:
            return None
        a[i], a[pivot] = a[pivot], a[i]
        for r in range(3):
            if r != i:
                f = a[r][i] / a[i][i]
                a[r] = [x - f * y for x, y in zip(a[r], a[i], strict=True)]
    return [a[i][3] / a[i][i] for i in range(3)]


def background(counts: Mapping[int, int], c: int) -> tuple[float, float]:
    """Expected calls at ``c - 1 … c + 1`` from the smooth density around them, and that estimate's variance.

    A quadratic ``y = a + b·x + d·x²`` (``x`` = seconds from ``c``) is fitted by least squares to the counts of
    the ``W`` seconds on each side of the narrow window, ``W = max(10, c/10)``; the quadratic follows the
    slope and the bend of a smooth density (the peak of a lognormal, the falling tail of an exponential), so a
    bend is not taken for a spike. Expected = ``3a + 2d`` (the sum of the fit at -1, 0 and 1); its variance is
    the Poisson noise of the fitted counts carried through the fit.
    """
    w = max(10, c // 10)
    xs = [x for x in range(-1 - w, w + 2) if abs(x) > 1 and c + x >= 1]
    sums = [sum(x ** k for x in xs) for k in range(5)]
    m = [[sums[i + j] for j in range(3)] for i in range(3)]
    ys = [counts.get(c + x, 0) for x in xs]
    fit = _solve3(m, [sum(y * x ** k for x, y in zip(xs, ys, strict=True)) for k in range(3)])
    weights = _solve3(m, [3.0, 0.0, 2.0])
    if fit is None or weights is None:
        return 0.0, 0.0
    expected = 3 * fit[0] + 2 * fit[2]
    density = max(sum(ys) / len(xs), 1e-9)
    variance = density * (3 * weights[0] + 2 * weights[2])
    return max(expected, 0.0), max(variance, 0.0)


def spikes(counts: Mapping[int, int], alpha: float = ALPHA) -> list[Spike]:
    """The clusters of a duration histogram (``{seconds: calls}``), per the module's criterion."""
    if not counts:
        return []
    top = max(counts)
    tested = range(MIN_SECONDS, top + 1)
    threshold = alpha / max(1, len(tested))
    found: list[Spike] = []
    for c in tested:
        observed = counts.get(c - 1, 0) + counts.get(c, 0) + counts.get(c + 1, 0)
        if observed < MIN_COUNT:
            continue
        expected, variance = background(counts, c)
        if observed < MIN_RATIO * expected or observed - expected < MIN_COUNT:
            continue
        # the expectation is itself estimated from 2·W seconds: test against the top of its ~95 % interval
        p = poisson_tail(observed, max(expected + 2 * math.sqrt(variance), 0.5))
        if p < threshold:
            found.append(Spike(c, observed, expected, p))
    return _merged(found, counts)


def _merged(found: Sequence[Spike], counts: Mapping[int, int]) -> list[Spike]:
    """Neighbouring significant seconds as one cluster, named by its most populated second."""
    clusters: list[list[Spike]] = []
    for spike in found:
        if clusters and spike.seconds - clusters[-1][-1].seconds <= 2:
            clusters[-1].append(spike)
        else:
            clusters.append([spike])
    return [max(group, key=lambda s: (counts.get(s.seconds, 0), s.observed)) for group in clusters]


def histograms(db: StatsDB, start: int, end: int, where: Mapping[str, str] | None = None
               ) -> dict[tuple[str, ...], dict[int, int]]:
    """``{group values: {seconds: answered calls}}`` of the calls that ended in ``[start, end)``."""
    group = ", ".join(GROUP_FIELDS)
    narrowed = {k: v for k, v in (where or {}).items() if k in GROUP_FIELDS}
    filters = "".join(f" AND {name} = ?" for name in narrowed)
    params: list[Any] = [start, end, MIN_SECONDS - 1, *narrowed.values()]
    rows = db.read(f"SELECT {group}, duration, COUNT(*) FROM calls WHERE ended_at >= ? AND ended_at < ? "
                   f"AND answered = 1 AND duration >= ?{filters} GROUP BY {group}, duration", params)
    found: defaultdict[tuple[str, ...], dict[int, int]] = defaultdict(dict)
    for row in rows:
        found[tuple(str(v) for v in row[: len(GROUP_FIELDS)])][int(row[-2])] = int(row[-1])
    return dict(found)


def insights(db: StatsDB, start: int, end: int, where: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Every cluster of every group in ``[start, end)``, with the timer suspected and the calls behind it."""
    clusters = []
    for key, counts in sorted(histograms(db, start, end, where).items()):
        group = dict(zip(GROUP_FIELDS, key, strict=True))
        for spike in spikes(counts):
            clusters.append(_cluster(group, spike, counts, start, end))
    clusters.sort(key=lambda c: (c["p_value"], -c["calls"]))
    return {"from": start, "to": end, "groups": list(GROUP_FIELDS), "clusters": clusters,
            "criterion": {"min_count": MIN_COUNT, "min_ratio": MIN_RATIO, "alpha": ALPHA,
                          "min_seconds": MIN_SECONDS}}


def _cluster(group: Mapping[str, str], spike: Spike, counts: Mapping[int, int], start: int, end: int
             ) -> dict[str, Any]:
    timer = suspect(spike.seconds)
    answered = sum(counts.values())
    link = {"since": start, "until": end, "min_duration": spike.seconds - 1, "max_duration": spike.seconds + 1,
            **{k: v for k, v in group.items() if k == "provider"}}
    return {
        **group, "seconds": spike.seconds, "calls": spike.observed, "expected": round(spike.expected, 2),
        "share": spike.observed / answered if answered else None, "p_value": spike.p_value,
        "timer": timer.name if timer else None, "source": timer.source if timer else None,
        "link": "/calls?" + urlencode(link),
    }


#: (database, group, window end) -> (clusters, histogram): call pages of one hour share one count.
_ANNOTATIONS: dict[tuple[int, tuple[str, ...], int], tuple[list[Spike], dict[int, int]]] = {}
_CACHED = 512


def annotation(db: StatsDB, group: Mapping[str, str], duration: int, end: int, span: int = 7 * 86400
               ) -> dict[str, Any] | None:
    """The cluster a call of ``group`` lasting ``duration`` s, ended at ``end``, falls in, counted over the
    ``span`` before the end of that hour; ``None`` when its duration is ordinary there."""
    if duration < MIN_SECONDS - 1 or not 0 < end <= MAX_TIME:  # a time stored before times were bounded
        return None
    stop = end - end % 3600 + 3600
    key = tuple(group.get(f, "") for f in GROUP_FIELDS)
    cached = _ANNOTATIONS.get((id(db), key, stop))
    if cached is None:
        counts = histograms(db, stop - span, stop, group).get(key, {})
        cached = (spikes(counts), counts)
        if len(_ANNOTATIONS) >= _CACHED:
            _ANNOTATIONS.clear()
        _ANNOTATIONS[(id(db), key, stop)] = cached
    for spike in cached[0]:
        if abs(spike.seconds - duration) <= 1:
            return _cluster(dict(zip(GROUP_FIELDS, key, strict=True)), spike, cached[1], stop - span, stop)
    return None


def call_annotation(db: StatsDB, record: CallRecord) -> dict[str, Any] | None:
    """``annotation`` of one stored call (answered calls only)."""
    if not record.answered:
        return None
    group = {f: str(getattr(record, f, "")) for f in GROUP_FIELDS}
    return annotation(db, group, record.duration, ended_at(record))
