"""Demo campaigns for ``seed_demo``: spread over past, current and coming months, each with
talking points, a quote, follow-up templates and enablement resources, plus a few content
requests once demo leads exist. Idempotent: everything is keyed by name (campaign name,
template name, resource title, request description), so a second run changes nothing."""

from datetime import timedelta

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from campaigns.models import (
    Campaign,
    ContentRequest,
    EnablementResource,
    FollowUpTemplate,
    TalkingPoint,
)

C = Campaign.Channel
R = EnablementResource.Kind

FOLLOW_UP = (
    "Hi {first_name},\n\n"
    "Thanks for your interest in {campaign}. {offer}\n\n"
    "Teams like {company} usually start with one question: where do leads wait today? "
    "Happy to show you in 20 minutes.\n\n"
    "Best,\n{rep_first_name}"
)
CHECK_IN = (
    "Hi {first_name},\n\n"
    "One line a customer told us: \u201c{quote}\u201d\n\n"
    "Would it help if I sent a short summary of how that could look at {company}?\n\n"
    "{rep_name}"
)

# name, channel, start offset (days from today), length (days), cost, audience,
# talking points, quote, resources [(kind, title, url, description)]
DEMO_CAMPAIGNS = [
    (
        "Spring nurture email series",
        C.EMAIL,
        -150,
        28,
        "1800.00",
        "Recycled and cold leads, all sizes",
        [
            "Most recycled leads were 'not ready', not 'not interested'.",
            "Share the 5-minute pipeline checklist, not a demo.",
        ],
        "The checklist alone found three leaks in our funnel.",
        [(R.COLLATERAL, "Pipeline checklist (PDF)", "https://smarketing.example/checklist", "")],
    ),
    (
        "Pipeline Health Webinar",
        C.WEBINAR,
        -75,
        1,
        "4200.00",
        "RevOps and marketing leaders, 50-2,000 employees",
        [
            "Teams lose 30% of MQLs in the handoff; we show where.",
            "One shared funnel ends the 'junk leads' argument.",
            "Live demo: SLA clocks on every lead.",
        ],
        "We cut our lead response time from two days to two hours.",
        [
            (R.COLLATERAL, "Webinar recording", "https://smarketing.example/webinar/pipeline", ""),
            (
                R.PERSONA,
                "Head of RevOps",
                "",
                "Owns the funnel numbers; frustrated by two teams with two spreadsheets. "
                "Wants one definition of an MQL.",
            ),
        ],
    ),
    (
        "Paid search: lead routing keywords",
        C.PAID_SEARCH,
        -60,
        30,
        "6400.00",
        "Searchers for 'lead routing', 'round robin leads'",
        [
            "They searched for routing: ask how leads are assigned today.",
            "Round-robin with capacity and absences, out of the box.",
        ],
        "Our reps stopped fighting over leads the first week.",
        [],
    ),
    (
        "State of B2B Buying 2026 report",
        C.CONTENT,
        -45,
        60,
        "8500.00",
        "Marketing and sales leaders",
        [
            "Buyers finish 70% of research before talking to sales.",
            "Speed to first touch is the biggest lever in conversion.",
        ],
        "The report our CFO actually read end to end.",
        [
            (R.COLLATERAL, "The report (PDF)", "https://smarketing.example/report-2026", ""),
            (
                R.GUIDELINE,
                "How to open with the report",
                "",
                "Lead with one statistic that matches their industry; never attach the whole "
                "report to a first email.",
            ),
        ],
    ),
    (
        "SaaS Connect trade show",
        C.EVENT,
        -20,
        3,
        "22000.00",
        "Booth visitors at SaaS Connect",
        [
            "Booth visitors get a free pipeline audit.",
            "Ask about their current lead routing.",
            "Mention the partner integrations.",
        ],
        "Finally, marketing and sales looking at the same numbers.",
        [(R.COLLATERAL, "Booth one-pager", "https://smarketing.example/one-pager", "")],
    ),
    (
        "Q4 paid social retargeting",
        C.PAID_SOCIAL,
        -10,
        45,
        "12000.00",
        "Site visitors who saw pricing",
        [
            "Visitors who saw pricing twice: lead with ROI.",
            "Offer the 14-day trial, not a demo.",
        ],
        "Set up in an afternoon, paid back in a quarter.",
        [
            (
                R.GUIDELINE,
                "Trial first",
                "",
                "These leads came from an ad about the trial; offer it before a call.",
            )
        ],
    ),
    (
        "Customer story: Northwind",
        C.CONTENT,
        -3,
        28,
        "2500.00",
        "Mid-market logistics and retail",
        [
            "Northwind doubled SQLs in one quarter without more MQLs.",
            "The win came from the SLA: every lead touched within 4 hours.",
        ],
        "We did not need more leads; we needed to call the ones we had.",
        [(R.COLLATERAL, "Northwind case study", "https://smarketing.example/northwind", "")],
    ),
    (
        "RevOps roundtable webinar",
        C.WEBINAR,
        7,
        1,
        "1500.00",
        "RevOps managers",
        [
            "Peers compare how they define an MQL.",
            "Invite prospects stuck in 'evaluating'.",
        ],
        "The best hour of peer advice I had this year.",
        [],
    ),
    (
        "Partner co-marketing: CloudOps",
        C.PARTNER,
        14,
        30,
        "3000.00",
        "Joint CloudOps customers",
        [
            "Joint customers get onboarding help from both teams.",
            "Integration ships data both ways in real time.",
        ],
        "The integration we had wished for for years.",
        [],
    ),
    (
        "Year-end ROI calculator",
        C.EMAIL,
        30,
        31,
        "900.00",
        "Open opportunities and recycled leads",
        [
            "Budgets reset in January: help them make the case now.",
            "The calculator uses their own lead volumes.",
            "Offer to fill it in together on a call.",
        ],
        "The calculator made the business case for us.",
        [],
    ),
]


