import socket

from celery import shared_task

from core.services import heartbeat_record, notification_email_send


@shared_task(name="core.heartbeat", acks_late=True, ignore_result=True)
def heartbeat(process: str = "worker") -> None:
    heartbeat_record(process=process, hostname=socket.gethostname())


@shared_task(
    name="core.notification_email",
    acks_late=True,
    ignore_result=True,
    autoretry_for=(ConnectionError, TimeoutError),
    retry_backoff=True,
    max_retries=5,
)
def notification_email(notification_ids: list[int]) -> None:
    notification_email_send(notification_ids=notification_ids)
