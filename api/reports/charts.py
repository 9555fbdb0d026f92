"""Charts as inline SVG: no script, no image request, nothing the pages' CSP must allow.

Each chart is an <svg role="img"> with a <title> and an aria-label, and its figures are
also in a table beside it on the page, so the chart is never the only way to read them.
Colours are presentation attributes (the CSP allows no inline style)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from markupsafe import Markup

__all__ = ["KM_BUCKETS", "PALETTE", "grouped_bars", "hbars", "km_buckets", "lines"]

PALETTE = ("#1f6f8b", "#e07a1f", "#4f9d4a", "#b5405a", "#7a5ea8", "#8c6d31", "#5c5c5c")
KM_BUCKETS = ((0.0, 5.0), (5.0, 10.0), (10.0, 20.0), (20.0, 40.0), (40.0, float("inf")))
Fmt = Callable[[float], str]


def _plain(value: float) -> str:
    return f"{value:g}".replace(".", ",")


def _open(width: int, height: int, title: str) -> str:
    t = escape(title)
    return (
        f'<svg class="chart" role="img" aria-label="{t}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" '
        f'font-family="system-ui, sans-serif" font-size="12"><title>{t}</title>'
    )


def _text(x: float, y: float, text: str, anchor: str = "start", size: int = 12) -> str:
    return (
        f'<text x="{x:.0f}" y="{y:.0f}" text-anchor="{anchor}" font-size="{size}" '
        f'fill="#222">{escape(text)}</text>'
    )


def hbars(items: Sequence[tuple[str, float]], title: str, fmt: Fmt = _plain) -> Markup:
    """One horizontal bar per item, its value written after the bar."""
    row, left, bar_w = 26, 190, 300
    height = 34 + row * max(len(items), 1)
    top = max((v for _, v in items), default=0.0) or 1.0
    parts = [_open(left + bar_w + 110, height, title), _text(0, 16, title, size=13)]
    for n, (label, value) in enumerate(items):
        y = 28 + n * row
        w = max(bar_w * value / top, 0.0)
        parts.append(_text(left - 8, y + 14, label, "end"))
        parts.append(
            f'<rect x="{left}" y="{y + 3}" width="{w:.0f}" height="{row - 8}" '
            f'fill="{PALETTE[n % len(PALETTE)]}"><title>{escape(label)}: '
            f"{escape(fmt(value))}</title></rect>"
        )
        parts.append(_text(left + w + 6, y + 14, fmt(value)))
    if not items:
        parts.append(_text(left, 44, "Ingen tal at vise."))
    parts.append("</svg>")
    return Markup("".join(parts))


def _legend(names: Sequence[str], x: float, y: float) -> list[str]:
    out = []
    for n, name in enumerate(names):
        yy = y + n * 18
        out.append(
            f'<rect x="{x:.0f}" y="{yy - 10:.0f}" width="12" height="12" '
            f'fill="{PALETTE[n % len(PALETTE)]}"/>'
        )
        out.append(_text(x + 18, yy, name))
    return out


def grouped_bars(
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    title: str,
    fmt: Fmt = _plain,
) -> Markup:
    """Vertical bars: a group per category, a bar per series, with a legend."""
    plot_h, base_y, left = 180, 210, 56
    longest = max((len(c) for c in categories), default=0)
    group_w = max(min(7 * longest + 12, 130), 22 * len(series) + 20, 44)
    legend_w = 40 + 7 * max((len(name) for name, _ in series), default=0)
    width = left + group_w * max(len(categories), 1) + legend_w
    height = base_y + 52
    top = max((v for _, values in series for v in values), default=0.0) or 1.0
    parts = [_open(width, height, title), _text(0, 16, title, size=13)]
    parts.append(
        f'<line x1="{left}" y1="{base_y}" x2="{left + group_w * len(categories)}" '
        f'y2="{base_y}" stroke="#888"/>'
    )
    parts.append(_text(left - 6, base_y - plot_h + 4, fmt(top), "end", 11))
    parts.append(_text(left - 6, base_y, fmt(0), "end", 11))
    bar_w = (group_w - 16) / max(len(series), 1)
    for c, category in enumerate(categories):
        x0 = left + c * group_w + 8
        for s, (name, values) in enumerate(series):
            value = values[c] if c < len(values) else 0.0
            h = plot_h * value / top
            x = x0 + s * bar_w
            parts.append(
                f'<rect x="{x:.0f}" y="{base_y - h:.0f}" width="{bar_w - 2:.0f}" '
                f'height="{h:.0f}" fill="{PALETTE[s % len(PALETTE)]}"><title>'
                f"{escape(name)}, {escape(category)}: {escape(fmt(value))}</title></rect>"
            )
        short = category if len(category) <= 18 else category[:17] + "…"
        parts.append(
            f"<g><title>{escape(category)}</title>"
            + _text(x0 + (group_w - 16) / 2, base_y + 16, short, "middle", 11)
            + "</g>"
        )
    parts += _legend([name for name, _ in series], left + group_w * len(categories) + 16, 40)
    parts.append("</svg>")
    return Markup("".join(parts))


def lines(
    x_labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    title: str,
    fmt: Fmt = _plain,
    budget: float | None = None,
    budget_label: str = "Budget",
) -> Markup:
    """A line per series over the x labels (months); an optional dashed budget (or target)
    line."""
    plot_w, plot_h, left, top_y = 420, 170, 80, 30
    legend_w = 40 + 7 * max((len(name) for name, _ in series), default=10)
    width, height = left + plot_w + max(legend_w, 200), top_y + plot_h + 40
    values = [v for _, vs in series for v in vs if v is not None]
    if budget is not None:
        values.append(budget)
    hi = max(values, default=0.0) or 1.0
    n = max(len(x_labels), 2)

    def xy(k: int, v: float) -> tuple[float, float]:
        return left + plot_w * k / (n - 1), top_y + plot_h * (1 - v / hi)

    parts = [_open(width, height, title), _text(0, 16, title, size=13)]
    parts.append(
        f'<line x1="{left}" y1="{top_y + plot_h}" x2="{left + plot_w}" y2="{top_y + plot_h}" '
        'stroke="#888"/>'
    )
    parts.append(_text(left - 6, top_y + 4, fmt(hi), "end", 11))
    parts.append(_text(left - 6, top_y + plot_h, fmt(0), "end", 11))
    step = max(1, -(-len(x_labels) * 52 // plot_w))  # labels ~52 px wide must not overlap
    for k, label in enumerate(x_labels):
        if k % step == 0 or (k == len(x_labels) - 1 and k % step > step // 2):
            x, _ = xy(k, 0)
            parts.append(_text(x, top_y + plot_h + 16, label, "middle", 11))
    for s, (_name, vs) in enumerate(series):
        points = [xy(k, v) for k, v in enumerate(vs) if v is not None]
        colour = PALETTE[s % len(PALETTE)]
        if points:
            path = " ".join(f"{x:.0f},{y:.0f}" for x, y in points)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
            parts += [
                f'<circle cx="{x:.0f}" cy="{y:.0f}" r="3" fill="{colour}"/>' for x, y in points
            ]
    names = [name for name, _ in series]
    if budget is not None:
        _, y = xy(0, budget)
        parts.append(
            f'<line x1="{left}" y1="{y:.0f}" x2="{left + plot_w}" y2="{y:.0f}" '
            f'stroke="#a00" stroke-dasharray="6 4"><title>{escape(budget_label)}: '
            f"{escape(fmt(budget))}</title></line>"
        )
    parts += _legend(names, left + plot_w + 16, 40)
    if budget is not None:
        y = 40 + len(names) * 18
        parts.append(
            f'<line x1="{left + plot_w + 16}" y1="{y - 4}" x2="{left + plot_w + 28}" '
            f'y2="{y - 4}" stroke="#a00" stroke-width="2" stroke-dasharray="4 2"/>'
        )
        parts.append(_text(left + plot_w + 34, y, f"{budget_label} ({fmt(budget)})"))
    parts.append("</svg>")
    return Markup("".join(parts))


def km_buckets(values: Sequence[float]) -> list[int]:
    """How many distances fall in each of KM_BUCKETS."""
    counts = [0] * len(KM_BUCKETS)
    for v in values:
        for k, (lo, hi) in enumerate(KM_BUCKETS):
            if lo <= v < hi:
                counts[k] += 1
                break
    return counts
