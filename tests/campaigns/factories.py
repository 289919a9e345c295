import datetime

import factory
from django.utils import timezone

from campaigns.models import (
    Campaign,
    ContentRequest,
    EnablementResource,
    FollowUpTemplate,
    TalkingPoint,
)
from tests.leads.factories import stage_history


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    name = factory.Sequence(lambda n: f"Campaign {n}")
    channel = Campaign.Channel.WEBINAR
    status = Campaign.Status.LIVE
    start_date = factory.LazyFunction(lambda: datetime.date(2026, 11, 1))
    end_date = factory.LazyAttribute(lambda c: c.start_date + datetime.timedelta(days=30))
    quote = "We cut response time from two days to two hours."
    offer = "Free pipeline audit"
    landing_url = "https://example.com/audit"


class TalkingPointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TalkingPoint

    campaign = factory.SubFactory(CampaignFactory)
    position = factory.Sequence(lambda n: n + 1)
    text = factory.Faker("sentence")


def campaign_with_points(*points: str, **fields) -> Campaign:
    """A campaign with the given talking points (two default ones when none are given)."""
    campaign = CampaignFactory(**fields)
    for position, text in enumerate(points or ("Point one.", "Point two."), start=1):
        TalkingPoint.objects.create(campaign=campaign, position=position, text=text)
    return campaign


class FollowUpTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FollowUpTemplate

    campaign = factory.SubFactory(CampaignFactory)
    name = factory.Sequence(lambda n: f"Template {n}")
    subject = "Hi {first_name}"
    body = "Hello {first_name} at {company}, about {campaign}."


class EnablementResourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EnablementResource

    campaign = factory.SubFactory(CampaignFactory)
    kind = EnablementResource.Kind.COLLATERAL
    title = factory.Sequence(lambda n: f"Deck {n}")
    url = "https://example.com/deck.pdf"


class ContentRequestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContentRequest

    kind = ContentRequest.Kind.CASE_STUDY
    need_by = factory.LazyFunction(lambda: timezone.localdate() + datetime.timedelta(days=3))
    description = "A case study for a logistics prospect."


def history(lead, *stages: str, at=None) -> None:
    """Write the lead's stage history: new → each of ``stages`` in order."""
    at = at or timezone.now()
    stage_history(
        lead,
        *(
            (stage, at + datetime.timedelta(minutes=step))
            for step, stage in enumerate(("new", *stages))
        ),
    )
