"""The audit page, its CSV export and its charts; its query count does not grow with data."""

import csv
import io
import re
from datetime import date, timedelta

import pytest
import time_machine
from django.db import connection
from django.urls import reverse

from slas.audit import ROLLUP_MAX_AGE, AuditMonth
from slas.charts import bar_chart, line_chart, stacked_bar_chart
from slas.models import AuditRollup
from slas.tasks import audit_refresh_task
from tests.leads.factories import LeadFactory
from tests.slas.test_audit_figures import MAY, NOW, build_may, handoff, utc

pytestmark = pytest.mark.django_db
AUDIT = reverse("slas:audit")


@pytest.fixture
def at_now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def may(db):
    return build_may()


def test_a_manager_sees_the_months_figures(client_for, manager, may, at_now):
    response = client_for(manager).get(AUDIT, {"month": "2026-05"})
    assert response.status_code == 200
    figures = response.context["figures"]
    assert figures["month"] == "2026-05"
    assert figures["marketing"]["mqls_delivered"] == 8
    html = response.content.decode()
    assert "SLA audit: May 2026" in html
    assert re.search(r'id="stat-mqls">\s*<p class="stat-value">8</p>', html)
    assert re.search(r'id="stat-acceptance">\s*<p class="stat-value">80.0%</p>', html)
    assert re.search(r'id="stat-within-sla">\s*<p class="stat-value">50.0%</p>', html)
    assert re.search(r'id="stat-first-touch">\s*<p class="stat-value">3 h</p>', html)
    assert "p90 7 h 36 min · business hours" in html
    assert "Alice Archer" in html and "Unassigned (pool)" in html
    assert "Not signed yet" in html
    assert 'action="/slas/audit/sign/"' in html


def test_the_default_month_is_last_month(client_for, manager):
    with time_machine.travel(utc(3, 15, 12), tick=False):
        response = client_for(manager).get(AUDIT)
    assert response.context["month"] == AuditMonth(date(2026, 2, 1))


def test_an_unusable_month_falls_back_to_last_month_with_the_reason(client_for, manager):
    with time_machine.travel(utc(3, 15, 12), tick=False):
        response = client_for(manager).get(AUDIT, {"month": "2026-13"})
    assert response.status_code == 200
    assert response.context["month"].key == "2026-02"
    assert "The month must be between 01 and 12." in response.content.decode()


@pytest.mark.parametrize("role", ["Sales rep", "Marketer"])
def test_reps_and_marketers_cannot_open_the_audit(client_for, role):
    from tests.factories import UserFactory

    client = client_for(UserFactory(role=role))
    assert client.get(AUDIT).status_code == 403
    assert client.get(reverse("slas:audit_csv")).status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(AUDIT)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


# --- CSV --------------------------------------------------------------------------------------
def _sections(body: str) -> dict[str, list[list[str]]]:
    """The CSV's blocks keyed by their title row."""
    sections, current = {}, None
    for row in csv.reader(io.StringIO(body)):
        if not row:
            current = None
            continue
        if current is None:
            current = row[0]
            sections[current] = [row]
        else:
            sections[current].append(row)
    return sections


