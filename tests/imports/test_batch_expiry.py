"""Old import batches are dropped: previews nobody imported after two weeks, imported files
after a quarter."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from imports.models import ImportBatch
from imports.services import import_batches_expire

pytestmark = pytest.mark.django_db


def batch(user, *, imported: bool) -> ImportBatch:
    return ImportBatch.objects.create(
        created_by=user,
        file_name="leads.csv",
        content="email\na@example.com\n",
        row_count=1,
        status=ImportBatch.Status.IMPORTED if imported else ImportBatch.Status.PREVIEW,
        imported_at=timezone.now() if imported else None,
    )


def test_the_nightly_job_drops_stale_previews_and_old_imports_only(marketer):
    # given a preview and an import from 20 days ago, and a fresh preview
    with time_machine.travel(timezone.now() - timedelta(days=20)):
        stale_preview = batch(marketer, imported=False)
        recent_import = batch(marketer, imported=True)
    fresh_preview = batch(marketer, imported=False)
    # when the job runs now, then only the stale preview goes
    assert import_batches_expire() == 1
    assert set(ImportBatch.objects.values_list("pk", flat=True)) == {
        recent_import.pk,
        fresh_preview.pk,
    }
    assert not ImportBatch.objects.filter(pk=stale_preview.pk).exists()
    # and a quarter later the imported file goes too
    assert import_batches_expire(now=timezone.now() + timedelta(days=91)) == 2
