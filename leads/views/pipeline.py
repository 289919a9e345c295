"""The shared pipeline page: one funnel for sales and marketing (see leads.pipeline)."""

from dataclasses import dataclass
from urllib.parse import urlencode

from django.shortcuts import render
from django.urls import path, reverse

from core.roles import Role, role_required
from leads.marketing_forms import FunnelFilterForm
from leads.pipeline import Funnel, FunnelRow, funnel_build, funnel_filter_choices
from leads.selectors import lists_own_leads_only

# Chart geometry (SVG user units; the SVG scales to its container).
CHART_WIDTH = 1200
LABEL_WIDTH = 200
VALUE_WIDTH = 80
ROW_HEIGHT = 30
BAR_HEIGHT = 18
GROUP_GAP = 18


@dataclass(frozen=True)
class ChartBar:
    row: FunnelRow
    y: int
    text_y: int
    width: float
    value_x: float
    href: str


def _chart(funnel: Funnel, links: dict[str, str]) -> dict:
    track = CHART_WIDTH - LABEL_WIDTH - VALUE_WIDTH
    bars, y = [], 0
    for group in (funnel.main, funnel.side):
        for row in group:
            width = round(track * row.bar, 1)
            bars.append(
                ChartBar(
                    row=row,
                    y=y + (ROW_HEIGHT - BAR_HEIGHT) // 2,
                    text_y=y + ROW_HEIGHT // 2 + 4,
                    width=max(width, 1.5) if row.reached else 0,
                    value_x=LABEL_WIDTH + width + 6,
                    href=links.get(row.step.key, ""),
                )
            )
            y += ROW_HEIGHT
        y += GROUP_GAP
    return {
        "bars": bars,
        "width": CHART_WIDTH,
        "height": y - GROUP_GAP,
        "label_x": LABEL_WIDTH - 10,
        "bar_x": LABEL_WIDTH,
        "track": track,
        "bar_height": BAR_HEIGHT,
        "side_y": len(funnel.main) * ROW_HEIGHT + GROUP_GAP // 2,
    }


def _list_links(funnel: Funnel, preset_params: dict) -> tuple[dict, dict]:
    """Per step: the leads list of those in the stage now, and of those that reached it in
    the period, both with the page's filters."""
    base = reverse("leads:list")
    filters = {
        key: value
        for key, value in {
            "campaign": funnel.filters.campaign,
            "owner": funnel.filters.owner,
            "kind": funnel.filters.kind,
        }.items()
        if value
    }
    now_links, reached_links = {}, {}
    for row in funnel.rows:
        stage = row.step.list_stage
        now_links[row.step.key] = f"{base}?{urlencode({'stage': stage, **filters})}"
        reached_links[row.step.key] = (
            f"{base}?{urlencode({'reached': stage, **preset_params, **filters})}"
        )
    return now_links, reached_links


@role_required(Role.REP, Role.MARKETER)
def pipeline(request):
    campaigns, reps = funnel_filter_choices()
    form = FunnelFilterForm(request.GET or None, campaigns=campaigns, reps=reps)
    if form.is_bound:
        form.is_valid()
    period = form.period()
    funnel = funnel_build(period=period, filters=form.funnel_filters())
    preset_params = {"period": period.preset}
    if period.preset == "custom":
        preset_params |= {"start": period.first.isoformat(), "end": period.last.isoformat()}
    # Marketing's links open every lead of the step; a rep's open the leads they own in it.
    now_links, reached_links = _list_links(funnel, preset_params)
    own = lists_own_leads_only(request.user)
    rows = [
        {
            "row": row,
            "now_href": now_links.get(row.step.key),
            "href": reached_links.get(row.step.key),
        }
        for row in funnel.rows
    ]
    rows_by_key = {row.step.key: row for row in funnel.rows}
    return render(
        request,
        "leads/pipeline.html",
        {
            "title": "Pipeline",
            "form": form,
            "funnel": funnel,
            "period": period,
            "main_rows": [r for r in rows if not r["row"].step.side],
            "side_rows": [r for r in rows if r["row"].step.side],
            "chart": _chart(funnel, reached_links),
            "headline": [rows_by_key[key] for key in ("new", "qualified", "sal", "won")],
            "own": own,
        },
    )


urlpatterns = [
    path("pipeline/", pipeline, name="pipeline"),
]