def test_csv_export_has_the_summary_and_the_per_rep_and_per_campaign_tables(
    client_for, manager, may, at_now
):
    response = client_for(manager).get(reverse("slas:audit_csv"), {"month": "2026-05"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="sla-audit-2026-05.csv"' in response["Content-Disposition"]
    sections = _sections(response.content.decode())
    assert sections["SLA audit"][0] == ["SLA audit", "2026-05", "May 2026"]
    summary = {row[0]: row[1:] for row in sections["Summary"][2:]}
    assert summary["MQLs delivered"] == ["8", "10"]
    assert summary["Acceptance rate %"] == ["80.0", "60.0"]
    assert summary["Touched within SLA %"] == ["50.0", ""]
    assert summary["Time to first touch median (business h)"] == ["3.0", ""]
    assert summary["Time to first touch p90 (business h)"] == ["7.6", ""]
    assert summary["Breaches"] == ["5", ""]
    reps = sections["Per rep"]
    assert reps[1][:5] == [
        "Rep",
        "Handoffs",
        "Counted for SLA",
        "Touched within SLA",
        "Touched within SLA %",
    ]
    assert reps[2] == ["Alice Archer", "5", "3", "3", "100.0", "2.0", "8.4", "1", "0", "1"]
    assert reps[3] == ["Bob Baker", "2", "2", "0", "0.0", "3.5", "3.9", "3", "2", "1"]
    assert reps[4] == ["Unassigned (pool)", "1", "1", "0", "0.0", "", "", "1", "1", "0"]
    campaigns = sections["Per campaign"]
    assert campaigns[1][0] == "Campaign"
    assert campaigns[2] == [
        "Webinar", "4", "4", "0", "0", "2", "2", "0", "100.0", "2", "50.0", "2", "100.0", "1",
        "50.0",
    ]  # fmt: skip
    assert [row[0] for row in campaigns[2:]] == ["Webinar", "Ebook", "No campaign"]


def test_csv_names_that_look_like_formulas_stay_text(client_for, manager, may, at_now):
    may.webinar.name = "=HYPERLINK(1)"
    may.webinar.save(update_fields=["name"])
    body = client_for(manager).get(reverse("slas:audit_csv"), {"month": "2026-05"}).content
    assert "'=HYPERLINK(1)" in body.decode()


def test_csv_of_an_unusable_month_is_a_bad_request(client_for, manager):
    response = client_for(manager).get(reverse("slas:audit_csv"), {"month": "May"})
    assert response.status_code == 400


# --- charts -----------------------------------------------------------------------------------
def test_the_page_draws_three_inline_svg_charts_without_style_attributes(
    client_for, manager, may, at_now
):
    html = client_for(manager).get(AUDIT, {"month": "2026-05"}).content.decode()
    assert html.count('<svg class="audit-chart"') == 3
    assert "style=" not in html
    assert "<script" not in html.split('id="trend-heading"')[1].split("</section>")[0]
    # MQLs against the target: six bars, a target mark for April and May only
    mqls = html.split('id="chart-mqls-title"')[1].split("</svg>")[0]
    assert mqls.count('<rect class="bar"') == 6
    assert mqls.count('<line class="target"') == 2
    assert "May 2026: 8 (target 10)" in mqls


def test_charts_escape_labels_and_break_lines_where_data_is_missing():
    svg = bar_chart(chart_id="c", title="<b>", labels=["<x>"], values=[3], targets=[None])
    assert "<b>" not in svg and "&lt;x&gt;" in svg
    line = line_chart(chart_id="l", title="t", labels=list("abcd"), values=[10, None, 50, 60])
    assert line.count("<polyline") == 1  # a, alone, is a dot; c-d is a line
    assert line.count("<circle") == 3
    stacked = stacked_bar_chart(
        chart_id="s",
        title="t",
        labels=["a", "b"],
        series=[("x", "bar-3", [1, 0]), ("y", "", [2, 5])],
    )
    assert stacked.count("<rect") == 3
    assert "style=" not in svg + line + stacked


# --- stored figures and the query count ---------------------------------------------------------
def _more_handoffs(may, n: int) -> None:
    for i in range(n):
        created = utc(5, 12, 8) + timedelta(minutes=7 * i)
        owner = may.alice if i % 2 else may.bob
        handoff(
            lead=LeadFactory(source_campaign=may.ebook if i % 3 else None),
            agreement=may.agreement,
            created=created,
            due=created + timedelta(hours=5),
            owner=owner,
            met=created + timedelta(hours=i % 7),
            breached=created + timedelta(hours=5, minutes=1) if i % 7 > 5 else None,
        )


def test_the_page_reads_stored_figures_and_recomputes_them_when_stale(
    client_for, manager, may, at_now
):
    client = client_for(manager)
    # given the page computed and stored May's figures
    client.get(AUDIT, {"month": "2026-05"})
    rollup = AuditRollup.objects.get(month=MAY.first)
    assert rollup.computed_at == NOW
    assert rollup.figures["marketing"]["mqls_delivered"] == 8
    # when a handoff is added: within ROLLUP_MAX_AGE the page shows the stored figures
    _more_handoffs(may, 1)
    with time_machine.travel(NOW + ROLLUP_MAX_AGE, tick=False):
        response = client.get(AUDIT, {"month": "2026-05"})
    assert response.context["figures"]["marketing"]["mqls_delivered"] == 8
    # and once they are older, the page recomputes and stores them
    later = NOW + ROLLUP_MAX_AGE + timedelta(seconds=1)
    with time_machine.travel(later, tick=False):
        response = client.get(AUDIT, {"month": "2026-05"})
    assert response.context["figures"]["marketing"]["mqls_delivered"] == 9
    assert AuditRollup.objects.get(month=MAY.first).computed_at == later


def test_the_refresh_job_recomputes_last_month_and_this_month(may):
    with time_machine.travel(utc(6, 2, 12), tick=False):
        assert audit_refresh_task() == ["2026-05", "2026-06"]
    stored = dict(AuditRollup.objects.values_list("month", "computed_at"))
    assert stored == {date(2026, 5, 1): NOW, date(2026, 6, 1): NOW}
    # a second run refreshes the same rows
    with time_machine.travel(utc(6, 2, 12, 5), tick=False):
        audit_refresh_task()
    assert AuditRollup.objects.count() == 2
    assert AuditRollup.objects.get(month=MAY.first).figures["marketing"]["mqls_delivered"] == 8


# session, user, roles; the bell's unread count; the month's sign-offs and stored figures.
PAGE_QUERIES = 6
# On a miss, also the eleven figure queries (agreements, holidays, handoffs, content requests
# (two), deadlines, touch times, breaches, trend (three)), their transaction's savepoint pair (tests
# run inside a transaction), PostgreSQL's "SET LOCAL jit = off", and the upsert.
FIGURE_QUERIES = 11 + 2 + 1


def test_the_page_runs_a_fixed_number_of_queries_whatever_the_data_size(
    client_for, manager, may, at_now, django_assert_num_queries
):
    client = client_for(manager)
    recompute = FIGURE_QUERIES + (1 if connection.vendor == "postgresql" else 0)
    with django_assert_num_queries(PAGE_QUERIES + recompute):
        client.get(AUDIT, {"month": "2026-05"})  # computes and stores the figures
    with django_assert_num_queries(PAGE_QUERIES):
        client.get(AUDIT, {"month": "2026-05"})  # reads them
    # when the month gets thirty more handoffs, new reps' rows and breaches
    _more_handoffs(may, 30)
    # then computing the figures again takes the same queries, and reading them too
    later = NOW + ROLLUP_MAX_AGE + timedelta(seconds=1)
    with time_machine.travel(later, tick=False):
        with django_assert_num_queries(PAGE_QUERIES + recompute):
            response = client.get(AUDIT, {"month": "2026-05"})
        assert response.context["figures"]["marketing"]["mqls_delivered"] == 38
        with django_assert_num_queries(PAGE_QUERIES):
            client.get(AUDIT, {"month": "2026-05"})
