"""The lead queue page: My leads and the pool, filters, paging, claim, and the row actions
(with htmx in place, and as plain POST + redirect without JavaScript)."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from leads import selectors
from leads.models import (
    Handoff,
    Lead,
    LeadAssignment,
    LeadFeedback,
    LeadStageChange,
    Stage,
    Temperature,
    Touch,
)
from leads.selectors import QUEUE_PAGE_SIZE
from leads.views.queue import duration_text, first_touch_clock
from tests.campaigns.factories import CampaignFactory
from tests.leads.factories import HandoffFactory, LeadFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
QUEUE = reverse("leads:queue")


def assigned(rep, *, due_in: float = 4, stage=Stage.MQL, **lead_fields) -> Lead:
    """A lead in ``rep``'s queue whose first touch is due in ``due_in`` hours."""
    now = timezone.now()
    lead = LeadFactory(
        stage=stage, kind=lead_fields.pop("kind", Stage.MQL), owner=rep, **lead_fields
    )
    accepted = stage not in (Stage.MQL, Stage.PQL, Stage.CQL)
    HandoffFactory(
        lead=lead,
        kind=lead.kind,
        owner=rep,
        status=Handoff.Status.ACCEPTED if accepted else Handoff.Status.ASSIGNED,
        created_at=now - timedelta(hours=1),
        assigned_at=now,
        first_touch_due_at=now + timedelta(hours=due_in),
    )
    return lead


def pooled(*, due_in: float = 4, **lead_fields) -> Lead:
    """A lead waiting in the pool whose first touch is due in ``due_in`` hours."""
    now = timezone.now()
    kind = lead_fields.pop("kind", Stage.MQL)
    lead = LeadFactory(stage=kind, kind=kind, **lead_fields)
    HandoffFactory(
        lead=lead,
        kind=kind,
        created_at=now - timedelta(hours=1),
        first_touch_due_at=now + timedelta(hours=due_in),
    )
    return lead


def row_ids(response) -> list[int]:
    """The leads listed as queue rows, in page order."""
    return [
        int(pk) for pk in re.findall(r'id="lead-row-(\d+)" data-row', response.content.decode())
    ]


# --- what the queue shows -------------------------------------------------------------------
def test_my_leads_lists_the_reps_open_leads_by_first_touch_due_time(client, rep, other_rep):
    # given three of the rep's leads due at different times, another rep's lead and a pool lead
    later = assigned(rep, due_in=20, first_name="Later")
    soon = assigned(rep, due_in=1, first_name="Soon")
    overdue = assigned(rep, due_in=-2, first_name="Overdue")
    assigned(other_rep, due_in=0.5)
    pooled(due_in=0.2)
    client.force_login(rep)
    # when the rep opens the queue
    response = client.get(QUEUE)
    # then My leads shows only their leads, the most urgent first
    assert response.status_code == 200
    assert row_ids(response) == [overdue.pk, soon.pk, later.pk]
    assert 'aria-current="page" data-shortcut="m"' in response.content.decode()


def test_leads_due_at_the_same_time_are_ordered_by_score(client, rep):
    # given two pool leads due at the very same time
    now = timezone.now()
    low, high = (
        LeadFactory(stage=Stage.MQL, kind=Stage.MQL, score=10),
        LeadFactory(stage=Stage.MQL, kind=Stage.MQL, score=90),
    )
    for lead in (low, high):
        HandoffFactory(lead=lead, created_at=now, first_touch_due_at=now + timedelta(hours=3))
    client.force_login(rep)
    # when the rep looks at the pool
    response = client.get(QUEUE, {"tab": "pool"})
    # then the higher score comes first
    assert row_ids(response) == [high.pk, low.pk]


def test_pool_tab_lists_unclaimed_leads_but_no_reps_leads(client, rep, other_rep):
    # given two pool leads, the rep's own lead and another rep's lead
    second = pooled(due_in=5)
    first = pooled(due_in=1)
    assigned(rep)
    assigned(other_rep)
    client.force_login(rep)
    # when the rep opens the pool tab
    response = client.get(QUEUE, {"tab": "pool"})
    # then only the pool leads are listed, most urgent first, marked unclaimed
    assert row_ids(response) == [first.pk, second.pk]
    body = response.content.decode()
    assert "Unclaimed" in body
    assert f'action="{reverse("leads:claim", args=[first.pk])}"' in body


