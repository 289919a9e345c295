"""The Django admin shows scoring versions with their rules, read-only."""

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from leads.models import EventKind
from tests.leads.factories import scoring_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_in(client):
    admin = User.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    return client


def test_admin_shows_a_version_with_its_rules_and_edits_nothing(admin_client_in):
    version = scoring_version(
        fit=[{"field": "title", "operator": "contains", "value": "VP", "points": 15}],
        engagement=[{"kind": EventKind.PRICING_VIEW, "points": 30, "half_life_days": 7, "cap": 40}],
    )
    url = reverse("admin:leads_scoringmodel_change", args=[version.pk])
    listing = admin_client_in.get(reverse("admin:leads_scoringmodel_changelist"))
    assert listing.status_code == 200
    assert f'href="{url}"' in listing.content.decode()

    page = admin_client_in.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Fit rules" in html and "Engagement rules" in html
    assert "VP" in html and "Pricing page view" in html
    assert 'name="_save"' not in html  # a view, not a form

    # a version cannot be changed, added or deleted here
    assert admin_client_in.post(url, {"note": "edited"}).status_code == 403
    assert admin_client_in.get(reverse("admin:leads_scoringmodel_add")).status_code == 403
    delete = reverse("admin:leads_scoringmodel_delete", args=[version.pk])
    assert admin_client_in.post(delete, {"post": "yes"}).status_code == 403
    version.refresh_from_db()
    assert version.note == ""
