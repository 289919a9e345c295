"""Beat jobs of the SLA. Thin: each calls one service that is idempotent on its own (the
scan claims each step with a conditional update; a digest claims its DigestSent row)."""

import smtplib
from dataclasses import asdict

from celery import shared_task

from slas.services import digests_managers_send, digests_reps_send, sla_scan

MAIL_ERRORS = (ConnectionError, TimeoutError, smtplib.SMTPException)


@shared_task(name="slas.scan", acks_late=True, ignore_result=True)
def sla_scan_task() -> dict:
    # Idempotent: every step claims its deadlines with a conditional update.
    return asdict(sla_scan())


@shared_task(
    name="slas.digest_reps",
    acks_late=True,
    ignore_result=True,
    autoretry_for=MAIL_ERRORS,
    retry_backoff=True,
    max_retries=5,
)
def digest_reps_task() -> int:
    """Morning digest to every rep; a retry skips the reps already sent today's."""
    return digests_reps_send()


@shared_task(
    name="slas.digest_managers",
    acks_late=True,
    ignore_result=True,
    autoretry_for=MAIL_ERRORS,
    retry_backoff=True,
    max_retries=5,
)
def digest_managers_task() -> int:
    """Weekly SLA digest to every manager; a retry skips those already sent this week's."""
    return digests_managers_send()


@shared_task(name="slas.audit_refresh", acks_late=True, ignore_result=True)
def audit_refresh_task() -> list[str]:
    """Recompute the stored audit figures of last month and this month (an upsert per month:
    a repeated or overlapping run only refreshes them again)."""
    from slas.audit_services import audit_rollups_refresh_recent

    return audit_rollups_refresh_recent()