def test_tabs_count_my_open_leads_and_the_pool(client, rep, other_rep):
    # given two leads of the rep's, one of another rep's and three in the pool
    for _ in range(2):
        assigned(rep)
    assigned(other_rep)
    for _ in range(3):
        pooled()
    client.force_login(rep)
    # when the rep opens the queue
    body = client.get(QUEUE).content.decode()
    # then the tabs carry the counts
    assert re.search(r'My leads <span class="badge badge-count">2</span>', body)
    assert re.search(r'Pool <span class="badge badge-count">3</span>', body)


def test_tab_counts_stop_at_the_cap_and_say_so(client, rep, monkeypatch):
    # given a badge cap of two, three leads of the rep's and two in the pool
    monkeypatch.setattr(selectors, "QUEUE_COUNT_CAP", 2)
    for _ in range(3):
        assigned(rep)
    for _ in range(2):
        pooled()
    client.force_login(rep)
    # when the rep opens the queue
    body = client.get(QUEUE).content.decode()
    # then the full tab says "2+" and the other keeps its exact count
    assert re.search(r'My leads <span class="badge badge-count">2\+</span>', body)
    assert re.search(r'Pool <span class="badge badge-count">2</span>', body)


def test_rows_show_kind_stage_temperature_score_campaign_and_clock(client, rep):
    # given a hot PQL from a campaign, accepted, due in two hours
    campaign = CampaignFactory(name="Spring webinar")
    lead = assigned(
        rep,
        due_in=2,
        stage=Stage.SAL,
        kind=Stage.PQL,
        temperature=Temperature.HOT,
        score=87,
        source_campaign=campaign,
        first_name="Ada",
        last_name="Lovelace",
        company="Analytical Engines",
    )
    client.force_login(rep)
    # when the rep opens the queue
    body = client.get(QUEUE).content.decode()
    # then the row says who, what, how hot and how much time is left
    row = body[body.index(f'id="lead-row-{lead.pk}"') :]
    row = row[: row.index("</tr>")]
    assert "Ada Lovelace" in row and "Analytical Engines" in row
    assert 'badge-stage-pql">PQL' in row
    assert 'badge-stage-sal">SAL' in row
    assert 'badge-temp-hot">Hot' in row
    assert ">87<" in row
    assert "Spring webinar" in row
    assert re.search(r'class="sla-ok"[^>]*>1h 59m left<', row)
    assert "Qualify to SQL" in row


@pytest.mark.parametrize(
    ("due_in", "window", "touched", "css", "text"),
    [
        (
            timedelta(hours=2, minutes=10, seconds=30),
            timedelta(hours=4),
            False,
            "sla-ok",
            "2h 10m left",
        ),
        (timedelta(hours=5), timedelta(hours=24), False, "sla-warn", "5h 0m left"),
        (timedelta(minutes=-35), timedelta(hours=4), False, "sla-breach", "overdue 35m"),
        (timedelta(days=-3, hours=-4), timedelta(hours=4), False, "sla-breach", "overdue 3d 4h"),
        (timedelta(hours=-1), timedelta(hours=4), True, "sla-done", "touched"),
    ],
)
def test_first_touch_clock_says_time_left_overdue_or_touched(due_in, window, touched, css, text):
    # given a handoff whose first touch is due ``due_in`` from now, out of a ``window`` SLA
    now = timezone.now()
    handoff = Handoff(
        created_at=now + due_in - window,
        first_touch_due_at=now + due_in,
        first_touch_at=now - timedelta(minutes=5) if touched else None,
    )
    # when the clock is read now
    clock = first_touch_clock(handoff, now=now)
    # then it shows the time left (amber under a quarter of the window), overdue, or touched
    assert (clock.css, clock.text) == (css, text)


def test_durations_are_compact():
    assert [
        duration_text(timedelta(seconds=20)),
        duration_text(timedelta(minutes=35)),
        duration_text(timedelta(hours=2, minutes=10)),
        duration_text(timedelta(days=3, hours=4, minutes=59)),
    ] == ["<1m", "35m", "2h 10m", "3d 4h"]


# --- filters, search and paging -------------------------------------------------------------
@pytest.mark.parametrize(
    ("param", "matching", "other"),
    [
        ("kind", {"kind": Stage.PQL}, {"kind": Stage.CQL}),
        ("temperature", {"temperature": Temperature.HOT}, {"temperature": Temperature.COLD}),
        ("stage", {"stage": Stage.SAL}, {"stage": Stage.MQL}),
        ("min_score", {"score": 80}, {"score": 79}),
    ],
)
def test_filters_narrow_my_leads(client, rep, param, matching, other):
    # given one lead that matches the filter and one that does not
    wanted = assigned(rep, **matching)
    assigned(rep, **other)
    client.force_login(rep)
    # when the rep filters the queue
    response = client.get(QUEUE, {param: next(iter(matching.values()))})
    # then only the matching lead is listed
    assert row_ids(response) == [wanted.pk]


