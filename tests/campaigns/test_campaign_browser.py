"""In a real browser: a marketer creates a campaign with talking points; a rep sees it on
the calendar and in the handoff context of a lead from that campaign."""

import datetime

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Log in").click()


def test_marketer_plans_a_campaign_and_a_rep_sees_it_on_the_calendar_and_the_lead(
    live_server, browser
):
    from campaigns.models import Campaign
    from leads.models import Stage
    from leads.services import lead_claim, lead_transition
    from tests.factories import UserFactory
    from tests.leads.factories import LeadFactory

    # an earlier transactional test may have flushed the role groups the migrations made
    for role in ("Sales rep", "Marketer", "Manager"):
        Group.objects.get_or_create(name=role)
    marketer = UserFactory(username="maya", role="Marketer")
    rep = UserFactory(username="ravi", role="Sales rep")
    today = timezone.localdate()

    # the marketer creates the campaign through the form
    marketing = browser.new_page()
    log_in(marketing, live_server.url, "maya")
    marketing.goto(f"{live_server.url}/campaigns/new/")
    marketing.get_by_label("Name").fill("Winter pipeline webinar")
    marketing.get_by_label("Channel").select_option("webinar")
    marketing.get_by_label("Start date").fill(today.isoformat())
    marketing.get_by_label("End date").fill((today + datetime.timedelta(days=2)).isoformat())
    marketing.get_by_label("Talking point 1").fill("Ask how leads are routed today.")
    marketing.get_by_label("Talking point 2").fill("Offer the free pipeline audit.")
    marketing.get_by_label("Quote").fill("We answer every lead within the hour now.")
    marketing.get_by_role("button", name="Create campaign").click()
    expect(marketing.get_by_role("heading", level=1)).to_have_text("Winter pipeline webinar")
    campaign = Campaign.objects.get(name="Winter pipeline webinar")

    # a lead from that campaign is handed off and claimed by the rep
    lead = LeadFactory(first_name="Ada", last_name="Lovelace", source_campaign=campaign)
    lead_transition(lead_id=lead.pk, actor=marketer, to=Stage.MQL)
    lead_claim(lead_id=lead.pk, rep=rep)

    # the rep sees the campaign on the calendar and opens it from there
    sales = browser.new_page()
    log_in(sales, live_server.url, "ravi")
    sales.goto(f"{live_server.url}/campaigns/calendar/")
    calendar = sales.get_by_role("table")
    entry = calendar.get_by_role("link", name="Winter pipeline webinar").first
    expect(entry).to_be_visible()
    entry.focus()
    sales.keyboard.press("Enter")
    expect(sales.get_by_text("Ask how leads are routed today.")).to_be_visible()

    # and in the handoff context of the lead
    sales.goto(f"{live_server.url}/leads/{lead.pk}/")
    expect(sales.get_by_text("Offer the free pipeline audit.")).to_be_visible()
    expect(sales.get_by_text("We answer every lead within the hour now.")).to_be_visible()
