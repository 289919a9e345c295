"""The lead page: what it shows (contact, handoff context, clock, timeline), who may open it,
and the lead actions started from it (claim, stage moves, touches, feedback, notes)."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from leads.models import (
    Handoff,
    Lead,
    LeadFeedback,
    LeadNote,
    LeadStageChange,
    Stage,
    Touch,
)
from leads.selectors import TIMELINE_EVENTS
from leads.services import feedback_give, lead_transition, note_add, touch_log
from tests.campaigns.factories import CampaignFactory, TalkingPointFactory
from tests.leads.factories import EngagementEventFactory, LeadFactory, owned_lead, pool_lead

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
BANT = {
    "budget": "40k this year",
    "authority": "VP Sales signs",
    "need": "Routing",
    "timeline": "Q1",
}


def detail(lead) -> str:
    return reverse("leads:detail", args=[lead.pk])


def handed_off(campaign=None, **lead_fields) -> Lead:
    """A new lead qualified to MQL by the system, so its handoff carries the real context."""
    lead = LeadFactory(stage=Stage.NEW, source_campaign=campaign, **lead_fields)
    return lead_transition(lead_id=lead.pk, actor=None, to=Stage.MQL)


def post_action(client, url, data=None, *, htmx=True, dialog=True, lead=None):
    payload = {"ctx": "detail", **(data or {})}
    if lead is not None:
        payload["next"] = detail(lead)
    if dialog:
        payload["dialog"] = "1"
    return client.post(url, payload, headers=HTMX if htmx else {})


# --- what the page shows ----------------------------------------------------------------------
def test_detail_shows_contact_company_owner_stage_and_first_touch_clock(client, rep):
    # given the rep's accepted lead with a phone number and a deal amount
    lead = owned_lead(
        rep,
        stage=Stage.SAL,
        first_name="Grace",
        last_name="Hopper",
        email="grace@navy.example",
        phone="+1 555 0100",
        company="Cobol Inc",
        company_size=1200,
        industry="Defence",
        score=77,
        temperature="hot",
    )
    client.force_login(rep)
    # when the rep opens it
    response = client.get(detail(lead))
    # then contact, company, owner, stage, kind, score, temperature and the clock are shown
    body = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Grace Hopper</h1>" in body
    assert 'href="mailto:grace@navy.example"' in body
    assert 'href="tel:+1 555 0100"' in body
    assert "Cobol Inc" in body and "1,200" in body and "Defence" in body
    assert rep.get_full_name() in body
    assert 'badge-stage-sal">SAL' in body and 'badge-stage-mql">MQL' in body
    assert 'badge-temp-hot">Hot' in body and "Score 77" in body
    assert re.search(r'class="sla-(ok|warn)"[^>]*>\d+h \d+m left<', body)


def test_detail_shows_the_campaign_talking_points_in_order_and_the_quote(client, rep):
    # given a campaign with talking points written out of order, and a lead it handed off
    campaign = CampaignFactory(name="Pipeline webinar", quote="From two days to two hours.")
    TalkingPointFactory(campaign=campaign, position=2, text="Second: one shared funnel.")
    TalkingPointFactory(campaign=campaign, position=1, text="First: where MQLs get lost.")
    lead = handed_off(campaign)
    # and the campaign's quote changed after the handoff
    campaign.quote = "A newer quote."
    campaign.save()
    client.force_login(rep)
    # when a rep opens the lead from the pool
    body = client.get(detail(lead)).content.decode()
    # then the handoff's context shows the talking points in order and the quote it carried
    assert "Pipeline webinar" in body
    first, second = body.index("First: where MQLs get lost."), body.index("Second: one shared")
    assert first < second
    assert "“From two days to two hours.”" in body
    assert "A newer quote." not in body
    assert "Unclaimed, in the pool" in body


def test_detail_without_an_open_handoff_falls_back_to_the_leads_campaign(client, marketer):
    campaign = CampaignFactory(quote="Quote from the campaign itself.")
    TalkingPointFactory(campaign=campaign, position=1, text="Only point.")
    lead = LeadFactory(stage=Stage.NEW, source_campaign=campaign)
    client.force_login(marketer)
    body = client.get(detail(lead)).content.decode()
    assert "Only point." in body and "“Quote from the campaign itself.”" in body


def test_detail_timeline_lists_stage_changes_touches_notes_feedback_and_assignments(
    client, rep, other_rep
):
    # given a lead the rep claimed, accepted, called, rated and wrote a note about
    lead = handed_off()
    client.force_login(rep)
    client.post(reverse("leads:claim", args=[lead.pk]))
    lead_transition(lead_id=lead.pk, actor=rep, to=Stage.SAL)
    touch_log(lead_id=lead.pk, actor=rep, kind="call", outcome="left_message", note="Voicemail")
    feedback_give(lead_id=lead.pk, actor=rep, rating="good", moment="accept", tags=["has_budget"])
    note_add(lead_id=lead.pk, actor=rep, body="Call back Tuesday")
    # when the rep opens the lead
    body = client.get(detail(lead)).content.decode()
    timeline = body[body.index('<ol class="timeline">') :]
    # then every kind of event is on the timeline, newest first
    titles = re.findall(r'<p class="timeline-title">([^<]+)</p>', timeline)
    assert titles == [
        "Note",
        "Good fit (at accept)",
        "Call · Left a message",
        "MQL → SAL",
        "Claimed from the pool",
        "New → MQL",
    ]
    assert "Call back Tuesday" in timeline and "Voicemail" in timeline
    assert "Has budget" in timeline
    assert "6 events, newest first" in body


def test_the_timeline_and_the_handoff_show_the_leads_engagement(client, rep):
    # given a lead who read the pricing page from a campaign and asked for a demo, then was
    # handed off to sales
    campaign = CampaignFactory(name="Spring webinar")
    lead = LeadFactory(stage=Stage.NEW)
    day = timezone.now() - timedelta(days=3)
    EngagementEventFactory(
        lead=lead, kind="pricing_view", occurred_at=day, campaign=campaign, url="/pricing"
    )
    EngagementEventFactory(lead=lead, kind="demo_request", occurred_at=day + timedelta(hours=1))
    lead = lead_transition(lead_id=lead.pk, actor=None, to=Stage.MQL)
    client.force_login(rep)
    client.post(reverse("leads:claim", args=[lead.pk]))
    # when the rep opens the lead
    body = client.get(detail(lead)).content.decode()
    # then the timeline has the events among the people's steps, newest first
    timeline = body[body.index('<ol class="timeline">') :]
    titles = re.findall(r'<p class="timeline-title">([^<]+)</p>', timeline)
    assert titles[-2:] == ["Demo request", "Pricing page view"]
    assert "Spring webinar · /pricing" in timeline
    # and the handoff context lists what the lead had done when it reached sales
    context = body[body.index('id="context-heading"') : body.index('<ol class="timeline">')]
    assert "Latest engagement at handoff" in context
    assert context.index("Demo request") < context.index("Pricing page view")
    assert day.strftime("%-d %b %Y") in context


def test_the_handoff_context_leaves_out_events_after_the_handoff(client, rep):
    # given a handoff whose snapshot lists an event dated after it (a backdated handoff)
    lead = handed_off()
    handoff = Handoff.objects.get(lead=lead)
    later = (handoff.created_at + timedelta(days=2)).isoformat()
    before = (handoff.created_at - timedelta(days=1)).isoformat()
    handoff.context["engagement"] = [
        {"kind": "demo_request", "label": "Demo request", "occurred_at": later, "url": ""},
        {"kind": "page_view", "label": "Page view", "occurred_at": before, "url": ""},
    ]
    handoff.save(update_fields=["context"])
    client.force_login(rep)
    client.post(reverse("leads:claim", args=[lead.pk]))
    # when the rep opens the lead
    body = client.get(detail(lead)).content.decode()
    context = body[body.index('id="context-heading"') : body.index('<ol class="timeline">')]
    # then only what the lead had done by the handoff is listed
    assert "Page view" in context
    assert "Demo request" not in context


def test_the_handoff_context_reads_the_score_out_as_a_sum_with_decay_and_caps(client, rep):
    # given a lead handed off at 72, most of it from decayed and capped engagement
    lead = handed_off(score=72)
    handoff = Handoff.objects.get(lead=lead)
    handoff.context |= {
        "score": 72,
        "score_explanation": [
            {
                "type": "engagement",
                "rule": "Pricing page view",
                "points": 40,
                "raw": 90,
                "events": 3,
                "cap": 40,
            },
            {"type": "fit", "rule": "Title contains “VP”", "points": 15},
            {
                "type": "engagement",
                "rule": "Demo request",
                "points": 17,
                "raw": 25,
                "events": 1,
                "cap": None,
            },
        ],
    }
    handoff.save(update_fields=["context"])
    client.force_login(rep)
    client.post(reverse("leads:claim", args=[lead.pk]))
    # when the rep opens it
    body = client.get(detail(lead)).content.decode()
    context = body[body.index('id="context-heading"') : body.index('<ol class="timeline">')]
    # then the handoff says how the 72 came about, point by point, decay and caps included
    assert (
        "72 = 40 Pricing page view ×3 (decayed from 90, capped at 40) + 15 Title contains "
        "“VP” + 17 Demo request (decayed from 25)"
    ) in context.replace("&quot;", '"')
    assert "capped at 40, 90 before decay" in context


def test_a_busy_lead_shows_its_latest_events_and_says_so(client, rep):
    # given the rep's lead with more page views than the timeline shows
    lead = owned_lead(rep, stage=Stage.SAL)
    start = timezone.now() - timedelta(days=1)
    for i in range(TIMELINE_EVENTS + 5):
        EngagementEventFactory(lead=lead, occurred_at=start + timedelta(minutes=i))
    client.force_login(rep)
    # when the rep opens it
    body = client.get(detail(lead)).content.decode()
    # then the latest events are listed, and the page says only the latest are
    assert body.count('<p class="timeline-title">Page view</p>') == TIMELINE_EVENTS
    assert f"the latest {TIMELINE_EVENTS} engagement events" in body


def test_detail_shows_bant_and_amount_once_recorded(client, rep):
    lead = owned_lead(rep, stage=Stage.SAL)
    lead_transition(lead_id=lead.pk, actor=rep, to=Stage.SQL, details=BANT)
    lead_transition(lead_id=lead.pk, actor=rep, to=Stage.OPPORTUNITY, details={"amount": "12500"})
    client.force_login(rep)
    body = client.get(detail(lead)).content.decode()
    assert "40k this year" in body and "VP Sales signs" in body and "Q1" in body
    assert "12,500.00" in body


# --- who may open it --------------------------------------------------------------------------
def test_rep_cannot_open_another_reps_lead(client, rep, other_rep):
    lead = owned_lead(other_rep)
    client.force_login(rep)
    assert client.get(detail(lead)).status_code == 403


def test_rep_can_open_a_pool_lead_and_claim_it_from_the_page(client, rep):
    # given a pool lead
    lead = pool_lead()
    client.force_login(rep)
    # when the rep opens it, the only sales action offered is to claim it
    page = client.get(detail(lead)).content.decode()
    assert f'action="{reverse("leads:claim", args=[lead.pk])}"' in page
    assert "Accept" not in page
    # and when they claim it (htmx), the page re-renders with what they may do next
    response = client.post(reverse("leads:claim", args=[lead.pk]), {"ctx": "detail"}, headers=HTMX)
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="lead-detail">')
    assert "Claimed: it is in My leads now." in body
    assert ">Accept <kbd" in body
    assert Lead.objects.get(pk=lead.pk).owner == rep


def test_a_rep_keeps_seeing_a_lead_they_once_worked(client, rep):
    lead = handed_off()
    client.force_login(rep)
    client.post(reverse("leads:claim", args=[lead.pk]))
    lead_transition(lead_id=lead.pk, actor=rep, to=Stage.RECYCLED, reason_code="not_ready")
    assert client.get(detail(lead)).status_code == 200


def test_marketer_can_open_any_lead_but_gets_no_sales_actions(client, marketer, rep):
    # given a lead the rep is working
    lead = owned_lead(rep)
    client.force_login(marketer)
    # when the marketer opens it
    response = client.get(detail(lead))
    # then the page shows, without accept, touch, return or rating, but with the note form
    body = response.content.decode()
    assert response.status_code == 200
    for label in (">Accept", "Log touch", "Return to marketing", "Rate lead", "Disqualify"):
        assert label not in body
    assert f'action="{reverse("leads:note", args=[lead.pk])}"' in body


def test_marketer_can_qualify_a_new_lead_from_the_page(client, marketer):
    # given a new lead
    lead = LeadFactory(stage=Stage.NEW)
    client.force_login(marketer)
    # then the page offers marketing's moves only
    body = client.get(detail(lead)).content.decode()
    assert "Qualify as MQL" in body and "Qualify as PQL" in body and "Disqualify" in body
    assert ">Accept" not in body
    # when the marketer qualifies it as MQL
    response = post_action(
        client, reverse("leads:move", args=[lead.pk, Stage.MQL]), dialog=False, lead=lead
    )
    # then it is handed to sales and the page says so
    assert "Qualified as MQL and handed to sales." in response.content.decode()
    assert Lead.objects.get(pk=lead.pk).stage == Stage.MQL
    assert Handoff.objects.filter(lead=lead, status=Handoff.Status.POOL).exists()


@pytest.mark.parametrize("htmx", [True, False])
def test_marketer_cannot_accept_a_lead(client, marketer, rep, htmx):
    # given a lead the rep is working
    lead = owned_lead(rep)
    client.force_login(marketer)
    # when the marketer posts "accept" anyway
    response = post_action(
        client,
        reverse("leads:move", args=[lead.pk, Stage.SAL]),
        htmx=htmx,
        dialog=False,
        lead=lead,
    )
    # then they are told why, and nothing is written
    if htmx:
        assert (
            "Only sales can accept, qualify, return or close a lead." in response.content.decode()
        )
    else:
        assert response.status_code == 302
        followed = client.get(response["Location"]).content.decode()
        assert "Only sales can accept, qualify, return or close a lead." in followed
    assert Lead.objects.get(pk=lead.pk).stage == Stage.MQL
    assert not LeadStageChange.objects.exists()


def test_a_refused_move_opened_as_a_form_says_why_and_offers_no_submit(client, marketer, rep):
    lead = owned_lead(rep)
    client.force_login(marketer)
    body = client.get(reverse("leads:move", args=[lead.pk, Stage.RECYCLED]), headers=HTMX)
    body = body.content.decode()
    assert "Only sales can accept, qualify, return or close a lead." in body
    assert 'type="submit" class="btn btn-primary"' not in body


def test_only_the_moves_allowed_now_are_offered(client, rep):
    # given the rep's MQL
    lead = owned_lead(rep)
    client.force_login(rep)
    # when they open it
    body = client.get(detail(lead)).content.decode()
    # then accept, return, disqualify, touch and rating are offered, later stages are not
    for label in (">Accept <kbd", "Return to marketing", "Disqualify", "Log touch", "Rate lead"):
        assert label in body
    for label in ("Qualify to SQL", "Open opportunity", "Close won", "Close lost"):
        assert label not in body


def test_unknown_move_is_not_found(client, rep):
    lead = owned_lead(rep)
    client.force_login(rep)
    assert client.get(reverse("leads:move", args=[lead.pk, "nowhere"])).status_code == 404


# --- actions from the page --------------------------------------------------------------------
def test_accept_from_the_page_rerenders_it_and_writes_history(client, rep):
    lead = owned_lead(rep)
    client.force_login(rep)
    response = post_action(
        client, reverse("leads:move", args=[lead.pk, Stage.SAL]), dialog=False, lead=lead
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="lead-detail">')
    assert "Accepted." in body and "Qualify to SQL" in body
    assert '<div id="action-dialog-slot" hx-swap-oob="innerHTML"></div>' in body
    change = LeadStageChange.objects.get(lead=lead)
    assert (change.from_stage, change.to_stage, change.actor) == (Stage.MQL, Stage.SAL, rep)


def test_accept_with_feedback_records_the_rating_at_accept(client, rep):
    lead = owned_lead(rep)
    client.force_login(rep)
    post_action(
        client,
        reverse("leads:move", args=[lead.pk, Stage.SAL]),
        {"rating": "good", "tags": ["right_persona", "urgent_need"], "comment": "Spot on"},
        lead=lead,
    )
    feedback = LeadFeedback.objects.get(lead=lead)
    assert (feedback.rating, feedback.moment, feedback.comment) == ("good", "accept", "Spot on")
    assert feedback.tags == ["right_persona", "urgent_need"]
    assert Lead.objects.get(pk=lead.pk).stage == Stage.SAL


def test_qualify_to_sql_records_bant_and_shows_it(client, rep):
    # given the rep's accepted lead
    lead = owned_lead(rep, stage=Stage.SAL)
    client.force_login(rep)
    # when the rep qualifies it with BANT from the dialog
    response = post_action(
        client, reverse("leads:move", args=[lead.pk, Stage.SQL]), BANT, lead=lead
    )
    # then the lead is SQL with BANT recorded in the lead and its history, and shown
    lead.refresh_from_db()
    assert lead.stage == Stage.SQL
    assert (lead.bant_budget, lead.bant_authority) == ("40k this year", "VP Sales signs")
    assert LeadStageChange.objects.get(lead=lead, to_stage=Stage.SQL).details == BANT
    body = response.content.decode()
    assert "Qualified to SQL." in body and "40k this year" in body


def test_qualify_to_sql_without_a_budget_shows_a_field_error_and_changes_nothing(client, rep):
    lead = owned_lead(rep, stage=Stage.SAL)
    client.force_login(rep)
    response = post_action(
        client,
        reverse("leads:move", args=[lead.pk, Stage.SQL]),
        {**BANT, "budget": ""},
        lead=lead,
    )
    body = response.content.decode()
    assert response["HX-Retarget"] == "#action-form"
    assert '<p class="field-error" id="id_budget_error">Record the budget to qualify' in body
    assert 'value="VP Sales signs"' in body  # what was typed stays
    lead.refresh_from_db()
    assert (lead.stage, lead.bant_authority) == (Stage.SAL, "")
    assert not LeadStageChange.objects.exists()


def test_open_opportunity_then_close_won_records_the_amount(client, rep):
    # given the rep's SQL
    lead = owned_lead(rep, stage=Stage.SQL)
    client.force_login(rep)
    # when they open an opportunity for 25,000 and later close it won without retyping it
    post_action(
        client,
        reverse("leads:move", args=[lead.pk, Stage.OPPORTUNITY]),
        {"amount": "25000"},
        lead=lead,
    )
    won = post_action(client, reverse("leads:move", args=[lead.pk, Stage.WON]), {}, lead=lead)
    # then the lead is won with the amount and both moves are in the history
    lead.refresh_from_db()
    assert (lead.stage, lead.deal_amount) == (Stage.WON, Decimal("25000.00"))
    assert lead.closed_at is not None
    moves = list(LeadStageChange.objects.filter(lead=lead).values_list("to_stage", flat=True))
    assert moves == [Stage.OPPORTUNITY, Stage.WON]
    assert "Closed won." in won.content.decode()
    assert Handoff.objects.get(lead=lead).status == Handoff.Status.CLOSED


def test_a_negative_amount_is_refused_next_to_the_field(client, rep):
    lead = owned_lead(rep, stage=Stage.SQL)
    client.force_login(rep)
    response = post_action(
        client,
        reverse("leads:move", args=[lead.pk, Stage.OPPORTUNITY]),
        {"amount": "-5"},
        lead=lead,
    )
    assert 'id="id_amount_error"' in response.content.decode()
    assert Lead.objects.get(pk=lead.pk).stage == Stage.SQL


def test_close_lost_with_a_reason_and_feedback(client, rep):
    lead = owned_lead(rep, stage=Stage.OPPORTUNITY)
    client.force_login(rep)
    response = post_action(
        client,
        reverse("leads:move", args=[lead.pk, Stage.LOST]),
        {"reason_code": "competitor", "note": "Went with X", "rating": "good"},
        lead=lead,
    )
    lead.refresh_from_db()
    assert lead.stage == Stage.LOST
    change = LeadStageChange.objects.get(lead=lead)
    assert (change.reason_code, change.note) == ("competitor", "Went with X")
    feedback = LeadFeedback.objects.get(lead=lead)
    assert (feedback.rating, feedback.moment) == ("good", "close")
    assert "Closed lost: Chose a competitor." in response.content.decode()


def test_disqualify_with_a_reason(client, rep):
    lead = owned_lead(rep)
    client.force_login(rep)
    response = post_action(
        client,
        reverse("leads:move", args=[lead.pk, Stage.DISQUALIFIED]),
        {"reason_code": "spam", "note": "Fake company"},
        htmx=False,
        lead=lead,
    )
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.stage == Stage.DISQUALIFIED
    assert LeadStageChange.objects.get(lead=lead).reason_code == "spam"


def test_returning_a_lead_from_its_page_keeps_the_page_when_the_rep_still_sees_it(client, rep):
    lead = handed_off()
    client.force_login(rep)
    client.post(reverse("leads:claim", args=[lead.pk]))
    response = post_action(
        client,
        reverse("leads:move", args=[lead.pk, Stage.RECYCLED]),
        {"reason_code": "bad_fit"},
        lead=lead,
    )
    body = response.content.decode()
    assert "Returned to marketing: Bad fit." in body
    assert 'badge-stage-recycled">Recycled' in body


def test_a_touch_from_the_page_stops_the_clock(client, rep):
    # given the rep's lead, handed off an hour ago
    lead = owned_lead(rep, stage=Stage.SAL)
    Handoff.objects.filter(lead=lead).update(created_at=timezone.now() - timedelta(hours=1))
    client.force_login(rep)
    # when they log the meeting they had ten minutes ago
    when = (timezone.localtime() - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M")
    response = post_action(
        client,
        reverse("leads:touch", args=[lead.pk]),
        {
            "kind": "meeting",
            "outcome": "meeting_booked",
            "note": "Demo Thursday",
            "occurred_at": when,
        },
        lead=lead,
    )
    # then the touch is recorded at that time, stopping the clock, and it is on the timeline
    touch = Touch.objects.get(lead=lead)
    assert (touch.kind, touch.note) == ("meeting", "Demo Thursday")
    assert Handoff.objects.get(lead=lead).first_touch_at == touch.occurred_at
    body = response.content.decode()
    assert "Meeting logged: the first-touch clock stopped." in body
    assert "Meeting · Meeting booked" in body


def test_a_touch_in_the_future_is_refused_next_to_the_field(client, rep):
    lead = owned_lead(rep)
    client.force_login(rep)
    when = (timezone.localtime() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = post_action(
        client,
        reverse("leads:touch", args=[lead.pk]),
        {"kind": "call", "outcome": "connected", "occurred_at": when},
        lead=lead,
    )
    assert "A touch cannot happen in the future." in response.content.decode()
    assert 'id="id_occurred_at_error"' in response.content.decode()
    assert not Touch.objects.exists()


def test_a_touch_on_a_closed_lead_is_refused_with_a_message_not_an_error_page(client, rep):
    # given the rep's lead that was closed won (its handoff is closed)
    lead = owned_lead(rep, stage=Stage.OPPORTUNITY)
    lead_transition(lead_id=lead.pk, actor=rep, to=Stage.WON, details={"amount": "100"})
    client.force_login(rep)
    # when a stale page posts a touch for it
    response = post_action(
        client,
        reverse("leads:touch", args=[lead.pk]),
        {"kind": "call", "outcome": "connected"},
        lead=lead,
    )
    # then the dialog says why and nothing is written
    assert response.status_code == 200
    assert "Touches are logged while sales works the lead." in response.content.decode()
    assert not Touch.objects.exists()


def test_rating_a_lead_records_the_feedback(client, rep):
    lead = owned_lead(rep, stage=Stage.SQL)
    client.force_login(rep)
    response = post_action(
        client,
        reverse("leads:feedback", args=[lead.pk]),
        {"rating": "poor", "tags": ["wrong_persona"], "comment": "Intern"},
        lead=lead,
    )
    feedback = LeadFeedback.objects.get(lead=lead)
    assert (feedback.rating, feedback.tags, feedback.comment) == (
        "poor",
        ["wrong_persona"],
        "Intern",
    )
    assert "Thanks: rated poor fit." in response.content.decode()
    # a rating given after discovery is not filed as one given at accept
    assert feedback.moment == LeadFeedback.Moment.WORKING


def test_rating_without_a_rating_shows_a_field_error(client, rep):
    lead = owned_lead(rep)
    client.force_login(rep)
    response = post_action(client, reverse("leads:feedback", args=[lead.pk]), {}, lead=lead)
    assert "Choose good or poor fit." in response.content.decode()
    assert not LeadFeedback.objects.exists()


def test_adding_a_note_puts_it_on_the_timeline(client, marketer, rep):
    # given a lead the rep is working, opened by a marketer
    lead = owned_lead(rep)
    client.force_login(marketer)
    # when the marketer adds a note (htmx)
    response = client.post(
        reverse("leads:note", args=[lead.pk]), {"body": "Asked about pricing"}, headers=HTMX
    )
    # then the timeline card comes back with the note on top and an empty form
    body = response.content.decode()
    assert body.lstrip().startswith('<section class="card" id="lead-timeline"')
    assert "Asked about pricing" in body and "Note added." in body
    assert LeadNote.objects.get(lead=lead).author == marketer


def test_adding_a_note_without_js_redirects_to_the_lead(client, rep):
    lead = owned_lead(rep)
    client.force_login(rep)
    response = client.post(reverse("leads:note", args=[lead.pk]), {"body": "Left voicemail"})
    assert response.status_code == 302 and response["Location"] == detail(lead)
    assert LeadNote.objects.filter(lead=lead, body="Left voicemail").exists()


@pytest.mark.parametrize("htmx", [True, False])
def test_an_empty_note_shows_a_field_error_and_writes_nothing(client, rep, htmx):
    lead = owned_lead(rep)
    client.force_login(rep)
    response = client.post(
        reverse("leads:note", args=[lead.pk]), {"body": "  "}, headers=HTMX if htmx else {}
    )
    assert "Write something first." in response.content.decode()
    assert response.status_code == (200 if htmx else 400)
    assert not LeadNote.objects.exists()


def test_a_rep_cannot_add_a_note_to_another_reps_lead(client, rep, other_rep):
    lead = owned_lead(other_rep)
    client.force_login(rep)
    response = client.post(reverse("leads:note", args=[lead.pk]), {"body": "Sneaky"})
    assert response.status_code == 403
    assert not LeadNote.objects.exists()


# --- query counts -----------------------------------------------------------------------------
# session, user, the user's groups, the notification count (header), the lead with its owner
# and campaign, the campaign's talking points, the visibility check, the open handoff, and the
# timeline (engagement events, stage changes, touches, notes, feedback, assignments).
DETAIL_QUERIES = 15


@pytest.mark.parametrize("events", [1, 20])
def test_the_lead_page_runs_a_fixed_number_of_queries(
    client, rep, django_assert_num_queries, events
):
    # given the rep's lead from a campaign with ``events`` notes, touches and ratings
    campaign = CampaignFactory()
    TalkingPointFactory(campaign=campaign, position=1)
    lead = owned_lead(rep, stage=Stage.SAL, source_campaign=campaign)
    for i in range(events):
        if i % 3 == 0:
            note_add(lead_id=lead.pk, actor=rep, body=f"Note {i}")
        elif i % 3 == 1:
            touch_log(lead_id=lead.pk, actor=rep, kind="call", outcome="no_answer")
        else:
            feedback_give(lead_id=lead.pk, actor=rep, rating="good", moment="accept")
        EngagementEventFactory(lead=lead, campaign=campaign)
    client.force_login(rep)
    # when the rep opens it, the count of queries does not depend on the timeline's length
    with django_assert_num_queries(DETAIL_QUERIES):
        response = client.get(detail(lead))
    assert response.content.decode().count('<p class="timeline-title">') == 2 * events


@pytest.mark.parametrize(
    ("show", "titles"),
    [
        ("activity", ["Note", "Created as New"]),
        ("engagement", ["Pricing page view"]),
        ("all", ["Note", "Pricing page view", "Created as New"]),
    ],
)
def test_the_timeline_shows_people_or_engagement_on_request(client, rep, show, titles):
    # given the rep's lead with a note, an engagement event and its creation
    lead = owned_lead(rep, stage=Stage.SAL)
    LeadStageChange.objects.filter(lead=lead).delete()
    LeadStageChange.objects.create(
        lead=lead, from_stage="", to_stage=Stage.NEW, created_at=timezone.now() - timedelta(days=2)
    )
    EngagementEventFactory(
        lead=lead, kind="pricing_view", occurred_at=timezone.now() - timedelta(days=1)
    )
    note_add(lead_id=lead.pk, actor=rep, body="Spoke to their CFO")
    client.force_login(rep)
    # when the rep picks a timeline tab (htmx swaps the timeline alone)
    response = client.get(
        detail(lead), {"timeline": show}, headers={**HTMX, "HX-Target": "lead-timeline"}
    )
    # then only that side of the story is listed, and the tab is marked
    body = response.content.decode()
    assert body.lstrip().startswith('<section class="card" id="lead-timeline"')
    assert re.findall(r'<p class="timeline-title">([^<]+)</p>', body) == titles
    assert re.search(rf'href="\?timeline={show}"[^>]*aria-current="page"', body)
