"""Content requests: a rep asks from a lead, marketing takes and delivers, both see status
and turnaround."""

import datetime

import pytest
import time_machine
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from campaigns.models import ContentRequest
from campaigns.selectors import content_request_turnaround
from campaigns.services import (
    CampaignInvalid,
    content_request_cancel,
    content_request_create,
    content_request_deliver,
    content_request_take,
)
from core.errors import DomainError, InvalidInput, NotAllowed
from core.models import Notification
from tests.campaigns.factories import ContentRequestFactory, campaign_with_points
from tests.factories import UserFactory
from tests.leads.factories import LeadFactory, owned_lead

pytestmark = pytest.mark.django_db

ASKED = datetime.datetime(2026, 11, 16, 9, 0, tzinfo=datetime.UTC)


def test_rep_asks_marketing_takes_and_delivers_and_turnaround_is_shown(
    client_for, rep, marketer, django_capture_on_commit_callbacks
):
    campaign = campaign_with_points()
    lead = owned_lead(rep, source_campaign=campaign, company="Northwind")
    client = client_for(rep)
    # given the rep opens the request form from the lead
    with time_machine.travel(ASKED, tick=False):
        form = client.get(reverse("campaigns:content_request_new"), {"lead": lead.pk})
        assert form.status_code == 200 and "Northwind" in form.content.decode()
        # when they ask for a case study by Thursday
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                f"{reverse('campaigns:content_request_new')}?lead={lead.pk}",
                {"kind": "case_study", "need_by": "2026-11-19", "description": "Logistics story"},
            )
    request = ContentRequest.objects.get()
    assert response["Location"] == request.get_absolute_url()
    assert (request.status, request.requested_by, request.campaign) == ("open", rep, campaign)
    # then marketing is notified
    assert Notification.objects.filter(user=marketer, kind="content").exists()
    # when a marketer takes it the next morning and delivers in the afternoon
    marketing = client_for(marketer)
    with django_capture_on_commit_callbacks(execute=True):
        with time_machine.travel(ASKED + datetime.timedelta(hours=24), tick=False):
            marketing.post(reverse("campaigns:content_request_take", args=[request.pk]))
        with time_machine.travel(ASKED + datetime.timedelta(hours=30), tick=False):
            marketing.post(
                reverse("campaigns:content_request_deliver", args=[request.pk]),
                {"url": "https://example.com/northwind.pdf", "note": ""},
            )
    request.refresh_from_db()
    assert (request.status, request.taken_by) == ("delivered", marketer)
    assert request.turnaround == datetime.timedelta(hours=30)
    assert request.delivered_on_time is True
    # then the rep was told twice and both sides see status and turnaround
    assert Notification.objects.filter(user=rep, kind="content").count() == 2
    for client_ in (client_for(rep), client_for(marketer)):
        page = client_.get(request.get_absolute_url()).content.decode()
        assert "1 d 6 h" in page and "on time" in page and "northwind.pdf" in page


def test_rep_sees_only_their_requests_and_marketing_sees_the_board(
    client_for, rep, other_rep, marketer
):
    mine = ContentRequestFactory(lead=owned_lead(rep), requested_by=rep)
    theirs = ContentRequestFactory(lead=owned_lead(other_rep), requested_by=other_rep)
    board = client_for(rep).get(reverse("campaigns:content_requests"))
    assert list(board.context["page"].object_list) == [mine]
    assert client_for(rep).get(theirs.get_absolute_url()).status_code == 404
    board = client_for(marketer).get(reverse("campaigns:content_requests"), {"scope": "open"})
    assert set(board.context["page"].object_list) == {mine, theirs}


def test_rep_cannot_ask_for_a_lead_they_cannot_see(rep, other_rep):
    lead = owned_lead(other_rep)
    with pytest.raises(InvalidInput):
        content_request_create(
            actor=rep,
            lead_id=lead.pk,
            kind="case_study",
            need_by=timezone.localdate(),
            description="x",
        )


