"""Webhook worker jobs: thin, named, ids in. Idempotent because the services guard on the
delivery row (pending, due, claimed under a row lock), so a duplicated task posts nothing and
a lost one is re-queued by the minute sweep."""

from celery import shared_task

from webhooks.services import webhook_deliveries_sweep, webhook_delivery_attempt


@shared_task(name="webhooks.deliver", acks_late=True, ignore_result=True)
def deliver(delivery_id: int) -> None:
    """POST one delivery if it is still pending and due; record the outcome."""
    webhook_delivery_attempt(delivery_id=delivery_id)


@shared_task(name="webhooks.sweep", acks_late=True, ignore_result=True)
def sweep() -> None:
    """Beat, every minute: queue due retries and what lost tasks left, prune old successes."""
    webhook_deliveries_sweep()