def test_campaign_filter_lists_every_campaign_and_narrows_the_pool(client, rep):
    # given pool leads from two campaigns
    webinar, event = CampaignFactory(name="Webinar A"), CampaignFactory(name="Trade show B")
    wanted = pooled(source_campaign=webinar)
    pooled(source_campaign=event)
    client.force_login(rep)
    # when the rep picks one campaign in the pool
    response = client.get(QUEUE, {"tab": "pool", "campaign": webinar.pk})
    # then the select offers both campaigns and only that campaign's lead is listed
    body = response.content.decode()
    assert f'<option value="{webinar.pk}" selected>Webinar A</option>' in body
    assert "Trade show B</option>" in body
    assert row_ids(response) == [wanted.pk]


@pytest.mark.parametrize("term", ["grace", "HOPPER@", "cobol inc"])
def test_search_matches_name_email_or_company(client, rep, term):
    # given a lead named Grace Hopper at Cobol Inc and another lead
    wanted = assigned(
        rep,
        first_name="Grace",
        last_name="Hopper",
        email="g.hopper@navy.example",
        company="Cobol Inc",
    )
    assigned(
        rep, first_name="Alan", last_name="Turing", email="alan@bletchley.example", company="GCCS"
    )
    client.force_login(rep)
    # when the rep searches by part of the name, email or company, in any case
    response = client.get(QUEUE, {"search": term})
    # then only that lead is listed
    assert row_ids(response) == [wanted.pk]


def test_unknown_filter_values_are_ignored(client, rep):
    # given a lead in the rep's queue
    lead = assigned(rep)
    client.force_login(rep)
    # when the query string carries values the form does not know
    response = client.get(
        QUEUE, {"kind": "nope", "campaign": "999999", "temperature": "lukewarm", "after": "x|y"}
    )
    # then the page still answers with the unfiltered first page
    assert response.status_code == 200
    assert row_ids(response) == [lead.pk]


def test_no_match_says_so_and_offers_to_clear_the_filters(client, rep):
    assigned(rep, company="Acme")
    client.force_login(rep)
    body = client.get(QUEUE, {"search": "zzz"}).content.decode()
    assert "No leads match these filters." in body


def test_filtering_with_htmx_answers_with_the_results_only(client, rep):
    # given two leads
    wanted = assigned(rep, company="Initech")
    assigned(rep, company="Globex")
    client.force_login(rep)
    # when the filter form asks htmx to swap the results
    response = client.get(
        QUEUE, {"search": "initech"}, headers={**HTMX, "HX-Target": "queue-results"}
    )
    # then the answer is the results fragment, not the page
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="queue-results">')
    assert "<html" not in body
    assert row_ids(response) == [wanted.pk]
    assert "HX-Request" in response["Vary"]


def test_next_page_link_carries_the_cursor_and_the_filters(client, rep):
    # given more hot pool leads than fit one page, and a cold one
    hot = [pooled(due_in=i + 1, temperature=Temperature.HOT) for i in range(QUEUE_PAGE_SIZE + 2)]
    pooled(due_in=0.5, temperature=Temperature.COLD)
    client.force_login(rep)
    # when the rep filters the pool on hot leads
    first = client.get(QUEUE, {"tab": "pool", "temperature": "hot"})
    # then the first page holds a page of them and a "Next page" link keeps the filters
    assert row_ids(first) == [lead.pk for lead in hot[:QUEUE_PAGE_SIZE]]
    link = re.search(r'href="(/leads/queue/\?[^"]+)" rel="next"', first.content.decode())
    assert link
    next_url = link.group(1).replace("&amp;", "&")
    assert "after=" in next_url and "temperature=hot" in next_url and "tab=pool" in next_url
    # and following it shows the rest, with a way back to the first page and no further link
    second = client.get(next_url)
    assert row_ids(second) == [lead.pk for lead in hot[QUEUE_PAGE_SIZE:]]
    assert 'rel="next"' not in second.content.decode()
    assert "First page" in second.content.decode()


