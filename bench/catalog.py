"""How fast is ``CauseCatalog.resolve``? Prints lookups per second against a plain dict baseline measured in this run.

Target: ``resolve`` of known references at 200,000 lookups/s or more. Each measurement runs for about half a second,
so the whole script takes a few seconds. Usage: ``python bench/catalog.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from hangup.causes import default_catalog

TARGET = 200_000
SECONDS = 0.5


def rate(func: Callable[[str], object], refs: list[str]) -> float:
    """Lookups per second of ``func`` over ``refs``, repeated for about ``SECONDS``."""
    done = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < SECONDS:
        for ref in refs:
            func(ref)
        done += len(refs)
    return done / elapsed


def main() -> None:
    catalog = default_catalog()
    known = [e.ref for e in catalog.entries()]
    by_name = [f"{e.scheme}:{e.name.lower()}" for e in catalog.entries()]
    unknown = [f"q850:{n}" for n in range(200, 400)]
    baseline_map = {ref: catalog.resolve(ref) for ref in known}
    baseline = rate(baseline_map.__getitem__, known)
    rows = [
        ("dict lookup (baseline)", baseline),
        ("resolve, known codes/names", rate(catalog.resolve, known)),
        ("resolve, lower-case names", rate(catalog.resolve, by_name)),
        ("resolve, unknown codes", rate(catalog.resolve, unknown)),
        ("lookup(scheme, key)", rate(lambda ref: catalog.lookup(*ref.split(":", 1)), known)),
    ]
    print(f"{len(known)} entries in {len(catalog.schemes)} schemes")
    print(f"{'measurement':32} {'lookups/s':>14} {'vs baseline':>12}")
    for label, value in rows:
        print(f"{label:32} {value:14,.0f} {value / baseline:11.2f}x")
    known_rate = rows[1][1]
    verdict = "meets" if known_rate >= TARGET else "MISSES"
    print(f"resolve {verdict} the {TARGET:,}/s target ({known_rate / TARGET:.1f}x)")


if __name__ == "__main__":
    main()
