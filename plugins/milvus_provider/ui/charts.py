"""Small server-side SVG line charts (no script, no library): one series over time."""

from __future__ import annotations

from datetime import datetime
from html import escape

WIDTH, HEIGHT = 360, 150
PAD_L, PAD_R, PAD_T, PAD_B = 52, 12, 22, 26


def _fmt(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if value == int(value):
        return f"{int(value)}"
    return f"{value:.3g}"


def line_chart(title: str, points: list[tuple[datetime, float]]) -> str:
    """An SVG chart of ``points`` (time, value), oldest on the left; a point per run."""
    points = sorted(points)
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" aria-label="{escape(title)}">'
        f'<text x="{PAD_L}" y="14" class="chart-title">{escape(title)}</text>'
    )
    if not points:
        return head + f'<text x="{PAD_L}" y="{HEIGHT / 2}">no data</text></svg>'
    values = [v for _, v in points]
    low, high = min(values), max(values)
    if high == low:  # a flat line: a band around it, never below 0 for a non-negative figure
        pad = abs(high) * 0.1 or 1.0
        low, high = (max(low - pad, 0.0) if low >= 0 else low - pad), high + pad
    inner_w, inner_h = WIDTH - PAD_L - PAD_R, HEIGHT - PAD_T - PAD_B

    def xy(i: int, value: float) -> tuple[float, float]:
        x = PAD_L + (inner_w * i / (len(points) - 1) if len(points) > 1 else inner_w / 2)
        y = PAD_T + inner_h * (1 - (value - low) / (high - low))
        return round(x, 1), round(y, 1)

    coords = [xy(i, v) for i, (_, v) in enumerate(points)]
    path = " ".join(f"{x},{y}" for x, y in coords)
    dots = "".join(
        f'<circle cx="{x}" cy="{y}" r="3"><title>{escape(t.strftime("%Y-%m-%d %H:%M"))}: {escape(_fmt(v))}</title>'
        f"</circle>"
        for (x, y), (t, v) in zip(coords, points, strict=True)
    )
    axis = (
        f'<line x1="{PAD_L}" y1="{PAD_T}" x2="{PAD_L}" y2="{HEIGHT - PAD_B}" class="axis"/>'
        f'<line x1="{PAD_L}" y1="{HEIGHT - PAD_B}" x2="{WIDTH - PAD_R}" y2="{HEIGHT - PAD_B}" class="axis"/>'
        f'<text x="{PAD_L - 4}" y="{PAD_T + 4}" text-anchor="end">{escape(_fmt(high))}</text>'
        f'<text x="{PAD_L - 4}" y="{HEIGHT - PAD_B}" text-anchor="end">{escape(_fmt(low))}</text>'
        f'<text x="{PAD_L}" y="{HEIGHT - 8}">{escape(points[0][0].strftime("%m-%d %H:%M"))}</text>'
        f'<text x="{WIDTH - PAD_R}" y="{HEIGHT - 8}" text-anchor="end">'
        f"{escape(points[-1][0].strftime('%m-%d %H:%M'))}</text>"
    )
    return head + axis + f'<polyline points="{path}" class="line"/>' + dots + "</svg>"
