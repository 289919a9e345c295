"""Formatting for campaign figures: rates, ROI, money and turnaround durations."""

from datetime import timedelta
from decimal import Decimal

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma

register = template.Library()


@register.filter
def pct(value) -> str:
    """0.256 → "25.6%"; None (nothing to divide by) → "—"."""
    if value is None:
        return "—"
    return f"{float(value) * 100:.1f}%"


@register.filter
def money(value) -> str:
    if value is None:
        return "—"
    return intcomma(f"{Decimal(value):.0f}")


@register.filter
def duration(value: timedelta | None) -> str:
    """A turnaround: "3 d 4 h", "5 h 10 min", "12 min"; None → "—"."""
    if value is None:
        return "—"
    minutes = max(0, int(value.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


@register.filter
def roi_class(value) -> str:
    if value is None:
        return ""
    return "roi-positive" if value >= 0 else "roi-negative"


@register.filter
def person(user, empty: str = "—") -> str:
    """A user's full name, else username; ``empty`` when there is nobody."""
    if user is None:
        return empty
    return user.get_full_name() or user.get_username()