def test_paging_through_ties_on_due_time_and_score_lists_every_lead_once(client, rep):
    # given a weekend's worth of pool leads all due at one instant, in two score groups
    due = timezone.now() + timedelta(hours=3)
    leads = [pooled(score=50 if i % 2 else 70) for i in range(QUEUE_PAGE_SIZE + 6)]
    Handoff.objects.filter(lead__in=leads).update(first_touch_due_at=due)
    client.force_login(rep)
    # when the rep pages through the pool
    first = client.get(QUEUE, {"tab": "pool"})
    link = re.search(r'href="(/leads/queue/\?[^"]+)" rel="next"', first.content.decode())
    second = client.get(link.group(1).replace("&amp;", "&"))
    # then both pages together hold each lead exactly once: higher scores first, then by id
    seen = row_ids(first) + row_ids(second)
    expected = sorted(leads, key=lambda lead: (-lead.score, Handoff.objects.get(lead=lead).pk))
    assert seen == [lead.pk for lead in expected]


# --- claim next and claim -------------------------------------------------------------------
def test_claim_next_without_js_assigns_the_most_urgent_pool_lead(client, rep):
    # given two pool leads
    pooled(due_in=6)
    urgent = pooled(due_in=1)
    client.force_login(rep)
    # when the rep posts "claim next" from a plain form
    response = client.post(reverse("leads:claim_next"), {"tab": "pool"})
    # then the most urgent lead is theirs and they land on My leads, where it is listed
    assert response.status_code == 302
    assert response["Location"] == f"{QUEUE}?tab=mine"
    urgent.refresh_from_db()
    assert urgent.owner == rep
    assert LeadAssignment.objects.filter(
        lead=urgent, to_owner=rep, reason=LeadAssignment.Reason.CLAIMED
    ).exists()
    page = client.get(response["Location"])
    assert row_ids(page) == [urgent.pk]
    assert f"You claimed {urgent}" in page.content.decode()


def test_claim_next_with_htmx_shows_my_leads_with_the_claimed_lead_selected(client, rep):
    # given a pool lead
    lead = pooled()
    client.force_login(rep)
    # when the rep presses "claim next" (htmx)
    response = client.post(reverse("leads:claim_next"), {"tab": "pool"}, headers=HTMX)
    # then the queue fragment shows My leads with the lead selected, and the URL follows
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="queue">')
    assert f'id="lead-row-{lead.pk}" data-row class="is-selected"' in body
    assert "You claimed" in body
    assert response["HX-Push-Url"] == f"{QUEUE}?tab=mine"
    assert Handoff.objects.get(lead=lead).owner == rep


def test_claim_next_with_an_empty_pool_says_so(client, rep):
    # given an empty pool
    client.force_login(rep)
    # when the rep presses "claim next", with and without htmx
    fragment = client.post(reverse("leads:claim_next"), {"tab": "pool"}, headers=HTMX)
    plain = client.post(reverse("leads:claim_next"), follow=True)
    # then both say there is nothing to claim
    assert "The pool is empty: there is no lead to claim right now." in fragment.content.decode()
    assert "The pool is empty: there is no lead to claim right now." in plain.content.decode()


def test_claiming_a_pool_row_moves_it_to_my_leads_and_updates_the_counts(client, rep):
    # given a pool lead shown in the pool tab
    lead = pooled()
    client.force_login(rep)
    # when the rep clicks its "Claim" button (htmx)
    response = client.post(
        reverse("leads:claim", args=[lead.pk]),
        {"ctx": "queue", "tab": "pool", "next": f"{QUEUE}?tab=pool"},
        headers=HTMX,
    )
    # then the row says it was claimed, and the tab counts update out of band
    body = response.content.decode()
    assert body.lstrip().startswith(f'<tr id="lead-row-{lead.pk}">')
    assert "Claimed: it is in My leads now." in body
    assert 'id="queue-tabs" aria-label="Queue" hx-swap-oob="true"' in body
    assert re.search(r'My leads <span class="badge badge-count">1</span>', body)
    assert re.search(r'Pool <span class="badge badge-count">0</span>', body)
    # and the lead is in My leads
    assert row_ids(client.get(QUEUE)) == [lead.pk]


def test_claiming_a_lead_another_rep_just_claimed_says_so_in_the_row_and_changes_nothing(
    client, rep, other_rep
):
    # given a lead that was in the pool when the page loaded, but another rep claimed it since
    lead = pooled()
    client.force_login(other_rep)
    client.post(reverse("leads:claim", args=[lead.pk]))
    client.force_login(rep)
    # when the rep clicks "Claim" on their stale row
    response = client.post(
        reverse("leads:claim", args=[lead.pk]), {"ctx": "queue", "tab": "pool"}, headers=HTMX
    )
    # then the row says so (without telling more about a lead they may no longer see)
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith(f'<tr id="lead-row-{lead.pk}">')
    assert "another rep has it now" in body
    assert str(lead) not in body
    # and the lead stays with the other rep
    lead.refresh_from_db()
    assert lead.owner == other_rep
    assert LeadAssignment.objects.filter(lead=lead).count() == 1


