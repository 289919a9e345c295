"""Marketing's pages: every lead (filters, sort, keyset pages) and its CSV export, the leads
sales returned to nurture with their reasons, and the nurture actions: qualify by hand,
disqualify."""

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from core.csv_export import csv_streaming_response
from core.errors import DomainError, NotAllowed
from core.roles import Role, is_manager, role_required
from leads.marketing_forms import (
    DisqualifyForm,
    LeadListFilterForm,
    NurtureFilterForm,
    QualifyForm,
)
from leads.marketing_selectors import (
    LEAD_EXPORT_COLUMNS,
    LIST_SORT_LABELS,
    LeadListQuery,
    lead_list_export_rows,
    lead_list_page,
    nurture_leads,
    return_reason_counts,
)
from leads.models import DisqualifyReason, Lead, ReturnReason, Stage
from leads.pipeline import funnel_filter_choices
from leads.selectors import lists_own_leads_only
from leads.services import SALES_STAGES, lead_transition

# Stages marketing works by hand from its lists: qualify to MQL, or disqualify.
NURTURE_ACTION_STAGES = frozenset({Stage.NEW, Stage.RECYCLED})


def _query_string(params, **changes) -> str:
    """The current query string with ``changes`` applied (a None value drops the key)."""
    merged = {key: value for key, value in params.items() if value}
    for key, value in changes.items():
        if value in (None, ""):
            merged.pop(key, None)
        else:
            merged[key] = value
    return f"?{urlencode(merged)}" if merged else "?"


def _safe_back(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _list_query(request) -> tuple[LeadListFilterForm, LeadListQuery]:
    """The leads list's filter form and what it asks for; the page and its export share it."""
    campaigns, reps = funnel_filter_choices()
    form = LeadListFilterForm(request.GET or None, campaigns=campaigns, reps=reps)
    if form.is_bound:
        form.is_valid()
    reached = form.value("reached")
    own = lists_own_leads_only(request.user)
    query = LeadListQuery(
        filters=form.queue_filters(),
        owner=str(request.user.pk) if own else form.value("owner"),
        sort=form.value("sort", "newest"),
        reached=reached,
        period=form.period() if reached else None,
    )
    return form, query


@role_required(Role.REP, Role.MARKETER)
def lead_list(request):
    form, query = _list_query(request)
    own = lists_own_leads_only(request.user)
    reached, sort = query.reached, query.sort
    after = request.GET.get("after", "")
    leads, next_cursor = lead_list_page(user=request.user, query=query, after=after)
    params = request.GET.dict()
    sort_links = {
        "created": _query_string(params, sort="oldest" if sort == "newest" else None, after=None),
        "score": _query_string(
            params, sort="score_low" if sort == "score" else "score", after=None
        ),
    }
    return render(
        request,
        "leads/list.html",
        {
            "title": "My leads" if own else "Leads",
            "own": own,
            "form": form,
            "filter_fields": [
                form[name]
                for name in (
                    *("q", "stage", "kind", "temperature", "campaign", "owner", "min_score"),
                    "sort",
                )
                if not (own and name == "owner")
            ],
            "leads": leads,
            "sort": sort,
            "sort_label": LIST_SORT_LABELS.get(sort, ""),
            "sort_links": sort_links,
            "reached_label": dict(form.fields["reached"].choices)[reached] if reached else "",
            "reached_period": query.period,
            "clear_reached_url": _query_string(
                params, reached=None, period=None, start=None, end=None, after=None
            ),
            "next_url": _query_string(params, after=next_cursor) if next_cursor else "",
            "first_url": _query_string(params, after=None) if after else "",
            # Every page of the list as it is filtered and sorted, not just this page.
            "export_url": reverse("leads:list_csv")
            + _query_string(params, after=None).removesuffix("?"),
            "here": request.get_full_path(),
            "action_stages": NURTURE_ACTION_STAGES,
            "reassign_stages": SALES_STAGES if is_manager(request.user) else frozenset(),
            "disqualify_reasons": DisqualifyReason.choices,
        },
    )


@role_required(Role.MARKETER)
def lead_list_csv(request):
    """The leads list as CSV: the same filters, search, sort and visibility as the page, all
    its pages, streamed."""
    _form, query = _list_query(request)
    return csv_streaming_response(
        header=list(LEAD_EXPORT_COLUMNS),
        rows=lead_list_export_rows(user=request.user, query=query),
        filename=f"leads-{timezone.localdate().isoformat()}.csv",
    )


@role_required(Role.MARKETER)
def nurture(request):
    form = NurtureFilterForm(request.GET or None)
    if form.is_bound:
        form.is_valid()
    period = form.period()
    reason = form.cleaned_data.get("reason", "") if form.is_bound else ""
    try:
        page = max(int(request.GET.get("page", 1)), 1)
    except ValueError:
        page = 1
    leads, more = nurture_leads(reason=reason, page=page)
    counts = return_reason_counts(period=period)
    params = request.GET.dict()
    return render(
        request,
        "leads/nurture.html",
        {
            "title": "Returned to nurture",
            "form": form,
            "period": period,
            "reason": reason,
            "reason_label": ReturnReason(reason).label if reason else "",
            "all_reasons_url": _query_string(params, reason=None, page=None),
            "counts": counts,
            "returns_total": sum(c.count for c in counts),
            "leads": leads,
            "page": page,
            "next_url": _query_string(params, page=page + 1) if more else "",
            "previous_url": _query_string(params, page=page - 1 if page > 2 else None)
            if page > 1
            else "",
            "reason_chart": _reason_chart(counts, params),
            "here": request.get_full_path(),
            "disqualify_reasons": DisqualifyReason.choices,
        },
    )


REASON_CHART = {"width": 1200, "label": 200, "value": 100, "row": 28, "bar": 18}


def _reason_chart(counts, params) -> dict:
    """Horizontal bars for the returns per reason; each bar filters the list by its reason."""
    geometry = REASON_CHART
    track = geometry["width"] - geometry["label"] - geometry["value"]
    peak = max((c.count for c in counts), default=0) or 1
    bars = []
    for index, count in enumerate(counts):
        y = index * geometry["row"]
        width = round(track * count.count / peak, 1)
        bars.append(
            {
                "count": count,
                "pct": round(100 * count.share),
                "y": y + (geometry["row"] - geometry["bar"]) // 2,
                "text_y": y + geometry["row"] // 2 + 4,
                "width": width,
                "value_x": geometry["label"] + width + 6,
                "href": _query_string(params, reason=count.reason or None, page=None),
            }
        )
    return {
        **geometry,
        "bars": bars,
        "track": track,
        "height": max(len(bars), 1) * geometry["row"],
        "label_x": geometry["label"] - 10,
    }


def _nurture_move(request, pk: int, *, to: str, form, done: str):
    back = _safe_back(request, reverse("leads:nurture"))
    if not form.is_valid():
        first = next(iter(form.errors.values()))[0]
        messages.error(request, first)
        return redirect(back)
    try:
        lead = lead_transition(
            lead_id=pk,
            actor=request.user,
            to=to,
            note=form.cleaned_data.get("note", ""),
            reason_code=form.cleaned_data.get("reason_code", ""),
        )
    except Lead.DoesNotExist:
        raise Http404("No such lead.") from None
    except NotAllowed as exc:
        raise PermissionDenied(exc.message) from None
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done.format(lead=lead))
    return redirect(back)


