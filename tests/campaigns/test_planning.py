"""Campaign planning: validation, status moves, duplicate, archive, role checks (services and
pages)."""

import datetime

import pytest
from django.urls import reverse

from campaigns.models import Campaign, CampaignChange, FollowUpTemplate
from campaigns.services import (
    CampaignInvalid,
    campaign_archive,
    campaign_create,
    campaign_duplicate,
    campaign_update,
    resource_save,
    template_save,
)
from core.errors import DomainError, NotAllowed
from tests.campaigns.factories import (
    EnablementResourceFactory,
    FollowUpTemplateFactory,
    campaign_with_points,
)

pytestmark = pytest.mark.django_db

D = datetime.date


def valid_values(**overrides):
    values = {
        "name": "Spring webinar",
        "channel": Campaign.Channel.WEBINAR,
        "start_date": D(2026, 12, 1),
        "end_date": D(2026, 12, 3),
        "landing_url": "https://example.com/spring",
        "cost": "1500.00",
    }
    values.update(overrides)
    return values


def form_data(**overrides):
    data = {
        "name": "Spring webinar",
        "channel": "webinar",
        "status": "planned",
        "start_date": "2026-12-01",
        "end_date": "2026-12-03",
        "owner": "",
        "audience": "RevOps leaders",
        "offer": "Free audit",
        "landing_url": "https://example.com/spring",
        "cost": "1500",
        "talking_point_1": "Handoffs lose leads.",
        "talking_point_2": "One funnel for both teams.",
        "talking_point_3": "",
        "quote": "We finally agree on what an MQL is.",
    }
    data.update(overrides)
    return data


# --- services --------------------------------------------------------------------------------
def test_marketer_creates_a_campaign_with_ordered_talking_points_and_a_history_row(marketer):
    # when a marketer creates a campaign with three talking points
    campaign = campaign_create(
        actor=marketer, talking_points=[" First ", "Second", "Third"], **valid_values()
    )
    # then the points are stored in order, trimmed, and the creation is recorded
    assert list(campaign.talking_points.values_list("position", "text")) == [
        (1, "First"),
        (2, "Second"),
        (3, "Third"),
    ]
    assert campaign.status == Campaign.Status.PLANNED
    assert CampaignChange.objects.filter(campaign=campaign, kind="created", actor=marketer).exists()


@pytest.mark.parametrize(
    ("overrides", "points", "field"),
    [
        ({"end_date": D(2026, 11, 30)}, ["a", "b"], "end_date"),
        ({}, ["only one"], "talking_points"),
        ({}, ["a", "b", "c", "d"], "talking_points"),
        ({}, ["a", "  "], "talking_points"),
        ({"landing_url": "not a url"}, ["a", "b"], "landing_url"),
        ({"landing_url": "ftp://example.com/x"}, ["a", "b"], "landing_url"),
        ({"cost": "-1"}, ["a", "b"], "cost"),
        ({"name": "  "}, ["a", "b"], "name"),
    ],
)
def test_invalid_campaign_is_refused_by_field_and_nothing_is_written(
    marketer, overrides, points, field
):
    # when a campaign breaks one rule
    with pytest.raises(CampaignInvalid) as refused:
        campaign_create(actor=marketer, talking_points=points, **valid_values(**overrides))
    # then the error names the field and nothing was stored
    assert field in refused.value.errors
    assert not Campaign.objects.exists()


def test_rep_cannot_create_or_edit_a_campaign(rep):
    campaign = campaign_with_points()
    with pytest.raises(NotAllowed):
        campaign_create(actor=rep, talking_points=["a", "b"], **valid_values())
    with pytest.raises(NotAllowed):
        campaign_update(campaign_id=campaign.pk, actor=rep, name="Mine now")


