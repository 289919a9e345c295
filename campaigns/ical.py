"""The RFC 5545 feed: one all-day VEVENT per campaign (DTEND is exclusive, so it is the day
after the end date) and, for a rep, one short VEVENT per open first-touch deadline. UIDs are
stable, so Outlook and Google Calendar update events in place instead of duplicating them.

Deadlines are VEVENTs rather than VTODOs because Google Calendar ignores VTODO.
"""

from collections.abc import Iterable
from datetime import timedelta

from django.utils import timezone
from icalendar import Calendar, Event

from campaigns.models import Campaign
from leads.models import Handoff

PRODID = "-//smarketing//campaign calendar//EN"
DEADLINE_LENGTH = timedelta(minutes=15)


def campaign_uid(campaign: Campaign) -> str:
    return f"campaign-{campaign.pk}@smarketing"


def deadline_uid(handoff: Handoff) -> str:
    return f"handoff-{handoff.pk}-first-touch@smarketing"


def _campaign_event(campaign: Campaign, *, site_url: str, stamp) -> Event:
    event = Event()
    event.add("uid", campaign_uid(campaign))
    event.add("dtstamp", stamp)
    event.add("last-modified", campaign.updated_at)
    event.add("dtstart", campaign.start_date)
    event.add("dtend", campaign.end_exclusive)
    event.add("summary", f"{campaign.name} ({campaign.get_channel_display()})")
    lines = []
    if campaign.offer:
        lines.append(f"Offer: {campaign.offer}")
    points = [p.text for p in campaign.talking_points.all()]
    if points:
        lines.append("Talking points:")
        lines.extend(f"{i}. {text}" for i, text in enumerate(points, start=1))
    if campaign.quote:
        lines.append(f"Quote: “{campaign.quote}”")
    if campaign.landing_url:
        lines.append(f"Landing page: {campaign.landing_url}")
    url = f"{site_url}{campaign.get_absolute_url()}"
    lines.append(f"In smarketing: {url}")
    event.add("description", "\n".join(lines))
    event.add("url", url)
    event.add("categories", [campaign.get_channel_display()])
    event.add("status", "TENTATIVE" if campaign.status == Campaign.Status.PLANNED else "CONFIRMED")
    event.add("transp", "TRANSPARENT")  # a campaign does not make anyone busy
    return event


def _deadline_event(handoff: Handoff, *, site_url: str, stamp) -> Event:
    lead = handoff.lead
    event = Event()
    event.add("uid", deadline_uid(handoff))
    event.add("dtstamp", stamp)
    event.add("dtstart", handoff.first_touch_due_at)
    event.add("dtend", handoff.first_touch_due_at + DEADLINE_LENGTH)
    who = f"{lead.full_name or lead.email}" + (f" ({lead.company})" if lead.company else "")
    event.add("summary", f"First touch due: {who}")
    url = f"{site_url}{lead.get_absolute_url()}"
    event.add("description", f"{handoff.get_kind_display()} handed to you. Log a touch: {url}")
    event.add("url", url)
    event.add("categories", ["First-touch deadline"])
    return event


def calendar_build(
    *, campaigns: Iterable[Campaign], deadlines: Iterable[Handoff], site_url: str, name: str
) -> bytes:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", "PT1H")
    stamp = timezone.now()
    for campaign in campaigns:
        cal.add_component(_campaign_event(campaign, site_url=site_url, stamp=stamp))
    for handoff in deadlines:
        cal.add_component(_deadline_event(handoff, site_url=site_url, stamp=stamp))
    return cal.to_ical()