def test_claiming_without_js_redirects_back_with_a_message(client, rep):
    lead = pooled()
    client.force_login(rep)
    response = client.post(
        reverse("leads:claim", args=[lead.pk]),
        {"ctx": "queue", "tab": "pool", "next": f"{QUEUE}?tab=pool"},
        follow=True,
    )
    assert response.redirect_chain == [(f"{QUEUE}?tab=pool", 302)]
    assert "Claimed: it is in My leads now." in response.content.decode()
    lead.refresh_from_db()
    assert lead.owner == rep


# --- row actions ------------------------------------------------------------------------------
def move(client, lead, to, data=None, *, tab="mine", htmx=True, dialog=False):
    payload = {"ctx": "queue", "tab": tab, "next": f"{QUEUE}?tab={tab}", **(data or {})}
    if dialog:
        payload["dialog"] = "1"
    return client.post(
        reverse("leads:move", args=[lead.pk, to]), payload, headers=HTMX if htmx else {}
    )


def test_accept_from_the_queue_updates_the_row_and_writes_history(client, rep):
    # given an MQL in the rep's queue
    lead = assigned(rep)
    client.force_login(rep)
    # when the rep clicks "Accept" in its row (htmx)
    response = move(client, lead, Stage.SAL)
    # then the lead is SAL, one history row says so, and the row shows the next step
    lead.refresh_from_db()
    assert lead.stage == Stage.SAL
    change = LeadStageChange.objects.get(lead=lead)
    assert (change.from_stage, change.to_stage, change.actor) == (Stage.MQL, Stage.SAL, rep)
    body = response.content.decode()
    assert body.lstrip().startswith(f'<tr id="lead-row-{lead.pk}" data-row')
    assert 'badge-stage-sal">SAL' in body
    assert "Qualify to SQL" in body
    assert "Accepted." in body
    assert '<div id="action-dialog-slot" hx-swap-oob="innerHTML"></div>' in body


def test_after_a_one_click_accept_the_row_asks_for_a_rating_that_one_more_click_records(
    client, rep
):
    # given a lead the rep just accepted with one click in its row
    lead = assigned(rep)
    client.force_login(rep)
    body = move(client, lead, Stage.SAL).content.decode()
    feedback_url = reverse("leads:feedback", args=[lead.pk])
    # then the row asks how good the lead is, with a button per rating
    assert "Lead quality?" in body and f'hx-post="{feedback_url}"' in body
    assert 'name="rating" value="good"' in body and 'name="rating" value="poor"' in body
    # when the rep clicks "Poor fit"
    rated = client.post(
        feedback_url,
        {"ctx": "queue", "tab": "mine", "next": f"{QUEUE}?tab=mine", "rating": "poor"},
        headers=HTMX,
    ).content.decode()
    # then marketing gets the rating as given at accept, and the row stops asking
    feedback = LeadFeedback.objects.get(lead=lead)
    assert (feedback.rating, feedback.moment, feedback.rep) == ("poor", "accept", rep)
    assert "Thanks: rated poor fit." in rated
    assert "Lead quality?" not in rated


def test_an_accept_that_came_with_a_rating_does_not_ask_again(client, rep):
    lead = assigned(rep)
    client.force_login(rep)
    body = move(client, lead, Stage.SAL, {"rating": "good"}, dialog=True).content.decode()
    assert LeadFeedback.objects.get(lead=lead).moment == "accept"
    assert "Lead quality?" not in body


def test_a_rep_can_rate_a_lead_while_disqualifying_it(client, rep):
    lead = assigned(rep, stage=Stage.SAL)
    client.force_login(rep)
    move(
        client,
        lead,
        Stage.DISQUALIFIED,
        {"reason_code": "student", "rating": "poor", "tags": ["wrong_persona"]},
        dialog=True,
    )
    assert Lead.objects.get(pk=lead.pk).stage == Stage.DISQUALIFIED
    feedback = LeadFeedback.objects.get(lead=lead)
    rated = (feedback.rating, feedback.moment, feedback.tags)
    assert rated == ("poor", "return", ["wrong_persona"])


