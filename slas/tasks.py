from celery import shared_task

from slas.services import ScanResult, sla_scan


@shared_task(name="slas.scan", acks_late=True, ignore_result=True)
def sla_scan_task() -> ScanResult:
    # Idempotent: every step claims its deadlines with a conditional update.
    return sla_scan()
