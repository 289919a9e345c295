"""A campaign's lead list, filterable, and its CSV export (streamed)."""

import csv

from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import path
from django.utils import timezone

from campaigns.models import Campaign
from campaigns.selectors import LEAD_CSV_COLUMNS, LeadListFilters, campaign_leads
from campaigns.views.common import param_choice, param_int
from core.roles import Role, has_role, role_required
from leads.models import QUALIFIED_STAGES, Stage, Temperature

PAGE_SIZE = 50
# Spreadsheet apps run cells starting with these as formulas (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _filters(request) -> LeadListFilters:
    return LeadListFilters(
        stage=param_choice(request, "stage", Stage.values),
        kind=param_choice(request, "kind", [s.value for s in QUALIFIED_STAGES]),
        temperature=param_choice(request, "temperature", Temperature.values),
        owner=param_int(request, "owner"),
        search=request.GET.get("q", "").strip()[:100],
    )


@role_required(Role.REP, Role.MARKETER)
def lead_list(request, pk: int):
    campaign = get_object_or_404(Campaign.objects.prefetch_related("talking_points"), pk=pk)
    filters = _filters(request)
    page = Paginator(
        campaign_leads(campaign=campaign, user=request.user, filters=filters), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "campaigns/leads.html",
        {
            "title": f"Leads from {campaign.name}",
            "campaign": campaign,
            "page": page,
            "filters": filters,
            "stages": Stage.choices,
            "kinds": [(s.value, s.label) for s in QUALIFIED_STAGES],
            "temperatures": Temperature.choices,
            "owners": User.objects.filter(groups__name=Role.REP.value, is_active=True)
            .distinct()
            .order_by("first_name", "username"),
            "query": query.urlencode(),
            "is_rep_only": not has_role(request.user, Role.MARKETER),
        },
    )


class _Echo:
    """A file-like object whose write returns the line, for csv.writer in a stream."""

    def write(self, value: str) -> str:
        return value


def _cell(value) -> str:
    if value is None:
        return ""
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return f"'{text}" if text.startswith(FORMULA_PREFIXES) else text


@role_required(Role.REP, Role.MARKETER)
def lead_list_csv(request, pk: int):
    campaign = get_object_or_404(Campaign, pk=pk)
    rows = (
        campaign_leads(campaign=campaign, user=request.user, filters=_filters(request))
        .values_list(*LEAD_CSV_COLUMNS)
        .iterator(chunk_size=2000)
    )
    writer = csv.writer(_Echo())
    header = [c.replace("owner__username", "owner") for c in LEAD_CSV_COLUMNS]

    def lines():
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([_cell(v) for v in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = (
        f'attachment; filename="campaign-{campaign.pk}-leads-{stamp}.csv"'
    )
    return response


urlpatterns = [
    path("<int:pk>/leads/", lead_list, name="leads"),
    path("<int:pk>/leads.csv", lead_list_csv, name="leads_csv"),
]