def test_accept_without_js_redirects_back_to_the_queue_with_a_message(client, rep):
    lead = assigned(rep)
    client.force_login(rep)
    response = move(client, lead, Stage.SAL, htmx=False)
    assert response.status_code == 302
    assert response["Location"] == f"{QUEUE}?tab=mine"
    assert Lead.objects.get(pk=lead.pk).stage == Stage.SAL
    page = client.get(response["Location"]).content.decode()
    assert "Accepted." in page


def test_return_with_a_reason_and_feedback_recycles_the_lead_and_records_the_rating(client, rep):
    # given a lead the rep accepted
    lead = assigned(rep, stage=Stage.SAL)
    client.force_login(rep)
    # when the rep returns it from the dialog, rating it poor for no budget
    response = move(
        client,
        lead,
        Stage.RECYCLED,
        {
            "reason_code": "no_budget",
            "note": "Frozen until Q3",
            "rating": "poor",
            "tags": ["no_budget"],
        },
        dialog=True,
    )
    # then the lead is back in nurture, the reason is recorded, and marketing gets the rating
    lead.refresh_from_db()
    assert (lead.stage, lead.owner) == (Stage.RECYCLED, None)
    change = LeadStageChange.objects.get(lead=lead)
    assert (change.reason_code, change.note) == ("no_budget", "Frozen until Q3")
    assert Handoff.objects.get(lead=lead).return_reason == "no_budget"
    feedback = LeadFeedback.objects.get(lead=lead)
    assert (feedback.rating, feedback.moment, feedback.tags) == ("poor", "return", ["no_budget"])
    # and the row leaves My leads with a note of what happened; the counts follow
    body = response.content.decode()
    assert "Returned to marketing: No budget." in body
    assert " data-row" not in body.split("<nav")[0]
    assert re.search(r'My leads <span class="badge badge-count">0</span>', body)


def test_return_without_a_reason_shows_a_field_error_and_changes_nothing(client, rep):
    # given a lead in the rep's queue
    lead = assigned(rep)
    client.force_login(rep)
    # when the rep submits the return dialog without a reason
    response = move(client, lead, Stage.RECYCLED, {"note": "meh"}, dialog=True)
    # then the dialog's form comes back with the error next to the reason, in place
    body = response.content.decode()
    assert response.status_code == 200
    assert response["HX-Retarget"] == "#action-form"
    assert response["HX-Reswap"] == "outerHTML"
    assert body.lstrip().startswith('<form id="action-form"')
    assert '<p class="field-error" id="id_reason_code_error">Choose a reason.</p>' in body
    # and nothing was written
    lead.refresh_from_db()
    assert lead.stage == Stage.MQL
    assert not LeadStageChange.objects.filter(lead=lead).exists()
    assert not LeadFeedback.objects.exists()


def test_return_without_a_reason_and_without_js_rerenders_the_form_page(client, rep):
    lead = assigned(rep)
    client.force_login(rep)
    response = move(client, lead, Stage.RECYCLED, {}, htmx=False, dialog=True)
    assert response.status_code == 400
    assert "Choose a reason." in response.content.decode()
    assert "<html" in response.content.decode()
    assert Lead.objects.get(pk=lead.pk).stage == Stage.MQL


def test_tags_without_a_rating_are_refused_and_nothing_is_written(client, rep):
    lead = assigned(rep)
    client.force_login(rep)
    response = move(
        client, lead, Stage.RECYCLED, {"reason_code": "bad_fit", "tags": ["bad_data"]}, dialog=True
    )
    assert "Choose good or poor fit to send these reasons." in response.content.decode()
    assert Lead.objects.get(pk=lead.pk).stage == Stage.MQL


def test_the_first_touch_logged_from_the_queue_stops_the_clock(client, rep):
    # given an accepted lead whose clock is running
    lead = assigned(rep, stage=Stage.SAL)
    client.force_login(rep)
    # when the rep logs a call from the touch dialog
    response = client.post(
        reverse("leads:touch", args=[lead.pk]),
        {"dialog": "1", "ctx": "queue", "tab": "mine", "kind": "call", "outcome": "connected"},
        headers=HTMX,
    )
    # then the touch is recorded, the clock stopped, and the row says "touched"
    touch = Touch.objects.get(lead=lead)
    assert (touch.kind, touch.outcome, touch.rep) == ("call", "connected", rep)
    assert Handoff.objects.get(lead=lead).first_touch_at is not None
    body = response.content.decode()
    assert "Call logged: the first-touch clock stopped." in body
    assert re.search(r'class="sla-done"[^>]*>touched<', body)


