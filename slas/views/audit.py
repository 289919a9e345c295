"""The monthly SLA audit pages (managers only): the month's figures with charts, sign-off by
the sales and the marketing head, and the CSV export. Reads come from ``slas.audit``; the one
write is ``slas.audit_services.audit_signoff_create``."""

import csv
from datetime import datetime

from django.contrib import messages
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from core.csv_export import csv_cell
from core.errors import DomainError
from core.roles import Role, role_required
from slas.audit import ROLLUP_MAX_AGE, AuditMonth, AuditRead, audit_read
from slas.audit_services import COMMENT_MAX, audit_signoff_create
from slas.charts import bar_chart, line_chart, stacked_bar_chart
from slas.models import AuditSignoff


def _month(value: str | None) -> tuple[AuditMonth, str]:
    """The month asked for, or last month with the reason when the value is unusable."""
    if not value:
        return AuditMonth.before(), ""
    try:
        return AuditMonth.parse(value), ""
    except ValueError as error:
        return AuditMonth.before(), str(error)


def _audit_url(month: AuditMonth) -> str:
    return f"{reverse('slas:audit')}?month={month.key}"


def _charts(figures: dict) -> dict:
    trend = figures.get("trend") or []
    labels = [row["label"] for row in trend]
    return {
        "mqls": bar_chart(
            chart_id="chart-mqls",
            title="MQLs delivered per month against the target",
            labels=labels,
            values=[row["mqls"] for row in trend],
            targets=[row["mqls_target"] for row in trend],
        ),
        "within_sla": line_chart(
            chart_id="chart-within-sla",
            title="Share of first-touch deadlines met within the SLA, per month",
            labels=labels,
            values=[row["within_sla_rate"] for row in trend],
        ),
        "breaches": stacked_bar_chart(
            chart_id="chart-breaches",
            title="SLA breaches per month, by kind",
            labels=labels,
            series=[
                ("First touch", "bar-danger", [row["breaches_first_touch"] for row in trend]),
                (
                    "Accepted lead left untouched",
                    "bar-3",
                    [row["breaches_sal_idle"] for row in trend],
                ),
            ],
        ),
    }


@role_required(Role.MANAGER)
def audit(request):
    month, month_error = _month(request.GET.get("month"))
    read = audit_read(month=month)
    this_month = AuditMonth(timezone.localdate().replace(day=1))
    sides = [
        {
            "value": side.value,
            "label": side.label,
            "signoff": read.signoff(side.value),
        }
        for side in AuditSignoff.Side
    ]
    return render(
        request,
        "slas/audit.html",
        {
            "title": f"SLA audit · {month.label}",
            "month": month,
            "month_error": month_error,
            "previous_month": month.shift(-1),
            "next_month": month.shift(1) if month.shift(1) <= this_month else None,
            "this_month": this_month,
            "read": read,
            "figures": read.figures,
            "charts": _charts(read.figures),
            "sides": sides,
            "can_sign": month.is_over(),
            "sign_from": month.shift(1).first,
            "computed_at": datetime.fromisoformat(read.figures["computed_at"]),
            "comment_max": COMMENT_MAX,
            "rollup_minutes": int(ROLLUP_MAX_AGE.total_seconds() // 60),
            "differences_shown": read.differences[:12],
            "differences_more": max(len(read.differences) - 12, 0),
        },
    )


@role_required(Role.MANAGER)
@require_POST
def audit_sign(request):
    try:
        month = AuditMonth.parse(request.POST.get("month"))
    except ValueError as error:
        messages.error(request, f"Nothing was signed: {error}")
        return redirect("slas:audit")
    try:
        signoff = audit_signoff_create(
            month=month,
            side=request.POST.get("side", ""),
            actor=request.user,
            comment=request.POST.get("comment", ""),
        )
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            f"You signed the {month.label} audit as the {signoff.get_side_display().lower()}.",
        )
    return redirect(_audit_url(month))


