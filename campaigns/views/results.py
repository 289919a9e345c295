"""Closed loop: one campaign's funnel, revenue, ROI, sales ratings and attribution; the
comparison of all campaigns over a period; sales feedback rolled up for marketing."""

from datetime import timedelta
from decimal import Decimal

from django.shortcuts import render
from django.urls import path
from django.utils import timezone

from campaigns.models import Campaign
from campaigns.selectors import (
    COMPARISON_SORTS,
    LAST_TOUCH_USES_EVENTS,
    campaign_closed_loop,
    campaign_comparison,
    feedback_rollup,
)
from campaigns.views.common import param_date, param_int
from core.roles import Role, role_required

BAR_WIDTH = 320
CELL_BAR_WIDTH = 120
COMPARISON_COLUMNS = (
    ("name", "Campaign", False),
    ("channel", "Channel", False),
    ("start", "Dates", False),
    ("leads", "Leads", True),
    ("mql", "MQL", True),
    ("sal", "SAL", True),
    ("sql", "SQL", True),
    ("won", "Won", True),
    ("win_rate", "Lead → won", True),
    ("revenue", "Won revenue", True),
    ("cost", "Cost", True),
    ("roi", "ROI", True),
    ("quality", "Lead quality", True),
)


def _period(request, *, default_days: int = 365):
    today = timezone.localdate()
    until = param_date(request, "to", today)
    since = param_date(request, "from", until - timedelta(days=default_days))
    if since > until:
        since, until = until, since
    return since, until


def _scaled(value, top, width) -> int:
    if not top or not value:
        return 0
    return max(2, round(float(value) / float(top) * width))


def _roi(revenue: Decimal, cost: Decimal) -> float | None:
    return float((revenue - cost) / cost) if cost else None


@role_required(Role.MARKETER)
def campaign_results(request, pk: int):
    loop = campaign_closed_loop(campaign_id=pk)
    funnel = loop.funnel
    steps = [
        ("Leads", funnel.leads, None, ""),
        ("MQL", funnel.mql, funnel.mql_rate, "of leads"),
        ("SAL", funnel.sal, funnel.sal_rate, "of MQLs accepted"),
        ("SQL", funnel.sql, funnel.sql_rate, "of SALs"),
        ("Won", funnel.won, funnel.won_rate, "of SQLs"),
    ]
    top = max(funnel.leads, 1)
    bars = [
        {
            "label": label,
            "value": value,
            "rate": rate,
            "rate_of": rate_of,
            "width": _scaled(value, top, BAR_WIDTH),
            "y": i * 30,
            "text_y": i * 30 + 15,
            "value_x": 90 + _scaled(value, top, BAR_WIDTH) + 6,
        }
        for i, (label, value, rate, rate_of) in enumerate(steps)
    ]
    money_top = max(loop.revenue, loop.cost, Decimal("1"))
    return render(
        request,
        "campaigns/results.html",
        {
            "title": f"Closed loop: {loop.campaign.name}",
            "loop": loop,
            "campaign": loop.campaign,
            "bars": bars,
            "chart_height": len(bars) * 30,
            "revenue_width": _scaled(loop.revenue, money_top, BAR_WIDTH),
            "cost_width": _scaled(loop.cost, money_top, BAR_WIDTH),
            "attribution_rows": [
                (label, credit, _roi(credit.revenue, loop.cost))
                for label, credit in (
                    ("First touch", loop.attribution["first_touch"]),
                    ("Last touch", loop.attribution["last_touch"]),
                )
            ],
            "last_touch_uses_events": LAST_TOUCH_USES_EVENTS,
        },
    )


@role_required(Role.MARKETER)
def comparison(request):
    since, until = _period(request)
    sort = request.GET.get("sort", "revenue")
    sort = sort if sort in COMPARISON_SORTS else "revenue"
    descending = request.GET.get("dir", "desc" if sort not in ("name", "channel") else "asc")
    descending = descending != "asc"
    rows = campaign_comparison(start=since, end=until, sort=sort, descending=descending)
    money_top = max([r.revenue for r in rows] + [r.cost for r in rows] + [Decimal("1")])
    table = [
        {
            "loop": r,
            "revenue_w": _scaled(r.revenue, money_top, CELL_BAR_WIDTH),
            "cost_w": _scaled(r.cost, money_top, CELL_BAR_WIDTH),
        }
        for r in rows
    ]
    period = f"from={since:%Y-%m-%d}&to={until:%Y-%m-%d}"
    columns = [
        {
            "key": key,
            "label": label,
            "numeric": numeric,
            "active": key == sort,
            "descending": descending,
            "query": f"{period}&sort={key}&dir="
            + (
                "asc"
                if key == sort and descending
                else "desc"
                if key == sort
                else ("desc" if numeric else "asc")
            ),
        }
        for key, label, numeric in COMPARISON_COLUMNS
    ]
    totals = {
        "leads": sum(r.funnel.leads for r in rows),
        "won": sum(r.funnel.won for r in rows),
        "revenue": sum((r.revenue for r in rows), Decimal("0")),
        "cost": sum((r.cost for r in rows), Decimal("0")),
    }
    totals["roi"] = (
        float((totals["revenue"] - totals["cost"]) / totals["cost"]) if totals["cost"] else None
    )
    return render(
        request,
        "campaigns/comparison.html",
        {
            "title": "Campaign results",
            "rows": table,
            "columns": columns,
            "since": since,
            "until": until,
            "totals": totals,
            "cell_bar_width": CELL_BAR_WIDTH,
        },
    )


@role_required(Role.MARKETER)
def feedback(request):
    since, until = _period(request, default_days=90)
    campaign_id = param_int(request, "campaign")
    rollup = feedback_rollup(since=since, until=until, campaign_id=campaign_id)
    return render(
        request,
        "campaigns/feedback.html",
        {
            "title": "What sales says about our leads",
            "since": since,
            "until": until,
            "campaign_id": campaign_id,
            "campaigns": Campaign.objects.order_by("-start_date", "name").only("pk", "name"),
            "tables": [
                ("By campaign", "Campaign", rollup["campaign"]),
                ("By industry", "Industry", rollup["industry"]),
                ("By company size", "Employees", rollup["size"]),
                ("By lead type", "Qualified as", rollup["kind"]),
            ],
            "comments": rollup["comments"],
        },
    )


urlpatterns = [
    path("results/", comparison, name="comparison"),
    path("feedback/", feedback, name="feedback"),
    path("<int:pk>/results/", campaign_results, name="results"),
]