def test_edit_replaces_talking_points_and_records_which_fields_changed(marketer):
    campaign = campaign_with_points("Old one.", "Old two.", status="planned")
    # when the marketer edits the name and the points
    campaign_update(
        campaign_id=campaign.pk, actor=marketer, name="Renamed", talking_points=["New", "Two"]
    )
    # then both changed and the history row lists them
    campaign.refresh_from_db()
    assert campaign.name == "Renamed"
    assert list(campaign.talking_points.values_list("text", flat=True)) == ["New", "Two"]
    change = CampaignChange.objects.get(campaign=campaign, kind="updated")
    assert change.details["fields"] == ["name", "talking_points"]


def test_a_done_campaign_cannot_go_back_to_planned(marketer):
    campaign = campaign_with_points(status="done")
    with pytest.raises(CampaignInvalid) as refused:
        campaign_update(campaign_id=campaign.pk, actor=marketer, status="planned")
    assert "status" in refused.value.errors


def test_duplicate_copies_points_templates_and_resources_as_a_planned_campaign(marketer):
    source = campaign_with_points("One.", "Two.", status="live", cost=900)
    FollowUpTemplateFactory(campaign=source, name="After the call")
    EnablementResourceFactory(campaign=source, title="Deck")
    # when the marketer duplicates it
    copy = campaign_duplicate(campaign_id=source.pk, actor=marketer)
    # then the copy is planned, not launched, and carries the same enablement content
    assert copy.pk != source.pk and copy.name == f"Copy of {source.name}"
    assert copy.status == Campaign.Status.PLANNED and copy.launch_notified_at is None
    assert list(copy.talking_points.values_list("text", flat=True)) == ["One.", "Two."]
    assert list(copy.templates.values_list("name", flat=True)) == ["After the call"]
    assert list(copy.resources.values_list("title", flat=True)) == ["Deck"]
    assert copy.changes.get().details["from"] == source.pk


def test_archive_hides_but_keeps_the_campaign_and_refuses_twice(marketer):
    campaign = campaign_with_points()
    campaign_archive(campaign_id=campaign.pk, actor=marketer)
    campaign.refresh_from_db()
    assert campaign.is_archived
    with pytest.raises(DomainError):
        campaign_archive(campaign_id=campaign.pk, actor=marketer)


def test_template_with_unknown_placeholder_is_refused_on_the_field(marketer):
    campaign = campaign_with_points()
    with pytest.raises(CampaignInvalid) as refused:
        template_save(
            actor=marketer,
            campaign_id=campaign.pk,
            name="Follow-up",
            subject="Hi {firstname}",
            body="About {campaign}",
        )
    assert refused.value.errors == {"subject": ["Unknown placeholder: {firstname}."]}
    assert not FollowUpTemplate.objects.exists()


def test_collateral_needs_a_valid_link(marketer):
    campaign = campaign_with_points()
    with pytest.raises(CampaignInvalid) as refused:
        resource_save(actor=marketer, campaign_id=campaign.pk, kind="collateral", title="Deck")
    assert "url" in refused.value.errors
    persona = resource_save(
        actor=marketer, campaign_id=campaign.pk, kind="persona", title="CFO", description="…"
    )
    assert persona.url == ""


# --- pages -----------------------------------------------------------------------------------
def test_marketer_creates_a_campaign_from_the_form(client_for, marketer):
    client = client_for(marketer)
    response = client.post(reverse("campaigns:new"), form_data(owner=str(marketer.pk)))
    campaign = Campaign.objects.get()
    assert response.status_code == 302 and response["Location"] == campaign.get_absolute_url()
    assert campaign.owner == marketer
    assert list(campaign.talking_points.values_list("text", flat=True)) == [
        "Handoffs lose leads.",
        "One funnel for both teams.",
    ]


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"end_date": "2026-11-30"}, "end_date", "The end date cannot be before the start date."),
        ({"talking_point_2": ""}, "talking_point_2", "Give sales 2 or 3 talking points."),
        (
            {"talking_point_1": "", "talking_point_2": ""},
            "talking_point_1",
            "Give sales 2 or 3 talking points.",
        ),
        (
            {"landing_url": "example dot com"},
            "landing_url",
            "Enter a full web address starting with http:// or https://.",
        ),
    ],
)
def test_campaign_form_shows_the_error_on_the_field(
    client_for, marketer, overrides, field, message
):
    # when the form is posted with one broken rule
    response = client_for(marketer).post(reverse("campaigns:new"), form_data(**overrides))
    # then the page comes back with the error on the field and nothing is created
    assert response.status_code == 200
    assert message in response.context["form"].errors[field]
    assert message in response.content.decode()
    assert not Campaign.objects.exists()


