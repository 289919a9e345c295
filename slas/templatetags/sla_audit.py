"""Formatting for the SLA audit's figures (stored as plain numbers in the signed snapshot)."""

from django import template

register = template.Library()


@register.filter
def pct(value) -> str:
    """A percentage already in percent: 50.0 → "50.0%"; None (nothing counted) → "—"."""
    if value is None or value == "":
        return "—"
    return f"{float(value):.1f}%"


@register.filter
def hours(value) -> str:
    """Hours as people say them: 0.75 → "45 min", 3.6 → "3 h 36 min"; None → "—"."""
    if value is None or value == "":
        return "—"
    minutes = round(float(value) * 60)
    if minutes < 60:
        return f"{minutes} min"
    whole, rest = divmod(minutes, 60)
    return f"{whole} h {rest} min" if rest else f"{whole} h"


@register.filter
def verdict(met) -> str:
    """A target's outcome as a stat class: met → good, missed → bad, unknown → none."""
    if met is None:
        return ""
    return "stat-good" if met else "stat-bad"
