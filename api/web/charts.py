"""Charts as inline SVG for the pages: the reports' charts (`api.reports.charts`), which the
CLI's Danish reports use too, so they live beside them and import nothing of the web."""

from api.reports.charts import KM_BUCKETS, PALETTE, grouped_bars, hbars, km_buckets, lines

__all__ = ["KM_BUCKETS", "PALETTE", "grouped_bars", "hbars", "km_buckets", "lines"]
