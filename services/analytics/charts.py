"""Charts as SVG drawn on the server from the numbers of a table: no script, no CDN. Each
chart is an image with a title and a description; the table it is drawn from is on the
page beside it (``analytics_macros.html``), for screen readers and for those who read.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import count

from markupsafe import Markup, escape

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 56
COLOURS = ("#2f6fb0", "#e08a1e", "#3a9a5b", "#b03a48", "#7a58b0")
_ids = count(1)

Series = tuple[str, Sequence[float | int | None]]


def _scale(series: Sequence[Series]) -> float:
    largest = max((v or 0 for _, values in series for v in values), default=0)
    return float(largest) if largest > 0 else 1.0


def _frame(title: str, summary: str, body: list[str], series: Sequence[Series]) -> Markup:
    number = next(_ids)
    legend = "".join(
        f'<g transform="translate({LEFT + 160 * i},{HEIGHT - 14})">'
        f'<rect width="10" height="10" fill="{COLOURS[i % len(COLOURS)]}"/>'
        f'<text x="14" y="9" font-size="11">{escape(name)}</text></g>'
        for i, (name, _) in enumerate(series)
    )
    # Every text in it went through escape(); the rest is numbers and fixed markup.
    return Markup(  # noqa: S704
        f'<svg class="analytics-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="chart-title-{number} chart-desc-{number}" '
        f'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMidYMid meet">'
        f'<title id="chart-title-{number}">{escape(title)}</title>'
        f'<desc id="chart-desc-{number}">{escape(summary)}</desc>'
        f"{''.join(body)}{legend}</svg>"
    )


def _axes(largest: float, labels: Sequence[str], step: float, *, centred: bool) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    parts = [
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" '
        'stroke="currentColor" stroke-opacity="0.5"/>'
    ]
    for fraction in (0, 0.5, 1):
        y = TOP + plot_h * (1 - fraction)
        value = largest * fraction
        shown = f"{value:.0f}" if largest >= 10 else f"{value:.2g}"
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{shown}</text>'
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" '
            'stroke="currentColor" stroke-opacity="0.12"/>'
        )
    every = max(1, len(labels) // 12)
    for index, label in enumerate(labels):
        if index % every:
            continue
        x = LEFT + step * (index + (0.5 if centred else 0))
        text = escape(label if len(label) <= 14 else label[:13] + "…")
        parts.append(
            f'<text x="{x:.1f}" y="{TOP + plot_h + 14}" font-size="10" text-anchor="end" '
            f'transform="rotate(-30 {x:.1f} {TOP + plot_h + 14})">{text}</text>'
        )
    return parts


def bar_chart(title: str, labels: Sequence[str], series: Sequence[Series]) -> Markup:
    """Grouped bars: one group per label, one bar per series."""
    largest = _scale(series)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(labels), 1)
    bar_w = max(step * 0.8 / max(len(series), 1), 1)
    body = _axes(largest, labels, step, centred=True)
    for s, (name, values) in enumerate(series):
        for index, value in enumerate(values):
            height = plot_h * (value or 0) / largest
            x = LEFT + step * index + step * 0.1 + bar_w * s
            shown = value if value is not None else "—"
            body.append(
                f'<rect x="{x:.1f}" y="{TOP + plot_h - height:.1f}" width="{bar_w:.1f}" '
                f'height="{height:.1f}" fill="{COLOURS[s % len(COLOURS)]}">'
                f"<title>{escape(labels[index])}: {escape(name)} {shown}"
                "</title></rect>"
            )
    return _frame(title, _summary(labels, series), body, series)


def line_chart(title: str, labels: Sequence[str], series: Sequence[Series]) -> Markup:
    """One line per series over the labels (days)."""
    largest = _scale(series)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(labels) - 1, 1)
    body = _axes(largest, labels, step, centred=False)
    for s, (_name, values) in enumerate(series):
        points = " ".join(
            f"{LEFT + step * i:.1f},{TOP + plot_h * (1 - (v or 0) / largest):.1f}"
            for i, v in enumerate(values)
            if v is not None
        )
        body.append(
            f'<polyline points="{points}" fill="none" stroke-width="2" '
            f'stroke="{COLOURS[s % len(COLOURS)]}"/>'
        )
    return _frame(title, _summary(labels, series), body, series)


def _summary(labels: Sequence[str], series: Sequence[Series]) -> str:
    """The chart in one sentence: each series' total or range, for a text alternative."""
    if not labels:
        return "No data yet."
    parts = []
    for name, values in series:
        known = [v for v in values if v is not None]
        if known:
            parts.append(f"{name}: from {min(known):g} to {max(known):g}")
    span = f"{labels[0]} to {labels[-1]}" if len(labels) > 1 else labels[0]
    return f"{span}. " + "; ".join(parts) + ". The table below has every value."
