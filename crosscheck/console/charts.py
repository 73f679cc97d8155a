"""Bar charts drawn on the server as SVG geometry (the template writes the elements):
no script, no CDN, readable without JavaScript and printable."""

from __future__ import annotations

__all__ = ["CHANGE_COLORS", "GRADE_COLORS", "grouped_change", "stacked_bars"]

GRADE_COLORS = [("红色", "#c0392b"), ("黄色", "#e0a800"), ("绿色", "#2e8b57")]
CHANGE_COLORS = [
    ("新增", "#c0392b", "new"),
    ("升级", "#e67e22", "upgraded"),
    ("降级", "#2980b9", "downgraded"),
    ("退出", "#2e8b57", "cleared"),
]
_LABEL_W, _BAR_W, _ROW_H = 150, 460, 24


def stacked_bars(rows: list[tuple[str, list[int]]], colors) -> dict:
    """One horizontal bar per label, stacked by series; widths scaled to the largest total."""
    top = max((sum(values) for _, values in rows), default=0) or 1
    bars = []
    for i, (label, values) in enumerate(rows):
        x, segments = _LABEL_W, []
        for value, (name, color) in zip(values, colors, strict=True):
            width = round(_BAR_W * int(value) / top, 1)
            if value:
                segments.append(
                    {"x": x, "width": width, "color": color, "name": name, "value": int(value)}
                )
            x += width
        bars.append(
            {
                "label": label,
                "y": 8 + i * _ROW_H,
                "segments": segments,
                "total": sum(values),
                "end": x,
            }
        )
    return {
        "bars": bars,
        "height": 16 + len(rows) * _ROW_H + 24,
        "width": _LABEL_W + _BAR_W + 60,
        "legend": [
            {"name": n, "color": c, "x": _LABEL_W + i * 90} for i, (n, c) in enumerate(colors)
        ],
        "legend_y": 16 + len(rows) * _ROW_H,
    }


def grouped_change(rows: list[dict]) -> dict:
    """The change since the previous run per township, as stacked bars of the four kinds."""
    return stacked_bars(
        [(r["township"], [int(r.get(key, 0)) for _, _, key in CHANGE_COLORS]) for r in rows],
        [(name, color) for name, color, _ in CHANGE_COLORS],
    )
