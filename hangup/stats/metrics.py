"""The KPI registry: short ids mapped to small functions of ``Totals``.

Definitions and sources are in ``docs/kpis.md`` (ITU-T E.411 / E.425 for ASR and NER; GSMA IR.42
and RFC 6076 for post-dial delay, of which time-to-answer is the part a call-end record can
measure). Every function has one signature, ``(totals, min_samples) -> float | None``: a rate or
mean whose denominator is below ``min_samples`` is ``None`` ("N/A"), never a misleading number.
Counts are always numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from hangup.errors import PayloadError
from hangup.stats.totals import FAULT_DOMAINS, Totals

MetricFn = Callable[[Totals, int], float | None]
Unit = Literal["calls", "ratio", "seconds", "minutes"]

#: Below this many calls in the denominator a rate is N/A unless the caller says otherwise.
DEFAULT_MIN_SAMPLES = 10


@dataclass(frozen=True, slots=True)
class Metric:
    """One KPI: its id, a label for people, its unit and the function computing it."""

    id: str
    label: str
    unit: Unit
    fn: MetricFn
    higher_is_better: bool | None = None  # None: neither (a count)

    def __call__(self, totals: Totals, min_samples: int = DEFAULT_MIN_SAMPLES) -> float | None:
        return self.fn(totals, min_samples)


class UnknownMetric(PayloadError):
    """A metric id hangup does not define; the message lists the valid ones."""

    error_id = "unknown_metric"


def ratio(numerator: int, denominator: int, min_samples: int) -> float | None:
    if denominator <= 0 or denominator < min_samples:
        return None
    return numerator / denominator


def _count(name: str) -> MetricFn:
    return lambda t, _min: int(getattr(t, name))  # counts stay integers in JSON


def _share(name: str) -> MetricFn:
    return lambda t, m: ratio(getattr(t, name), t.attempts, m)


def _failure_rate(domain: str) -> MetricFn:
    return lambda t, m: ratio(t.failed_in(domain), t.attempts, m)


def _acd(t: Totals, m: int) -> float | None:
    return ratio(t.duration_sum, t.answered, m)


def _tta(t: Totals, m: int) -> float | None:
    return ratio(t.tta_sum, t.tta_count, m)


def _minutes(t: Totals, _m: int) -> float:
    return t.duration_sum / 60


_METRICS: tuple[Metric, ...] = (
    Metric("attempts", "Attempts", "calls", _count("attempts")),
    Metric("answered", "Answered", "calls", _count("answered")),
    Metric("failed", "Failed", "calls", _count("failed")),
    Metric("asr", "ASR", "ratio", _share("answered"), True),
    Metric("ner", "NER", "ratio", _share("ner_ok"), True),
    Metric("acd", "ACD", "seconds", _acd, True),
    Metric("minutes", "Total minutes", "minutes", _minutes),
    Metric("tta", "Time to answer", "seconds", _tta, False),
    Metric("abandonment", "Abandonment rate", "ratio", _share("abandoned"), False),
    Metric("human_reach", "Human-reach rate", "ratio", _share("answered_human"), True),
    Metric("normal_ratio", "Normal-end ratio", "ratio", _share("normal"), True),
    Metric("failure_rate", "Failure rate", "ratio", _share("failed"), False),
    *(
        Metric(f"failure_rate.{d}", f"Failure rate, {d.replace('_', ' ')}", "ratio", _failure_rate(d), False)
        for d in FAULT_DOMAINS
    ),
)

#: ``{"asr": Metric, ...}``: every KPI hangup computes, in display order.
METRICS: dict[str, Metric] = {m.id: m for m in _METRICS}
#: Alternative spellings accepted on input.
ALIASES = {"pdd": "tta", "calls": "attempts", "abandoned_rate": "abandonment"}
#: Every name ``get_metric`` takes: the metrics' ids and their aliases.
METRIC_IDS: tuple[str, ...] = (*METRICS, *ALIASES)

#: The KPI tiles of the overview, in order.
SUMMARY_METRICS = ("attempts", "answered", "asr", "human_reach", "ner", "acd", "minutes", "tta", "abandonment",
                   "normal_ratio")


def get_metric(metric_id: str) -> Metric:
    """The metric for ``metric_id`` (or an alias); ``UnknownMetric`` names the valid ids."""
    key = ALIASES.get(metric_id, metric_id)
    try:
        return METRICS[key]
    except KeyError:
        valid = ", ".join(METRICS)
        raise UnknownMetric(
            f"unknown metric {metric_id!r}; valid metrics: {valid}",
            [{"field": "metric", "error": f"must be one of: {valid}"}],
        ) from None


def compute(
    totals: Totals, metric_ids: Iterable[str], min_samples: int = DEFAULT_MIN_SAMPLES
) -> dict[str, float | None]:
    """``{id: value}`` for each requested metric; ``None`` where the sample is too small."""
    metrics = [get_metric(m) for m in metric_ids]
    return {m.id: m(totals, min_samples) for m in metrics}