def _status_for(start, end, today) -> str:
    if end < today:
        return Campaign.Status.DONE
    if start <= today:
        return Campaign.Status.LIVE
    return Campaign.Status.PLANNED


@transaction.atomic
def campaigns_demo_seed(*, marketer: User, reps: list[User]) -> list[Campaign]:
    """Create (or find) the demo campaigns and their enablement content; returns them in
    date order. Campaigns already past are marked as launched, so only current ones notify
    sales when the launch job runs."""
    today = timezone.localdate()
    now = timezone.now()
    campaigns = []
    for name, channel, offset, days, cost, audience, points, quote, resources in DEMO_CAMPAIGNS:
        start = today + timedelta(days=offset)
        end = start + timedelta(days=days - 1)
        status = _status_for(start, end, today)
        campaign, _ = Campaign.objects.get_or_create(
            name=name,
            defaults={
                "channel": channel,
                "status": status,
                "start_date": start,
                "end_date": end,
                "cost": cost,
                "quote": quote,
                "owner": marketer,
                "audience": audience,
                "offer": f"{name}: free access for qualified teams.",
                "landing_url": f"https://smarketing.example/{channel}/{start:%Y-%m}",
                "launch_notified_at": now if status == Campaign.Status.DONE else None,
            },
        )
        if not campaign.talking_points.exists():
            TalkingPoint.objects.bulk_create(
                TalkingPoint(campaign=campaign, position=i, text=text)
                for i, text in enumerate(points, start=1)
            )
        for position, (template_name, subject, body) in enumerate(
            (
                ("First follow-up", "{first_name}, your {campaign} follow-up", FOLLOW_UP),
                ("Second touch", "A line for {company}", CHECK_IN),
            ),
            start=1,
        ):
            FollowUpTemplate.objects.get_or_create(
                campaign=campaign,
                name=template_name,
                defaults={"position": position, "subject": subject, "body": body},
            )
        for position, (kind, title, url, description) in enumerate(resources, start=1):
            EnablementResource.objects.get_or_create(
                campaign=campaign,
                title=title,
                defaults={
                    "kind": kind,
                    "position": position,
                    "url": url,
                    "description": description,
                },
            )
        campaigns.append(campaign)
    _content_requests_seed(marketer=marketer, reps=reps, today=today)
    return sorted(campaigns, key=lambda c: (c.start_date, c.name))


DEMO_REQUESTS = [
    # kind, need-by offset, description, state, days ago asked, hours to take, hours to deliver
    (
        ContentRequest.Kind.CASE_STUDY,
        4,
        "They asked for a logistics customer story with numbers. Anything like Northwind?",
        ContentRequest.Status.OPEN,
        1,
        None,
        None,
    ),
    (
        ContentRequest.Kind.RFQ_ANSWER,
        2,
        "RFQ section 4 (data residency and SSO). Due Friday; need marketing's standard answers.",
        ContentRequest.Status.TAKEN,
        2,
        3,
        None,
    ),
    (
        ContentRequest.Kind.CUSTOM_COLLATERAL,
        -5,
        "A one-page deck for their CFO: ROI of faster first touch, with their lead volumes.",
        ContentRequest.Status.DELIVERED,
        9,
        2,
        30,
    ),
]


def _content_requests_seed(*, marketer: User, reps: list[User], today) -> None:
    from leads.models import Lead

    now = timezone.now()
    for index, (kind, need_offset, text, state, asked, take_h, deliver_h) in enumerate(
        DEMO_REQUESTS
    ):
        if ContentRequest.objects.filter(description=text).exists() or not reps:
            continue
        rep = reps[index % len(reps)]
        lead = Lead.objects.filter(owner=rep).order_by("pk").first()
        if lead is None:
            continue  # demo leads are not there yet; a later run adds the requests
        asked_at = now - timedelta(days=asked)
        fields = {
            "lead": lead,
            "campaign_id": lead.source_campaign_id,
            "requested_by": rep,
            "kind": kind,
            "need_by": today + timedelta(days=need_offset),
            "description": text,
            "status": state,
        }
        if take_h is not None:
            fields.update(taken_by=marketer, taken_at=asked_at + timedelta(hours=take_h))
        if deliver_h is not None:
            fields.update(
                delivered_at=asked_at + timedelta(hours=deliver_h),
                delivery_url="https://smarketing.example/decks/cfo-roi",
                delivery_note="Deck in the shared drive under Deals / CFO ROI.",
            )
        request = ContentRequest.objects.create(**fields)
        # created_at is set on insert; move it back to when the rep asked.
        ContentRequest.objects.filter(pk=request.pk).update(created_at=asked_at)
