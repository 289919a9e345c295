import datetime

import factory

from campaigns.models import Campaign, TalkingPoint


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
