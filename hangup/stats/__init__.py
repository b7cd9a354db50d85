"""Statistics: KPIs over incremental rollups (``docs/kpis.md``).

``StatsService`` answers the dashboard's, the API's and the CLI's questions; ``METRICS`` is the KPI
registry (``get_metric`` names the valid ids on a miss); ``attach_rollups`` keeps a store's rollups
current; ``Window``/``parse_window`` describe a range and its call-log filters.
"""

from __future__ import annotations

from hangup.stats.db import StatsDB, attach_rollups
from hangup.stats.metrics import METRICS, Metric, UnknownMetric, compute, get_metric
from hangup.stats.service import StatsService
from hangup.stats.totals import Totals
from hangup.stats.windows import Window, parse_window

__all__ = [
    "METRICS",
    "Metric",
    "StatsDB",
    "StatsService",
    "Totals",
    "UnknownMetric",
    "Window",
    "attach_rollups",
    "compute",
    "get_metric",
    "parse_window",
]
