import pytest
import time_machine
from django.urls import reverse

from core.services import heartbeat_record
from core.tasks import heartbeat


@pytest.mark.django_db
def test_heartbeat_task_counts_each_beat_on_one_row():
    with time_machine.travel("2026-11-02 09:00:00Z", tick=False):
        heartbeat("worker")
    with time_machine.travel("2026-11-02 09:00:30Z", tick=False):
        row = heartbeat_record(process="worker", hostname="host-a")
    assert row.beats == 2
    assert row.seen_at.isoformat() == "2026-11-02T09:00:30+00:00"


@pytest.mark.django_db
def test_manager_sees_when_the_worker_last_beat(client, manager):
    client.force_login(manager)
    assert b"worker or beat is not running" in client.get(reverse("core:status")).content
    heartbeat_record(process="worker", hostname="host-a")
    html = client.get(reverse("core:status")).content.decode()
    assert "host-a" in html
