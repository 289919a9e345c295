"""The queue issue's browser journeys, in Debian Chromium through the real pages."""

import re

import pytest
from playwright.sync_api import expect

from leads.models import Handoff, Lead, Stage, Touch
from tests.conftest import wait_for
from tests.factories import UserFactory
from tests.leads.factories import owned_lead, pool_lead

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct-horse-battery"


def log_in(browser, live_server, username):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state("load")
    page.wait_for_function("() => window.htmx !== undefined")
    return page


def test_rep_claims_accepts_logs_a_call_and_qualifies_to_sql(browser, live_server):
    # given a rep and a lead waiting in the pool
    UserFactory(username="journey-rep", role="Sales rep")
    lead = pool_lead(first_name="Grace", last_name="Hopper", company="Cobol Systems")
    page = log_in(browser, live_server, "journey-rep")
    expect(page).to_have_url(re.compile(r"/leads/queue/"))

    # when they claim the next lead, it is theirs, in My leads
    page.get_by_role("button", name=re.compile("Claim next")).click()
    row = page.locator(f"#lead-row-{lead.pk}")
    expect(row).to_contain_text("Grace Hopper")

    # and accept it in place
    row.get_by_role("button", name=re.compile("^Accept")).click()
    expect(row.locator(".badge-stage-sal")).to_be_visible()

    # and log a call: the first touch stops the clock
    row.get_by_role("link", name=re.compile("Log touch")).click()
    dialog = page.locator("dialog[open]")
    dialog.get_by_label("Call").check()
    dialog.get_by_label("Outcome").select_option("connected")
    dialog.get_by_label("Note").fill("Discussed routing pains")
    dialog.get_by_role("button", name="Log touch").click()
    expect(row).to_contain_text(re.compile("touched", re.I))

    # and qualify it to SQL with BANT from the lead's page
    row.get_by_role("link", name="Grace Hopper").click()
    page.wait_for_function("() => window.htmx !== undefined")
    page.get_by_role("link", name=re.compile("Qualify to SQL")).first.click()
    dialog = page.locator("dialog[open]")
    dialog.get_by_label("Budget").fill("40k this year")
    dialog.get_by_label("Authority").fill("VP Sales signs")
    dialog.get_by_label("Need").fill("Leads fall through the cracks")
    dialog.get_by_label("Timeline").fill("Q1")
    dialog.get_by_role("button", name="Qualify to SQL").click()
    expect(page.locator(".badge-stage-sql").first).to_be_visible()
    expect(page.locator(".timeline")).to_contain_text("Call")

    # then the database agrees with what the rep saw
    lead.refresh_from_db()
    assert lead.stage == Stage.SQL
    assert lead.bant_budget == "40k this year"
    assert Touch.objects.get(lead=lead).kind == "call"
    assert Handoff.objects.get(lead=lead).first_touch_at is not None


def test_a_returned_lead_reaches_the_marketers_nurture_list_and_bell(browser, live_server):
    # given a marketer watching their bell, and another rep's accepted lead
    UserFactory(username="journey-marketer", role="Marketer")
    rep = UserFactory(username="journey-rep2", role="Sales rep")
    lead = owned_lead(rep, stage=Stage.SAL, first_name="Alan", last_name="Kay", company="Parc")
    marketer_page = log_in(browser, live_server, "journey-marketer")
    bell = marketer_page.locator(".bell")
    expect(bell).not_to_contain_text("unread")

    # when the rep returns the lead to marketing with a reason
    rep_page = log_in(browser, live_server, "journey-rep2")
    rep_page.goto(f"{live_server.url}/leads/{lead.pk}/")
    rep_page.wait_for_function("() => window.htmx !== undefined")
    rep_page.get_by_role("link", name=re.compile("Return to marketing")).first.click()
    dialog = rep_page.locator("dialog[open]")
    dialog.get_by_label("Reason").select_option("no_budget")
    dialog.get_by_label("Comment for marketing").fill("Budget frozen until spring")
    dialog.get_by_role("button", name="Return to marketing").click()
    wait_for(lambda: Lead.objects.get(pk=lead.pk).stage == Stage.RECYCLED)

    # then the marketer's bell updates by itself (it polls every 30 s)
    expect(bell).to_contain_text("1 unread", timeout=40_000)
    # and "Returned to nurture" lists the lead with its reason
    nav = marketer_page.get_by_role("navigation", name="Main")
    nav.get_by_text("Leads ▾").click()  # a marketer's header groups its links in menus
    nav.get_by_role("link", name="Returned to nurture").click()
    listing = marketer_page.locator("main")
    expect(listing).to_contain_text("Alan Kay")
    expect(listing).to_contain_text("No budget")
    expect(listing).to_contain_text("Budget frozen until spring")
