"""A campaign's lead list, filterable, and its CSV export (streamed)."""

from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render
from django.urls import path
from django.utils import timezone

from campaigns.models import Campaign
from campaigns.selectors import LEAD_CSV_COLUMNS, LeadListFilters, campaign_leads
from campaigns.views.common import param_choice, param_int
from core.csv_export import CSV_CHUNK_SIZE, csv_streaming_response
from core.roles import Role, has_role, role_required
from leads.models import QUALIFIED_STAGES, Stage, Temperature

PAGE_SIZE = 50


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


@role_required(Role.REP, Role.MARKETER)
def lead_list_csv(request, pk: int):
    campaign = get_object_or_404(Campaign, pk=pk)
    rows = (
        campaign_leads(campaign=campaign, user=request.user, filters=_filters(request))
        .values_list(*LEAD_CSV_COLUMNS)
        .iterator(chunk_size=CSV_CHUNK_SIZE)
    )
    header = [c.replace("owner__username", "owner") for c in LEAD_CSV_COLUMNS]
    stamp = timezone.localdate().isoformat()
    return csv_streaming_response(
        header=header, rows=rows, filename=f"campaign-{campaign.pk}-leads-{stamp}.csv"
    )


urlpatterns = [
    path("<int:pk>/leads/", lead_list, name="leads"),
    path("<int:pk>/leads.csv", lead_list_csv, name="leads_csv"),
]
