"""Scoring's worker jobs: thin, named, ids in. Each is idempotent because the services guard on
database state (the ``needs_rescore`` flag, the active version, its ``rescored_at``), so a
duplicated delivery does nothing and a lost one is redone by the minute sweep."""

from celery import shared_task

from leads.scoring_services import (
    full_rescore_overdue,
    scores_refresh_all,
    scores_refresh_pending,
)


@shared_task(name="leads.rescore_leads", acks_late=True, ignore_result=True)
def rescore_leads(lead_ids: list[int]) -> None:
    """After new events: rescore these leads if they are still flagged."""
    scores_refresh_pending(lead_ids=lead_ids)


@shared_task(name="leads.rescore_pending", acks_late=True, ignore_result=True)
def rescore_pending() -> None:
    """Beat, every minute: every lead still flagged (a lost or failed task leaves the flag set),
    and a full rescore the last rules change asked for but never finished."""
    scores_refresh_pending()
    version_id = full_rescore_overdue()
    if version_id is not None:
        rescore_all.delay(version_id=version_id)


@shared_task(name="leads.rescore_all", acks_late=True, ignore_result=True)
def rescore_all(version_id: int | None = None) -> None:
    """After a rules change: every lead with the version that change created."""
    scores_refresh_all(version_id=version_id)


@shared_task(name="leads.rescore_decay", acks_late=True, ignore_result=True)
def rescore_decay() -> None:
    """Beat, hourly: decay moves scores of leads with events; rewrite those that changed."""
    scores_refresh_all(only_engaged=True)
