from celery import shared_task

from imports.services import import_batches_expire


@shared_task(name="imports.batches_expire", acks_late=True, ignore_result=True)
def batches_expire() -> None:
    import_batches_expire()