def test_need_by_in_the_past_is_refused(rep):
    with pytest.raises(CampaignInvalid) as refused:
        content_request_create(
            actor=rep,
            lead_id=owned_lead(rep).pk,
            kind="rfq_answer",
            need_by=timezone.localdate() - datetime.timedelta(days=1),
            description="RFQ",
        )
    assert "need_by" in refused.value.errors


def test_marketers_cannot_ask_and_reps_cannot_take(client_for, marketer, rep):
    lead = LeadFactory()
    assert (
        client_for(marketer)
        .get(reverse("campaigns:content_request_new"), {"lead": lead.pk})
        .status_code
        == 403
    )
    request = ContentRequestFactory(lead=owned_lead(rep), requested_by=rep)
    assert (
        client_for(rep).post(reverse("campaigns:content_request_take", args=[request.pk]))
    ).status_code == 403


def test_second_marketer_cannot_take_or_deliver_a_taken_request(rep, marketer):
    colleague = UserFactory(role="Marketer")
    request = ContentRequestFactory(lead=owned_lead(rep), requested_by=rep)
    content_request_take(request_id=request.pk, actor=marketer)
    with pytest.raises(DomainError):
        content_request_take(request_id=request.pk, actor=colleague)
    with pytest.raises(NotAllowed):
        content_request_deliver(request_id=request.pk, actor=colleague, url="https://x.example")


def test_delivery_needs_a_link_or_a_note(rep, marketer):
    request = ContentRequestFactory(lead=owned_lead(rep), requested_by=rep)
    with pytest.raises(CampaignInvalid):
        content_request_deliver(request_id=request.pk, actor=marketer)
    delivered = content_request_deliver(request_id=request.pk, actor=marketer, note="In the drive")
    assert delivered.status == "delivered" and delivered.taken_by == marketer


def test_requester_cancels_an_open_request_but_not_a_delivered_one(rep, other_rep, marketer):
    request = ContentRequestFactory(lead=owned_lead(rep), requested_by=rep)
    with pytest.raises(NotAllowed):
        content_request_cancel(request_id=request.pk, actor=other_rep)
    assert content_request_cancel(request_id=request.pk, actor=rep).status == "cancelled"
    done = ContentRequestFactory(lead=owned_lead(rep), requested_by=rep)
    content_request_deliver(request_id=done.pk, actor=marketer, note="Sent")
    with pytest.raises(DomainError):
        content_request_cancel(request_id=done.pk, actor=rep)


def test_turnaround_stats_give_median_on_time_share_and_overdue(rep, marketer):
    today = timezone.localdate()
    for hours, need_by_offset in ((10, 2), (30, 0), (50, -5)):
        request = ContentRequestFactory(lead=owned_lead(rep), requested_by=rep)
        content_request_deliver(request_id=request.pk, actor=marketer, note="done")
        ContentRequest.objects.filter(pk=request.pk).update(
            created_at=F("delivered_at") - datetime.timedelta(hours=hours),
            need_by=today + datetime.timedelta(days=need_by_offset),
        )
    ContentRequestFactory(
        lead=owned_lead(rep), requested_by=rep, need_by=today - datetime.timedelta(days=1)
    )
    stats = content_request_turnaround(since=today - datetime.timedelta(days=7), until=today)
    assert stats.delivered == 3 and stats.median == datetime.timedelta(hours=30)
    assert stats.on_time == 2 and stats.on_time_rate == pytest.approx(2 / 3)
    assert (stats.open, stats.overdue) == (1, 1)


@pytest.mark.django_db
def test_the_lead_page_offers_the_rep_working_it_a_content_request(client, rep, marketer):
    from tests.leads.factories import owned_lead

    lead = owned_lead(rep, stage="sal")
    client.force_login(rep)
    link = f"/campaigns/content-requests/new/?lead={lead.pk}"
    assert link in client.get(f"/leads/{lead.pk}/").content.decode()
    # a marketer reads the same page but is the one who answers requests, not asks
    client.force_login(marketer)
    page = client.get(f"/leads/{lead.pk}/")
    assert page.status_code == 200
    assert "Ask marketing for content" not in page.content.decode()
