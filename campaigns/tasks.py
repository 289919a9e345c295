from celery import shared_task

from campaigns.services import campaigns_finish_ended, campaigns_launch_due


@shared_task(name="campaigns.launch_due", acks_late=True, ignore_result=True)
def launch_due() -> None:
    """Beat job: start campaigns whose date came, notify sales once, finish ended ones.
    Idempotent: the services guard on status and on the launch claim."""
    campaigns_launch_due()
    campaigns_finish_ended()
