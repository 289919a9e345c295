from collections.abc import Iterable

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from core.models import Heartbeat, Notification


@transaction.atomic
def heartbeat_record(*, process: str, hostname: str = "") -> Heartbeat:
    """Upsert the process's row: one row per process, a counter that only grows."""
    now = timezone.now()
    updated = Heartbeat.objects.filter(process=process).update(
        beats=F("beats") + 1, seen_at=now, hostname=hostname
    )
    if not updated:
        Heartbeat.objects.get_or_create(
            process=process, defaults={"hostname": hostname, "seen_at": now, "beats": 1}
        )
    return Heartbeat.objects.get(process=process)


def notification_send(
    *, recipients: Iterable, kind: str, message: str, url: str = ""
) -> list[Notification]:
    """Store one in-app notification per recipient; their emails go out after commit."""
    return notification_send_many([(recipients, kind, message, url)])


def notification_send_many(
    items: Iterable[tuple[Iterable, str, str, str]],
) -> list[Notification]:
    """Many notifications in one insert: ``(recipients, kind, message, url)`` per item.
    Emails go out after commit (``notification_emails_queue``)."""
    rows = [
        Notification(user=user, kind=kind, message=message[:300], url=url)
        for recipients, kind, message, url in items
        for user in {u.pk: u for u in recipients if u is not None}.values()
    ]
    created = Notification.objects.bulk_create(rows, batch_size=2000)
    notification_emails_queue(notification_ids=[n.pk for n in created])
    return created


# Ids per email task: a run that notifies thousands queues a few small tasks, not one huge one.
EMAIL_TASK_IDS = 1000


def notification_emails_queue(*, notification_ids: list[int]) -> None:
    """After commit, queue the notifications' emails in tasks of at most EMAIL_TASK_IDS ids
    (for notifications stored by set-based SQL as well as by ``notification_send_many``)."""
    from core.tasks import notification_email

    ids = list(notification_ids)
    for start in range(0, len(ids), EMAIL_TASK_IDS):
        chunk = ids[start : start + EMAIL_TASK_IDS]
        transaction.on_commit(lambda chunk=chunk: notification_email.delay(chunk))


def notification_mark_read(*, user, notification_ids: Iterable[int] | None = None) -> int:
    """Mark the user's notifications read (all unread ones when no ids are given)."""
    unread = Notification.objects.filter(user=user, read_at__isnull=True)
    if notification_ids is not None:
        unread = unread.filter(pk__in=list(notification_ids))
    return unread.update(read_at=timezone.now())


def notification_email_send(*, notification_ids: list[int]) -> int:
    """Email each notification once, over one mail connection. One conditional update claims
    the batch before sending, so concurrent or repeated tasks never email twice; if the mail
    server fails, the claims of the emails not yet sent are released and the error raised
    (the task retries them). Returns how many emails went out."""
    from django.conf import settings
    from django.core.mail import EmailMessage, get_connection

    claimed = _notifications_claim_for_email(notification_ids=notification_ids)
    if not claimed:
        return 0
    site = settings.SMARKETING["SITE_URL"]
    messages = [
        (
            notification.pk,
            EmailMessage(
                subject=f"[smarketing] {notification.get_kind_display()}",
                body=f"{notification.message}\n\n{link}".strip(),
                to=[notification.user.email],
            ),
        )
        for notification in Notification.objects.filter(pk__in=claimed)
        .select_related("user")
        .order_by("pk")
        if notification.user.email
        for link in [f"{site}{notification.url}" if notification.url else ""]
    ]
    sent = 0
    with get_connection() as mail:
        for position, (_pk, message) in enumerate(messages):
            try:
                sent += mail.send_messages([message]) or 0
            except Exception:
                Notification.objects.filter(pk__in=[pk for pk, _ in messages[position:]]).update(
                    emailed_at=None
                )
                raise
    return sent


def _notifications_claim_for_email(*, notification_ids: list[int]) -> list[int]:
    """Mark the not yet emailed ones emailed in one statement; return their ids."""
    ids = [int(pk) for pk in notification_ids]
    if not ids:
        return []
    table = connection.ops.quote_name(Notification._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET emailed_at = %s "  # noqa: S608 - the table name is ours
            f"WHERE emailed_at IS NULL AND id IN ({', '.join(['%s'] * len(ids))}) RETURNING id",
            [timezone.now(), *ids],
        )
        return [row[0] for row in cursor.fetchall()]
