"""In a browser: a manager opens last month's audit, reads the figures and signs it off."""

import re
from datetime import UTC, datetime, time, timedelta

import pytest
from django.utils import timezone

from slas.audit import AuditMonth
from slas.models import AuditSignoff
from tests.factories import UserFactory
from tests.leads.factories import LeadFactory
from tests.slas.factories import AgreementFactory, WorkingCalendarFactory
from tests.slas.test_audit_figures import handoff


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_manager_reads_last_months_audit_and_signs_it_off(live_server, page):
    from playwright.sync_api import expect

    # given last month under an agreement, with three handoffs: two touched in time, one late
    month = AuditMonth.before()
    agreement = AgreementFactory(
        name="Browser SLA",
        starts_on=month.first,
        ends_on=month.last,
        calendar=WorkingCalendarFactory(name="Browser calendar", timezone="UTC"),
        mqls_per_month=3,
    )
    manager = UserFactory(
        username="head-of-sales", first_name="Hana", last_name="Head", role="Manager"
    )
    rep = UserFactory(username="browser-rep", first_name="Rita", last_name="Rep", role="Sales rep")
    # the 10th at 09:00 UTC may be a weekend: the figures below hold on the plain clock too
    start = datetime.combine(month.first + timedelta(days=9), time(9), tzinfo=UTC)
    for hours_to_touch, due_hours in ((1, 4), (2, 4), (6, 4)):
        handoff(
            lead=LeadFactory(),
            agreement=agreement,
            created=start,
            due=start + timedelta(hours=due_hours),
            owner=rep,
            met=start + timedelta(hours=hours_to_touch),
        )
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    failed = []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)

    # when the manager logs in, they land on last month's audit
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("head-of-sales")
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/slas/audit/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"SLA audit: {month.label}")

    # then they see the month's figures and its charts
    expect(page.locator("#stat-mqls .stat-value")).to_have_text("3")
    expect(page.locator("#stat-mqls")).to_contain_text("target 3 · met")
    expect(page.locator("#stat-within-sla .stat-value")).to_have_text("66.7%")
    expect(page.locator("#audit-reps")).to_contain_text("Rita Rep")
    expect(page.locator("svg.audit-chart")).to_have_count(3)
    expect(page.locator("#audit-status h2")).to_have_text("Not signed yet")

    # when they sign as the sales head with a comment
    page.get_by_label("Comment (sales head)").fill("One late touch; we moved the rota.")
    page.get_by_role("button", name="Sign as sales head").click()

    # then the page shows the signed state, who signed and the comment
    expect(page.get_by_role("status")).to_contain_text(
        f"You signed the {month.label} audit as the sales head."
    )
    expect(page.locator("#audit-status h2")).to_have_text("Signed by one head")
    expect(page.locator("#signoff-sales")).to_contain_text("Signed by Hana Head")
    expect(page.locator("#signoff-sales")).to_contain_text("One late touch; we moved the rota.")
    expect(page.get_by_role("button", name="Sign as sales head")).to_have_count(0)
    expect(page.get_by_role("button", name="Sign as marketing head")).to_be_visible()
    signoff = AuditSignoff.objects.get()
    assert (signoff.side, signoff.signed_by, signoff.month) == ("sales", manager, month.first)
    assert signoff.signed_at <= timezone.now()
    assert signoff.figures["marketing"]["mqls_delivered"] == 3

    # and printing hides the month picker and the forms
    page.emulate_media(media="print")
    expect(page.locator(".audit-month-picker")).to_be_hidden()
    expect(page.get_by_role("button", name="Sign as marketing head")).to_be_hidden()
    expect(page.locator("#audit-reps")).to_be_visible()

    # and nothing broke: no script errors and no content-security-policy violations
    assert [url for url in failed if not url.endswith("/favicon.ico")] == []
    assert [p for p in problems if "favicon" not in p and "404" not in p] == []
