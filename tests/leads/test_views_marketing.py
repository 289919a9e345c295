"""Marketing's pages: the leads list, returned-to-nurture, manual qualify and disqualify."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from leads.marketing_selectors import LeadListQuery, lead_list_page
from leads.models import Handoff, Lead, LeadStageChange, Stage, Temperature
from leads.selectors import QueueFilters
from leads.services import lead_claim, lead_transition
from tests.campaigns.factories import CampaignFactory
from tests.leads.factories import HandoffFactory, LeadFactory, owned_lead, pool_lead


def returned_lead(*, marketer, rep, reason: str, note: str = "", **lead_fields) -> Lead:
    """A lead marketing qualified, the rep claimed and then returned with ``reason``."""
    lead = LeadFactory(stage=Stage.NEW, **lead_fields)
    lead_transition(lead_id=lead.pk, actor=marketer, to=Stage.MQL)
    lead_claim(lead_id=lead.pk, rep=rep)
    return lead_transition(
        lead_id=lead.pk, actor=rep, to=Stage.RECYCLED, reason_code=reason, note=note
    )


def listed(response) -> list[str]:
    return [lead.email for lead in response.context["leads"]]


# --- the leads list ---------------------------------------------------------------------------
@pytest.mark.django_db
def test_leads_list_filters_by_stage_kind_temperature_campaign_owner_and_search(
    client_for, marketer, rep
):
    # given leads that differ in one attribute each
    campaign = CampaignFactory()
    hot = LeadFactory(email="hot@x.example", temperature=Temperature.HOT)
    pql = LeadFactory(email="pql@x.example", stage=Stage.PQL, kind=Stage.PQL)
    from_campaign = LeadFactory(email="camp@x.example", source_campaign=campaign)
    mine = owned_lead(rep, email="owned@x.example")
    acme = LeadFactory(email="someone@x.example", company="Acme Rockets")
    client = client_for(marketer)
    url = reverse("leads:list")
    # when the marketer filters, then only the matching lead is listed
    assert listed(client.get(url, {"temperature": "hot"})) == [hot.email]
    assert listed(client.get(url, {"kind": "pql"})) == [pql.email]
    assert listed(client.get(url, {"stage": "pql"})) == [pql.email]
    assert listed(client.get(url, {"campaign": campaign.pk})) == [from_campaign.email]
    assert listed(client.get(url, {"owner": rep.pk})) == [mine.email]
    assert mine.email not in listed(client.get(url, {"owner": "none"}))
    assert listed(client.get(url, {"q": "rockets"})) == [acme.email]
    unfiltered = client.get(url)
    assert len(listed(unfiltered)) == 5
    assert "leads that entered" not in unfiltered.content.decode()


@pytest.mark.django_db
def test_leads_list_and_its_export_keep_leads_scoring_at_least_the_minimum(client_for, marketer):
    # given leads scoring 39, 40 and 85
    LeadFactory(email="cold@x.example", score=39)
    warm = LeadFactory(email="warm@x.example", score=40)
    hot = LeadFactory(email="hot@x.example", score=85)
    client = client_for(marketer)
    # when the marketer asks for a score of at least 40, highest first
    response = client.get(reverse("leads:list"), {"min_score": 40, "sort": "score"})
    # then the list and its CSV export hold the two that qualify
    assert listed(response) == [hot.email, warm.email]
    export = client.get(reverse("leads:list_csv"), {"min_score": 40})
    body = b"".join(export.streaming_content).decode()
    assert "warm@x.example" in body and "hot@x.example" in body
    assert "cold@x.example" not in body
    # and a score that is not a number is a field error, not a crash
    response = client.get(reverse("leads:list"), {"min_score": "lots"})
    assert response.status_code == 200
    assert "Enter a whole number." in response.content.decode()


@pytest.mark.django_db
def test_a_reps_list_holds_the_leads_they_own_in_every_stage_and_nobody_elses(
    client_for, rep, other_rep
):
    # given the rep's open lead and closed deal, another rep's lead, a pool lead, a new lead
    working = owned_lead(rep, stage=Stage.SAL, email="working@x.example")
    won = owned_lead(rep, stage=Stage.WON, email="won@x.example")
    owned_lead(other_rep, email="theirs@x.example")
    pool_lead(email="pool@x.example")
    LeadFactory(email="new@x.example")
    client = client_for(rep)
    # when the rep opens the leads list, even asking for the other rep's leads
    response = client.get(reverse("leads:list"), {"owner": other_rep.pk})
    # then it is "My leads": theirs alone, open and closed, with no owner filter to change that
    assert response.status_code == 200
    assert set(listed(response)) == {working.email, won.email}
    html = response.content.decode()
    assert "<h1>My leads</h1>" in html
    assert 'name="owner"' not in html
    assert "Export CSV" not in html and "Import leads" not in html
    assert "leads that entered" not in html  # no drill-down asked, none announced
    assert listed(client.get(reverse("leads:list"), {"stage": "won"})) == [won.email]
    # and marketing's export stays marketing's
    assert client.get(reverse("leads:list_csv")).status_code == 403


@pytest.mark.django_db
def test_leads_list_sorts_by_score_and_by_created_date(client_for, marketer):
    low = LeadFactory(email="low@x.example", score=10)
    high = LeadFactory(email="high@x.example", score=90)
    Lead.objects.filter(pk=high.pk).update(created_at=timezone.now() - timedelta(days=3))
    client = client_for(marketer)
    url = reverse("leads:list")
    assert listed(client.get(url, {"sort": "score"})) == [high.email, low.email]
    assert listed(client.get(url, {"sort": "score_low"})) == [low.email, high.email]
    assert listed(client.get(url)) == [low.email, high.email]  # newest first
    assert listed(client.get(url, {"sort": "oldest"})) == [high.email, low.email]


@pytest.mark.django_db
def test_keyset_pages_walk_every_lead_once_even_with_equal_scores(marketer):
    # given five leads, three of them with the same score
    leads = [LeadFactory(score=s) for s in (50, 50, 50, 70, 10)]
    query = LeadListQuery(sort="score")
    # when the list is read two at a time
    seen, after = [], ""
    while True:
        page, after = lead_list_page(user=marketer, query=query, after=after, limit=2)
        seen += [lead.pk for lead in page]
        if not after:
            break
    # then every lead comes once, by score then newest id
    assert seen == [leads[3].pk, leads[2].pk, leads[1].pk, leads[0].pk, leads[4].pk]


@pytest.mark.django_db
def test_leads_list_offers_a_next_page_link_without_counting(client_for, marketer):
    for _ in range(51):
        LeadFactory()
    response = client_for(marketer).get(reverse("leads:list"))
    assert len(response.context["leads"]) == 50
    assert response.context["next_url"].startswith("?after=")
    second = client_for(marketer).get(reverse("leads:list") + response.context["next_url"])
    assert len(second.context["leads"]) == 1
    assert second.context["next_url"] == ""


@pytest.mark.django_db
def test_reached_drill_down_lists_leads_that_entered_the_stage_in_the_period(client_for, marketer):
    # given one lead that became an MQL last week and one long ago
    recent, old = LeadFactory(stage=Stage.MQL), LeadFactory(stage=Stage.MQL)
    now = timezone.now()
    LeadStageChange.objects.create(lead=recent, to_stage=Stage.MQL, created_at=now)
    LeadStageChange.objects.create(
        lead=old, to_stage=Stage.MQL, created_at=now - timedelta(days=200)
    )
    # when the pipeline's "reached MQL in the last 90 days" link is followed
    response = client_for(marketer).get(reverse("leads:list"), {"reached": "mql", "period": "90d"})
    # then only the recent one is listed, and the page says why
    assert listed(response) == [recent.email]
    assert "Only leads that entered MQL" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("n", [3, 30])
@pytest.mark.parametrize("reader", ["marketer", "rep"])
def test_leads_list_takes_a_fixed_number_of_queries(
    n, reader, client_for, marketer, rep, django_assert_num_queries
):
    campaign = CampaignFactory()
    for _ in range(n):
        owned_lead(rep, source_campaign=campaign)
    client = client_for(marketer if reader == "marketer" else rep)
    # session, user, roles, campaigns, reps, the page of leads, unread notifications
    with django_assert_num_queries(7):
        response = client.get(reverse("leads:list"), {"sort": "score", "campaign": campaign.pk})
    assert len(response.context["leads"]) == n


# --- returned to nurture ----------------------------------------------------------------------
@pytest.mark.django_db
def test_nurture_lists_returned_leads_with_reason_who_and_when(client_for, marketer, rep):
    # given a lead the rep returned for lack of budget, and a lead still with sales
    lead = returned_lead(
        marketer=marketer,
        rep=rep,
        reason="no_budget",
        note="Budget frozen until <b>spring</b>",
        email="nb@x.example",
    )
    owned_lead(rep, email="working@x.example")
    # when marketing opens the nurture page
    response = client_for(marketer).get(reverse("leads:nurture"))
    # then the returned lead is listed with its reason, the rep's comment, who returned it and when
    assert listed(response) == [lead.email]
    assert "Budget frozen until &lt;b&gt;spring&lt;/b&gt;" in response.content.decode()
    row = response.context["leads"][0]
    assert (row.return_reason, row.returned_by) == ("no_budget", rep)
    assert row.returned_at == Handoff.objects.get(lead=lead).closed_at
    html = response.content.decode()
    assert "No budget" in html
    assert rep.get_full_name() in html


@pytest.mark.django_db
def test_nurture_counts_returns_per_reason_in_the_period(client_for, marketer, rep):
    # given three returns this month and one long ago
    for reason in ("no_budget", "no_budget", "bad_fit", "not_ready"):
        returned_lead(marketer=marketer, rep=rep, reason=reason)
    Handoff.objects.filter(return_reason="not_ready").update(
        closed_at=timezone.now() - timedelta(days=200)
    )
    # when the nurture page is read for the last 90 days
    response = client_for(marketer).get(reverse("leads:nurture"), {"period": "90d"})
    # then the counts per reason cover the period only, most frequent first
    counts = [(c.reason, c.count) for c in response.context["counts"]]
    assert counts == [("no_budget", 2), ("bad_fit", 1)]
    assert response.context["returns_total"] == 3
    # and a reason narrows the list to the leads last returned with it
    narrowed = client_for(marketer).get(reverse("leads:nurture"), {"reason": "bad_fit"})
    assert [lead.return_reason for lead in narrowed.context["leads"]] == ["bad_fit"]


@pytest.mark.django_db
@pytest.mark.parametrize("n", [2, 12])
def test_nurture_page_takes_a_fixed_number_of_queries(
    n, client_for, marketer, rep, django_assert_num_queries
):
    for _ in range(n):
        returned_lead(marketer=marketer, rep=rep, reason="bad_fit")
    client = client_for(marketer)
    # session, user, roles, the leads, who returned them, counts per reason, unread
    with django_assert_num_queries(7):
        response = client.get(reverse("leads:nurture"))
    assert len(response.context["leads"]) == n


# --- qualify and disqualify by hand -----------------------------------------------------------
@pytest.mark.django_db
def test_marketer_qualifies_a_recycled_lead_to_mql_with_a_note(client_for, marketer, rep):
    # given a lead sales returned
    lead = returned_lead(marketer=marketer, rep=rep, reason="not_ready")
    # when the marketer qualifies it from the nurture list with a note
    response = client_for(marketer).post(
        reverse("leads:nurture_qualify", args=[lead.pk]),
        {"note": "Budget approved for Q3", "next": reverse("leads:nurture")},
    )
    # then it is an MQL again with a new handoff, and the history row keeps the note
    assert response.status_code == 302
    assert response["Location"] == reverse("leads:nurture")
    lead.refresh_from_db()
    assert (lead.stage, lead.kind) == (Stage.MQL, Stage.MQL)
    change = LeadStageChange.objects.filter(lead=lead).latest("created_at", "pk")
    assert (change.from_stage, change.to_stage) == (Stage.RECYCLED, Stage.MQL)
    assert (change.actor, change.note) == (marketer, "Budget approved for Q3")
    assert Handoff.objects.filter(lead=lead, closed_at__isnull=True).count() == 1


@pytest.mark.django_db
def test_marketer_qualifies_a_new_lead_from_the_leads_list(client_for, marketer):
    lead = LeadFactory(stage=Stage.NEW)
    back = reverse("leads:list") + "?stage=new"
    response = client_for(marketer).post(
        reverse("leads:nurture_qualify", args=[lead.pk]),
        {"note": "Spoke at our event", "next": back},
    )
    assert response["Location"] == back
    lead.refresh_from_db()
    assert lead.stage == Stage.MQL


@pytest.mark.django_db
def test_qualifying_needs_a_note(client_for, marketer):
    lead = LeadFactory(stage=Stage.NEW)
    response = client_for(marketer).post(
        reverse("leads:nurture_qualify", args=[lead.pk]), {"note": ""}, follow=True
    )
    assert "the note goes to sales" in response.content.decode()
    lead.refresh_from_db()
    assert lead.stage == Stage.NEW


@pytest.mark.django_db
def test_qualifying_a_lead_sales_holds_is_refused_with_the_reason(client_for, marketer, rep):
    lead = owned_lead(rep, stage=Stage.SAL)
    response = client_for(marketer).post(
        reverse("leads:nurture_qualify", args=[lead.pk]), {"note": "again"}, follow=True
    )
    assert "cannot move to MQL" in response.content.decode()
    lead.refresh_from_db()
    assert lead.stage == Stage.SAL


@pytest.mark.django_db
def test_rep_cannot_qualify_a_lead(client_for, rep, marketer):
    lead = returned_lead(marketer=marketer, rep=rep, reason="bad_fit")
    response = client_for(rep).post(
        reverse("leads:nurture_qualify", args=[lead.pk]), {"note": "I like it now"}
    )
    assert response.status_code == 403
    lead.refresh_from_db()
    assert lead.stage == Stage.RECYCLED


@pytest.mark.django_db
def test_rep_cannot_open_marketings_nurture_list(client_for, rep):
    client = client_for(rep)
    assert client.get(reverse("leads:nurture")).status_code == 403


@pytest.mark.django_db
def test_marketer_disqualifies_a_recycled_lead_with_a_reason(client_for, marketer, rep):
    lead = returned_lead(marketer=marketer, rep=rep, reason="duplicate")
    client_for(marketer).post(
        reverse("leads:nurture_disqualify", args=[lead.pk]),
        {"reason_code": "duplicate", "note": "Same person as lead 12"},
    )
    lead.refresh_from_db()
    assert lead.stage == Stage.DISQUALIFIED
    change = LeadStageChange.objects.filter(lead=lead).latest("created_at", "pk")
    assert (change.to_stage, change.reason_code) == (Stage.DISQUALIFIED, "duplicate")


@pytest.mark.django_db
def test_disqualifying_needs_a_known_reason(client_for, marketer):
    lead = LeadFactory(stage=Stage.NEW)
    client_for(marketer).post(
        reverse("leads:nurture_disqualify", args=[lead.pk]), {"reason_code": "meh"}
    )
    lead.refresh_from_db()
    assert lead.stage == Stage.NEW


@pytest.mark.django_db
def test_qualifying_a_missing_lead_is_not_found(client_for, marketer):
    response = client_for(marketer).post(
        reverse("leads:nurture_qualify", args=[999999]), {"note": "x"}
    )
    assert response.status_code == 404


@pytest.mark.django_db
def test_an_outside_next_address_is_ignored(client_for, marketer):
    lead = LeadFactory(stage=Stage.NEW)
    response = client_for(marketer).post(
        reverse("leads:nurture_qualify", args=[lead.pk]),
        {"note": "ok", "next": "https://evil.example/"},
    )
    assert response["Location"] == reverse("leads:nurture")


@pytest.mark.django_db
def test_pool_leads_in_the_list_belong_to_nobody(marketer):
    lead = HandoffFactory().lead
    page, _ = lead_list_page(
        user=marketer,
        query=LeadListQuery(filters=QueueFilters(stage=Stage.MQL), owner="none"),
    )
    assert page == [lead]


@pytest.mark.django_db
def test_the_qualify_forms_also_open_as_a_page_of_their_own(client_for, marketer, rep):
    # given a returned lead (the lists open these forms in a dialog; this is the no-JS path)
    lead = returned_lead(marketer=marketer, rep=rep, reason="not_ready")
    # when the marketer follows the action link
    response = client_for(marketer).get(
        reverse("leads:nurture_act", args=[lead.pk]), {"next": reverse("leads:list")}
    )
    # then both forms are there and lead back to where the marketer came from
    html = response.content.decode()
    assert reverse("leads:nurture_qualify", args=[lead.pk]) in html
    assert reverse("leads:nurture_disqualify", args=[lead.pk]) in html
    assert f'name="next" value="{reverse("leads:list")}"' in html


@pytest.mark.django_db
def test_managers_get_a_reassign_action_for_leads_sales_holds(client_for, manager, rep):
    lead = owned_lead(rep)
    html = client_for(manager).get(reverse("leads:list")).content.decode()
    assert reverse("leads:manage_reassign", args=[lead.pk]) in html