def test_a_touch_without_an_outcome_shows_a_field_error(client, rep):
    lead = assigned(rep)
    client.force_login(rep)
    response = client.post(
        reverse("leads:touch", args=[lead.pk]),
        {"dialog": "1", "ctx": "queue", "kind": "call"},
        headers=HTMX,
    )
    assert "Choose an outcome." in response.content.decode()
    assert not Touch.objects.exists()


def test_an_illegal_move_shows_a_message_and_changes_nothing(client, rep):
    # given an MQL the rep owns (not yet an opportunity)
    lead = assigned(rep)
    client.force_login(rep)
    # when a stale page posts "close won" for it
    response = move(client, lead, Stage.WON, {"amount": "1000"})
    # then the row explains why, and nothing changed
    assert response.status_code == 200
    assert "A lead in MQL cannot move to Won." in response.content.decode()
    assert 'class="form-errors' in response.content.decode()
    assert Lead.objects.get(pk=lead.pk).stage == Stage.MQL
    assert not LeadStageChange.objects.exists()


def test_rep_cannot_act_on_another_reps_lead(client, rep, other_rep):
    # given a lead that belongs to another rep
    lead = assigned(other_rep)
    client.force_login(rep)
    # when the rep opens its return form, and posts accept, touch and feedback without htmx
    responses = [
        client.get(reverse("leads:move", args=[lead.pk, Stage.RECYCLED]), headers=HTMX),
        move(client, lead, Stage.SAL, htmx=False),
        client.post(
            reverse("leads:touch", args=[lead.pk]), {"kind": "call", "outcome": "connected"}
        ),
        client.post(reverse("leads:feedback", args=[lead.pk]), {"rating": "good"}),
    ]
    # and posts accept from a queue row with htmx
    in_place = move(client, lead, Stage.SAL)
    # then each is forbidden (the htmx row says so in place) and nothing is written
    assert [r.status_code for r in responses] == [403, 403, 403, 403]
    assert "another rep has it now" in in_place.content.decode()
    lead.refresh_from_db()
    assert (lead.stage, lead.owner) == (Stage.MQL, other_rep)
    assert not LeadStageChange.objects.exists()
    assert not Touch.objects.exists()
    assert not LeadFeedback.objects.exists()


def test_a_rep_cannot_accept_a_pool_lead_before_claiming_it(client, rep):
    lead = pooled()
    client.force_login(rep)
    response = move(client, lead, Stage.SAL, tab="pool")
    assert "Claim this lead from the pool first." in response.content.decode()
    assert Lead.objects.get(pk=lead.pk).stage == Stage.MQL


def test_action_forms_open_as_a_dialog_with_htmx_and_as_a_page_without(client, rep):
    # given a lead in the rep's queue
    lead = assigned(rep)
    client.force_login(rep)
    url = reverse("leads:move", args=[lead.pk, Stage.RECYCLED])
    query = {"ctx": "queue", "tab": "mine", "next": f"{QUEUE}?tab=mine"}
    # when the return action is opened with htmx, and without
    dialog = client.get(url, query, headers=HTMX).content.decode()
    page = client.get(url, query).content.decode()
    # then htmx gets a dialog that re-renders the row on success; the plain page gets a form
    assert dialog.lstrip().startswith('<dialog id="action-dialog"')
    assert f'hx-target="#lead-row-{lead.pk}"' in dialog
    assert 'name="reason_code"' in dialog and 'name="rating"' in dialog
    assert "<html" in page and f'action="{url}"' in page
    assert 'name="next" value="/leads/queue/?tab=mine"' in page


def test_marketer_cannot_open_the_queue(client, marketer):
    client.force_login(marketer)
    assert client.get(QUEUE).status_code == 403


def test_manager_can_open_the_queue(client, manager):
    pooled()
    client.force_login(manager)
    assert client.get(QUEUE, {"tab": "pool"}).status_code == 200


def test_anonymous_visitor_is_sent_to_log_in(client):
    response = client.get(QUEUE)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


# --- query counts -----------------------------------------------------------------------------
# session, user, the user's groups, the notification count (header), the tab counts (2),
# the campaign choices, the page of handoffs and the agreements' calendars with their
# holidays (the business-hours clocks).
QUEUE_QUERIES = 9


