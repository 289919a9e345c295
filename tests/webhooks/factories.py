import uuid

import factory
from django.utils import timezone

from webhooks.models import EventType, WebhookDelivery, WebhookEndpoint
from webhooks.services import envelope, secret_generate


class WebhookEndpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WebhookEndpoint

    url = factory.Sequence(lambda n: f"https://hooks{n}.example.com/smarketing")
    description = factory.Sequence(lambda n: f"Receiver {n}")
    secret = factory.LazyFunction(secret_generate)
    events = factory.LazyFunction(lambda: [EventType.HANDOFF_CREATED.value])
    is_active = True


class WebhookDeliveryFactory(factory.django.DjangoModelFactory):
    """A pending delivery, due now; pass ``status`` etc. for others."""

    class Meta:
        model = WebhookDelivery

    endpoint = factory.SubFactory(WebhookEndpointFactory)
    event_type = EventType.TEST.value
    event_id = factory.LazyFunction(uuid.uuid4)
    created_at = factory.LazyFunction(timezone.now)
    next_attempt_at = factory.LazyAttribute(lambda d: d.created_at)
    dispatched_at = factory.LazyAttribute(lambda d: d.created_at)
    payload = factory.LazyAttribute(
        lambda d: envelope(
            event_id=d.event_id, event_type=d.event_type, created_at=d.created_at, data={"n": 1}
        )
    )
