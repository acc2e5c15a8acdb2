"""The analytics as CSV, one table at a time (``?format=csv&table=...``)."""

from __future__ import annotations

import csv
import io
from typing import Any

from server.reports.analytics import Analytics, TimeSaved

TABLES = ("funnel", "pipeline", "time", "satisfaction", "agreement", "fairness")


def csv_table(data: Analytics, table: str) -> str:
    """One table of the analytics as CSV (one of ``TABLES``)."""
    out = io.StringIO()
    writer = csv.writer(out)
    for row in _rows(data, table):
        writer.writerow(["" if v is None else v for v in row])
    return out.getvalue()


def _rows(data: Analytics, table: str) -> list[list[Any]]:
    if table == "funnel":
        return [["stage", "count", "conversion"]] + [
            [s.stage, s.count, s.conversion] for s in data.funnel
        ]
    if table == "pipeline":
        return [["stage", "applications", "conversion"]] + [
            [s.stage, s.count, s.conversion] for s in data.pipeline
        ]
    if table == "time":
        fields = list(TimeSaved.model_fields)
        return [["measure", "value"]] + [[f, getattr(data.time_saved, f)] for f in fields]
    if table == "satisfaction":
        head = ["job_id", "title", "responses", "mean", *(f"rated_{k}" for k in range(1, 6))]
        rows = [(j.job_id, j.title, j.satisfaction) for j in data.satisfaction.by_job]
        rows.append(("all", "", data.satisfaction.overall))
        return [head] + [
            [j, t, x.responses, x.mean, *(x.distribution[str(k)] for k in range(1, 6))]
            for j, t, x in rows
        ]
    if table == "agreement":
        head = ["scorer_version", "competency_id", "n", "pearson", "pearson_low",
                "pearson_high", "spearman", "spearman_low", "spearman_high",
                "mean_abs_difference"]
        return [head] + [
            [a.scorer_version, a.competency_id, a.agreement.n, a.agreement.pearson.value,
             a.agreement.pearson.low, a.agreement.pearson.high, a.agreement.spearman.value,
             a.agreement.spearman.low, a.agreement.spearman.high,
             a.agreement.mean_abs_difference]
            for a in data.agreement
        ]
    if table == "fairness":
        head = ["attribute", "group", "suppressed", "n", "compared", "recommended", "rate",
                "impact_ratio", "flagged", "asr_confidence", "set_aside_share",
                "off_topic_share"]
        return [head] + [
            [a.attribute, g.group, g.suppressed, g.n, g.compared, g.recommended, g.rate,
             g.impact_ratio, g.flagged, g.asr_confidence, g.set_aside_share, g.off_topic_share]
            for a in data.fairness.attributes
            for g in a.groups
        ]
    raise ValueError(table)
