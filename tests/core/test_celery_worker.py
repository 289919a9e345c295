"""A real Celery worker on Redis, writing to the PostgreSQL test database."""

import uuid

import pytest
from django.db import transaction

from core.models import Heartbeat
from core.tasks import heartbeat
from tests.conftest import wait_for

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.xdist_group("worker"),
]


def test_real_worker_runs_a_task_that_writes_to_postgres(real_broker):
    # given a process name nobody used
    process = f"it-{uuid.uuid4().hex[:6]}"
    # when the task goes through Redis to the worker
    heartbeat.delay(process)
    # then the worker's row appears in the database
    row = wait_for(lambda: Heartbeat.objects.filter(process=process).first())
    assert row.beats == 1
    assert row.hostname


def test_task_enqueued_in_a_rolled_back_transaction_never_runs(real_broker):
    rolled_back = f"rb-{uuid.uuid4().hex[:6]}"
    sentinel = f"ok-{uuid.uuid4().hex[:6]}"
    # given a transaction that enqueues on commit and then fails
    with pytest.raises(RuntimeError), transaction.atomic():
        transaction.on_commit(lambda: heartbeat.delay(rolled_back))
        raise RuntimeError("boom")
    # when a later task is enqueued after a real commit
    with transaction.atomic():
        transaction.on_commit(lambda: heartbeat.delay(sentinel))
    # then the worker ran the later task but never the rolled-back one
    wait_for(lambda: Heartbeat.objects.filter(process=sentinel).exists())
    assert not Heartbeat.objects.filter(process=rolled_back).exists()