# --- CSV --------------------------------------------------------------------------------------
def _cell(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return csv_cell(value)


def audit_csv_rows(read: AuditRead) -> list[list]:
    """The month's figures as CSV rows: a summary, then the per-rep and the per-campaign
    tables, each under a title row and a header, separated by a blank row."""
    f = read.figures
    marketing, sales, funnel = f["marketing"], f["sales"], f["funnel"]
    first_touch, content = sales["first_touch"], f["content_requests"]
    clock = "business h" if sales["clock"] == "business" else "plain-clock h"
    state = (
        "as signed by "
        + " and ".join(
            f"{s.get_side_display().lower()} on {timezone.localtime(s.signed_at):%Y-%m-%d %H:%M}"
            for s in read.signoffs
        )
        if read.signed
        else f"live, computed {f['computed_at']}"
    )
    rows: list[list] = [
        ["SLA audit", f["month"], f["label"]],
        ["Figures", state],
        ["Agreement", (f.get("agreement") or {}).get("name", "none covers this month")],
        [],
        ["Summary"],
        ["Figure", "Value", "Target"],
        ["MQLs delivered", marketing["mqls_delivered"], marketing["mqls_target"]],
        *[[f"MQLs delivered: {kind.upper()}", n, None] for kind, n in marketing["by_kind"].items()],
        ["Handoffs decided by sales", marketing["decided"], None],
        ["Handoffs accepted", marketing["accepted"], None],
        ["Handoffs returned", marketing["returned"], None],
        ["Acceptance rate %", marketing["acceptance_rate"], marketing["min_acceptance_rate"]],
        ["Content requests delivered", content["delivered"], None],
        [
            "Content turnaround median (plain-clock h)",
            content["median_hours"],
            content["commitment_hours"],
        ],
        ["Content turnaround p90 (plain-clock h)", content["p90_hours"], None],
        ["First-touch deadlines started", first_touch["started"], None],
        ["Cancelled before due (left out)", first_touch["cancelled_before_due"], None],
        ["Still running (left out)", first_touch["running"], None],
        ["Touched within SLA", first_touch["within_sla"], None],
        ["Touched within SLA %", first_touch["within_sla_rate"], None],
        [f"Time to first touch median ({clock})", first_touch["median_hours"], None],
        [f"Time to first touch p90 ({clock})", first_touch["p90_hours"], None],
        ["Breaches", sales["breaches"]["total"], None],
        ["Breaches: first touch", sales["breaches"]["first_touch"], None],
        ["Breaches: accepted lead left untouched", sales["breaches"]["sal_idle"], None],
        ["Untouched SAL leads still open", sales["untouched_sal"]["still_open"], None],
        ["Funnel: handed off", funnel["mql"], None],
        ["Funnel: reached SAL", funnel["sal"], None],
        ["Funnel: reached SQL", funnel["sql"], None],
        ["Funnel: won", funnel["won"], None],
        [],
        ["Per rep"],
        [
            "Rep",
            "Handoffs",
            "Counted for SLA",
            "Touched within SLA",
            "Touched within SLA %",
            f"Median time to first touch ({clock})",
            f"p90 time to first touch ({clock})",
            "Breaches",
            "Breaches: first touch",
            "Breaches: accepted lead left untouched",
        ],
        *[
            [
                rep["name"],
                rep["handoffs"],
                rep["counted"],
                rep["within_sla"],
                rep["within_sla_rate"],
                rep["median_hours"],
                rep["p90_hours"],
                rep["breaches"],
                rep["breaches_first_touch"],
                rep["breaches_sal_idle"],
            ]
            for rep in sales["reps"]
        ],
        [],
        ["Per campaign"],
        [
            "Campaign",
            "MQLs delivered",
            "MQL",
            "PQL",
            "CQL",
            "Decided",
            "Accepted",
            "Returned",
            "Acceptance rate %",
            "Reached SAL",
            "SAL %",
            "Reached SQL",
            "SQL % of SAL",
            "Won",
            "Won % of SQL",
        ],
        *[
            [
                row["name"],
                row["mqls"],
                row["by_kind"].get("mql", 0),
                row["by_kind"].get("pql", 0),
                row["by_kind"].get("cql", 0),
                row["decided"],
                row["accepted"],
                row["returned"],
                row["acceptance_rate"],
                row["sal"],
                row["sal_rate"],
                row["sql"],
                row["sql_rate"],
                row["won"],
                row["won_rate"],
            ]
            for row in f["campaigns"]
        ],
    ]
    return rows


@role_required(Role.MANAGER)
def audit_csv(request):
    value = request.GET.get("month")
    try:
        month = AuditMonth.parse(value) if value else AuditMonth.before()
    except ValueError as error:
        return HttpResponseBadRequest(str(error), content_type="text/plain; charset=utf-8")
    read = audit_read(month=month)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="sla-audit-{month.key}.csv"'
    writer = csv.writer(response)
    for row in audit_csv_rows(read):
        writer.writerow([_cell(value) for value in row])
    return response


urlpatterns = [
    path("audit/", audit, name="audit"),
    path("audit/sign/", audit_sign, name="audit_sign"),
    path("audit/export.csv", audit_csv, name="audit_csv"),
]