@role_required(Role.MARKETER)
def nurture_act(request, pk: int):
    """The qualify/disqualify forms on a page of their own (the lists open them in a dialog)."""
    return render(
        request,
        "leads/nurture_act.html",
        {
            "lead": get_object_or_404(Lead, pk=pk),
            "here": _safe_back(request, reverse("leads:nurture")),
            "action_stages": NURTURE_ACTION_STAGES,
            "disqualify_reasons": DisqualifyReason.choices,
        },
    )


@require_POST
@role_required(Role.MARKETER)
def nurture_qualify(request, pk: int):
    return _nurture_move(
        request,
        pk,
        to=Stage.MQL,
        form=QualifyForm(request.POST),
        done="{lead} is an MQL now and went to sales with your note.",
    )


@require_POST
@role_required(Role.MARKETER)
def nurture_disqualify(request, pk: int):
    return _nurture_move(
        request,
        pk,
        to=Stage.DISQUALIFIED,
        form=DisqualifyForm(request.POST),
        done="{lead} was disqualified.",
    )


urlpatterns = [
    path("", lead_list, name="list"),
    path("export.csv", lead_list_csv, name="list_csv"),
    path("nurture/", nurture, name="nurture"),
    path("nurture/<int:pk>/", nurture_act, name="nurture_act"),
    path("nurture/<int:pk>/qualify/", nurture_qualify, name="nurture_qualify"),
    path("nurture/<int:pk>/disqualify/", nurture_disqualify, name="nurture_disqualify"),
]