@pytest.mark.parametrize("leads", [3, 30])
@pytest.mark.parametrize("tab", ["mine", "pool"])
def test_the_queue_runs_a_fixed_number_of_queries(
    client, rep, django_assert_num_queries, leads, tab
):
    # given ``leads`` leads from different campaigns, in the rep's queue or the pool
    for i in range(leads):
        campaign = CampaignFactory()
        if tab == "mine":
            assigned(rep, due_in=i, source_campaign=campaign)
        else:
            pooled(due_in=i, source_campaign=campaign)
    client.force_login(rep)
    # when the rep opens that tab, the count of queries does not depend on the number of leads
    with django_assert_num_queries(QUEUE_QUERIES):
        response = client.get(QUEUE, {"tab": tab})
    assert len(row_ids(response)) == min(leads, QUEUE_PAGE_SIZE)


def test_plain_posts_never_redirect_off_site(client, rep):
    lead = assigned(rep)
    client.force_login(rep)
    response = move(client, lead, Stage.SAL, {"next": "https://evil.example/phish"}, htmx=False)
    assert response["Location"] == f"{QUEUE}?tab=mine"


# --- in a browser -------------------------------------------------------------------------------
def wait_until_wired(page, selector: str) -> None:
    """Wait until htmx has processed the element (a row swapped in is wired a moment later)."""
    page.wait_for_function(
        "sel => { const el = document.querySelector(sel);"
        " return !!(el && el['htmx-internal-data'] && el['htmx-internal-data'].initHash); }",
        arg=selector,
    )


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_rep_works_the_queue_by_keyboard_without_csp_violations(live_server, page):
    from playwright.sync_api import expect

    from tests.factories import UserFactory

    # given a rep and two leads in the pool
    UserFactory(username="keyboard-rep", role="Sales rep")
    urgent = pooled(due_in=1, first_name="Urgent", last_name="Lead")
    pooled(due_in=9, first_name="Later", last_name="Lead")
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("keyboard-rep")
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server.url}{QUEUE}")
    # the shortcuts act through htmx once the deferred scripts have run
    page.wait_for_function("() => window.htmx !== undefined && document.readyState === 'complete'")

    # when they press c: the most urgent pool lead is theirs, listed and selected in My leads
    page.keyboard.press("c")
    row = page.locator(f"#lead-row-{urgent.pk}")
    expect(row).to_have_class(re.compile("is-selected"))
    expect(page.get_by_role("status").first).to_contain_text("You claimed Urgent Lead")
    # with its first-touch clock running (due in an hour: green, "… left", ticking)
    clock = row.locator("time.sla-ok")
    expect(clock).to_contain_text(re.compile(r"\d+m left"))
    expect(clock).to_have_attribute("data-clock-due", re.compile(r"\d{4}-\d\d-\d\dT"))

    # and, once htmx has wired the swapped-in row, a accepts the selected lead in place
    wait_until_wired(page, f"#lead-row-{urgent.pk} form[hx-post]")
    page.keyboard.press("a")
    expect(row).to_contain_text("Accepted.")
    expect(row.locator(".badge-stage-sal")).to_be_visible()

    # and, once htmx has wired the row swapped in again, t opens the touch dialog; a missing
    # outcome is flagged, then the touch is logged
    wait_until_wired(page, f"#lead-row-{urgent.pk} a[hx-get][data-shortcut]")
    page.keyboard.press("t")
    dialog = page.locator("dialog#action-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Log touch").click()
    expect(dialog.locator(".field-error")).to_have_text("Choose an outcome.")
    dialog.get_by_label("Outcome").select_option("connected")
    dialog.get_by_role("button", name="Log touch").click()
    expect(dialog).to_have_count(0)
    expect(row.locator(".sla-done")).to_have_text("touched")
    assert Handoff.objects.get(lead=urgent).first_touch_at is not None

    # and ? lists what the keys do here, the row's next stage among them
    wait_until_wired(page, f"#lead-row-{urgent.pk} a[data-shortcut='s']")
    page.keyboard.press("?")
    help_dialog = page.locator("dialog#shortcut-help")
    expect(help_dialog).to_contain_text("Next stage: Qualify to SQL")
    expect(help_dialog).to_contain_text("Log a call, email or meeting")
    expect(help_dialog).to_contain_text("Claim the next lead from the pool")
    page.keyboard.press("Escape")
    expect(help_dialog).not_to_be_visible()
    # and s opens the next stage's form for the selected lead: BANT to qualify to SQL
    page.keyboard.press("s")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Budget")).to_be_visible()

    # then nothing broke: no script errors and no content-security-policy violations
    assert [p for p in problems if "favicon" not in p and "404" not in p] == []
