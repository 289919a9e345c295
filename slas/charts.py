"""Inline SVG charts for the SLA audit: pure functions from numbers to markup.

Every element is built with ``format_html`` (text escaped) and styled only through classes —
``.bar``, ``.series-*``, ``.axis`` and ``.grid-line`` from app.css inside a ``.bar-chart``
figure, ``.line``, ``.dot`` and ``.target`` from audit.css — because the Content Security
Policy forbids ``style`` attributes. The SVG scales to its container through its viewBox.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from math import floor, log10

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH, HEIGHT = 400, 240
LEFT, RIGHT, TOP, BOTTOM = 40, 8, 18, 36
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM


def _n(value: float) -> str:
    """A coordinate or a value as SVG text: no locale, at most one decimal."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def nice_ceiling(value: float) -> float:
    """The axis top: the smallest of 1, 2, 2.5 or 5 times a power of ten not below ``value``."""
    if value <= 0:
        return 1
    magnitude = 10 ** floor(log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude  # pragma: no cover (the loop always returns)


@dataclass(frozen=True)
class _Frame:
    top: float  # the value at the top of the plot
    count: int  # how many x bands

    def y(self, value: float) -> float:
        return TOP + PLOT_H * (1 - min(max(value, 0), self.top) / self.top)

    @property
    def band(self) -> float:
        return PLOT_W / max(self.count, 1)

    def x(self, index: int) -> float:
        """The centre of band ``index``."""
        return LEFT + self.band * (index + 0.5)


def _join(parts) -> SafeString:
    return format_html_join("", "{}", ((part,) for part in parts))


def _axes(frame: _Frame, labels: Sequence[str], unit: str) -> list[SafeString]:
    parts = []
    for tick in (0, frame.top / 2, frame.top):
        y = _n(frame.y(tick))
        parts.append(
            format_html(
                '<line class="grid-line" x1="{}" y1="{}" x2="{}" y2="{}"></line>'
                '<text x="{}" y="{}" text-anchor="end">{}{}</text>',
                LEFT,
                y,
                WIDTH - RIGHT,
                y,
                LEFT - 6,
                _n(frame.y(tick) + 4),
                _n(tick),
                unit,
            )
        )
    parts.append(
        format_html(
            '<line class="axis" x1="{}" y1="{}" x2="{}" y2="{}"></line>',
            LEFT,
            TOP + PLOT_H,
            WIDTH - RIGHT,
            TOP + PLOT_H,
        )
    )
    # "Dec 2025" is drawn as "Dec" with the year beneath it where the year changes.
    year = None
    for index, label in enumerate(labels):
        head, _, tail = label.partition(" ")
        parts.append(
            format_html(
                '<text class="label" x="{}" y="{}" text-anchor="middle">{}</text>',
                _n(frame.x(index)),
                HEIGHT - BOTTOM + 15,
                head,
            )
        )
        if tail and tail != year:
            parts.append(
                format_html(
                    '<text x="{}" y="{}" text-anchor="middle">{}</text>',
                    _n(frame.x(index)),
                    HEIGHT - BOTTOM + 29,
                    tail,
                )
            )
        year = tail
    return parts


def _svg(chart_id: str, title: str, description: str, parts: list[SafeString]) -> SafeString:
    return format_html(
        '<svg class="audit-chart" viewBox="0 0 {} {}" role="img" '
        'aria-labelledby="{}-title {}-desc" xmlns="http://www.w3.org/2000/svg">'
        '<title id="{}-title">{}</title><desc id="{}-desc">{}</desc>{}</svg>',
        WIDTH,
        HEIGHT,
        chart_id,
        chart_id,
        chart_id,
        title,
        chart_id,
        description,
        _join(parts),
    )


def _shown(value: float | None, unit: str) -> str:
    return "no data" if value is None else f"{_n(value)}{unit}"


def bar_chart(
    *,
    chart_id: str,
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    targets: Sequence[float | None] | None = None,
    unit: str = "",
    bar_class: str = "bar",
) -> SafeString:
    """One bar per label, its value above it; a dashed ``.target`` mark across a bar whose
    target is known (e.g. MQLs delivered against the month's target)."""
    targets = list(targets) if targets is not None else [None] * len(values)
    top = nice_ceiling(max([*values, *(t for t in targets if t is not None)], default=0))
    frame = _Frame(top=top, count=len(labels))
    width = frame.band * 0.56
    parts = _axes(frame, labels, unit)
    for index, (label, value, target) in enumerate(zip(labels, values, targets, strict=True)):
        x, y = frame.x(index) - width / 2, frame.y(value)
        parts.append(
            format_html(
                '<rect class="{}" x="{}" y="{}" width="{}" height="{}" rx="2">'
                "<title>{}: {}{}</title></rect>"
                '<text class="value" x="{}" y="{}" text-anchor="middle">{}</text>',
                bar_class,
                _n(x),
                _n(y),
                _n(width),
                _n(TOP + PLOT_H - y),
                label,
                _shown(value, unit),
                "" if target is None else f" (target {_n(target)}{unit})",
                _n(frame.x(index)),
                _n(y - 5),
                _n(value),
            )
        )
        if target is not None:
            ty = _n(frame.y(target))
            parts.append(
                format_html(
                    '<line class="target" x1="{}" y1="{}" x2="{}" y2="{}">'
                    "<title>{}: target {}{}</title></line>",
                    _n(x - 6),
                    ty,
                    _n(x + width + 6),
                    ty,
                    label,
                    _n(target),
                    unit,
                )
            )
    description = "; ".join(
        f"{label}: {_shown(value, unit)}" + ("" if t is None else f" of {_n(t)}{unit} target")
        for label, value, t in zip(labels, values, targets, strict=True)
    )
    return _svg(chart_id, title, description, parts)


def line_chart(
    *,
    chart_id: str,
    title: str,
    labels: Sequence[str],
    values: Sequence[float | None],
    top: float = 100,
    unit: str = "%",
    reference: float | None = None,
    reference_label: str = "",
) -> SafeString:
    """A line through the known values (a month without data breaks the line), a dot and
    its value per month, and an optional dashed horizontal ``reference`` (a target)."""
    frame = _Frame(top=top, count=len(labels))
    parts = _axes(frame, labels, unit)
    if reference is not None:
        ry = _n(frame.y(reference))
        parts.append(
            format_html(
                '<line class="target" x1="{}" y1="{}" x2="{}" y2="{}"><title>{}</title></line>',
                LEFT,
                ry,
                WIDTH - RIGHT,
                ry,
                reference_label or f"{_n(reference)}{unit}",
            )
        )
    runs: list[list[tuple[float, float]]] = [[]]
    for index, value in enumerate(values):
        if value is None:
            runs.append([])
        else:
            runs[-1].append((frame.x(index), frame.y(value)))
    for run in runs:
        if len(run) > 1:
            parts.append(
                format_html(
                    '<polyline class="line" points="{}"></polyline>',
                    " ".join(f"{_n(x)},{_n(y)}" for x, y in run),
                )
            )
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        if value is None:
            continue
        x, y = frame.x(index), frame.y(value)
        parts.append(
            format_html(
                '<circle class="dot" cx="{}" cy="{}" r="4"><title>{}: {}</title></circle>'
                '<text class="value" x="{}" y="{}" text-anchor="middle">{}</text>',
                _n(x),
                _n(y),
                label,
                _shown(value, unit),
                _n(x),
                _n(y - 9),
                _shown(value, unit),
            )
        )
    description = "; ".join(
        f"{label}: {_shown(value, unit)}" for label, value in zip(labels, values, strict=True)
    )
    if reference is not None:
        description += f". Dashed line: {reference_label or _n(reference) + unit}."
    return _svg(chart_id, title, description, parts)


def stacked_bar_chart(
    *,
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[int]]],
) -> SafeString:
    """Bars stacked from ``series`` of (name, css class, values), the total above each."""
    totals = [sum(values[i] for _, _, values in series) for i in range(len(labels))]
    frame = _Frame(top=nice_ceiling(max(totals, default=0)), count=len(labels))
    width = frame.band * 0.56
    parts = _axes(frame, labels, "")
    for index, label in enumerate(labels):
        x = frame.x(index) - width / 2
        below = 0
        for name, css, values in series:
            value = values[index]
            if not value:
                continue
            y_top, y_bottom = frame.y(below + value), frame.y(below)
            parts.append(
                format_html(
                    '<rect class="bar {}" x="{}" y="{}" width="{}" height="{}">'
                    "<title>{}, {}: {}</title></rect>",
                    css,
                    _n(x),
                    _n(y_top),
                    _n(width),
                    _n(y_bottom - y_top),
                    label,
                    name,
                    value,
                )
            )
            below += value
        parts.append(
            format_html(
                '<text class="value" x="{}" y="{}" text-anchor="middle">{}</text>',
                _n(frame.x(index)),
                _n(frame.y(totals[index]) - 5),
                totals[index],
            )
        )
    description = "; ".join(
        f"{label}: {totals[i]} ("
        + ", ".join(f"{name} {values[i]}" for name, _, values in series)
        + ")"
        for i, label in enumerate(labels)
    )
    return _svg(chart_id, title, description, parts)