def test_rep_gets_403_on_create_edit_and_actions(client_for, rep):
    campaign = campaign_with_points(status="planned")
    client = client_for(rep)
    assert client.get(reverse("campaigns:new")).status_code == 403
    assert client.post(reverse("campaigns:new"), form_data()).status_code == 403
    assert client.get(reverse("campaigns:edit", args=[campaign.pk])).status_code == 403
    for name in ("duplicate", "archive", "set_live"):
        assert client.post(reverse(f"campaigns:{name}", args=[campaign.pk])).status_code == 403
    assert Campaign.objects.count() == 1


def test_rep_reads_the_campaign_page_without_edit_buttons(client_for, rep):
    campaign = campaign_with_points("Say this.", "Then that.")
    html = client_for(rep).get(campaign.get_absolute_url()).content.decode()
    assert "Say this." in html and campaign.quote in html
    assert reverse("campaigns:edit", args=[campaign.pk]) not in html


def test_edit_form_saves_changes(client_for, marketer):
    campaign = campaign_with_points(status="planned")
    response = client_for(marketer).post(
        reverse("campaigns:edit", args=[campaign.pk]), form_data(name="Renamed")
    )
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.name == "Renamed"


def test_duplicate_button_opens_the_copy_for_editing(client_for, marketer):
    campaign = campaign_with_points()
    response = client_for(marketer).post(reverse("campaigns:duplicate", args=[campaign.pk]))
    copy = Campaign.objects.exclude(pk=campaign.pk).get()
    assert response["Location"] == reverse("campaigns:edit", args=[copy.pk])


def test_detail_fills_templates_for_a_chosen_lead_and_reports_unknown_placeholders(
    client_for, marketer
):
    from tests.leads.factories import LeadFactory

    campaign = campaign_with_points(name="Webinar X")
    lead = LeadFactory(first_name="Ada", company="Acme", source_campaign=campaign)
    FollowUpTemplateFactory(campaign=campaign, subject="Hi {first_name}", body="{company} {oops}")
    # when the marketer fills the template for the lead
    response = client_for(marketer).get(f"{campaign.get_absolute_url()}?lead={lead.pk}")
    html = response.content.decode()
    # then the values are filled and the unknown placeholder is reported, not a crash
    assert response.status_code == 200
    assert 'value="Hi Ada"' in html
    assert "Acme {oops}" in html
    assert "Unknown placeholder" in html


def test_template_form_reports_unknown_placeholder(client_for, marketer):
    campaign = campaign_with_points()
    response = client_for(marketer).post(
        reverse("campaigns:template_new", args=[campaign.pk]),
        {"name": "F", "subject": "Hi {first}", "body": "x"},
    )
    assert response.status_code == 200
    assert "Unknown placeholder: {first}." in response.context["form"].errors["subject"]


def test_campaign_list_filters_by_channel_and_hides_archived(client_for, marketer):
    webinar = campaign_with_points(name="The webinar", channel="webinar")
    campaign_with_points(name="The email", channel="email")
    campaign_with_points(name="Old one", channel="webinar", archived_at=webinar.created_at)
    page = client_for(marketer).get(reverse("campaigns:list"), {"channel": "webinar"})
    names = [c.name for c in page.context["page"].object_list]
    assert names == ["The webinar"]
