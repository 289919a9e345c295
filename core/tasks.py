import socket

from celery import shared_task

from core.services import heartbeat_record


@shared_task(name="core.heartbeat", acks_late=True, ignore_result=True)
def heartbeat(process: str = "worker") -> None:
    heartbeat_record(process=process, hostname=socket.gethostname())
