"""The leads list's CSV export: the page's filters, search, sort and roles; streamed in one
query; formula-safe cells; a header the import reads back."""

import csv
import html
import io
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from core.roles import user_roles
from imports.lead_rows import MATCHED, csv_parse, lead_import_plan
from leads.marketing_selectors import LEAD_EXPORT_COLUMNS, LeadListQuery, lead_list_export_rows
from leads.models import Lead, Stage, Temperature
from tests.campaigns.factories import CampaignFactory
from tests.leads.factories import LeadFactory, owned_lead

pytestmark = pytest.mark.django_db
EXPORT = reverse("leads:list_csv")
PAGE = reverse("leads:list")


def exported(response) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def listed(response) -> list[str]:
    return [lead.email for lead in response.context["leads"]]


def export_link(response) -> str:
    match = re.search(r'href="([^"]*)"[^>]*>Export CSV<', response.content.decode())
    assert match, "the page has no Export CSV link"
    return html.unescape(match.group(1))


def test_export_streams_every_column_with_a_dated_filename(client_for, marketer, rep):
    # given a lead with a campaign and an owner
    campaign = CampaignFactory(name="Autumn webinar")
    lead = owned_lead(
        rep, source_campaign=campaign, email="ada@x.example", phone="555 0100", score=42
    )
    # when the marketer exports on 22 November 2026
    with time_machine.travel("2026-11-22 12:00Z"):
        response = client_for(marketer).get(EXPORT)
    # then a streamed CSV named after the day holds the lead's stable field names and values
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="leads-2026-11-22.csv"'
    (row,) = exported(response)
    assert list(row) == list(LEAD_EXPORT_COLUMNS)
    assert row["id"] == str(lead.pk)
    assert row["email"] == "ada@x.example"
    assert row["phone"] == "555 0100"
    assert row["source_campaign"] == "Autumn webinar"
    assert row["owner"] == "rep-a"
    assert row["stage"] == Stage.MQL
    assert row["kind"] == Stage.MQL
    assert row["score"] == "42"
    assert row["company_size"] == "250"
    assert row["created_at"] == lead.created_at.isoformat()
    assert row["stage_changed_at"] == lead.stage_changed_at.isoformat()


def test_export_carries_the_filtered_rows_only(client_for, marketer, rep):
    # given leads that differ in one attribute each
    campaign = CampaignFactory()
    hot = LeadFactory(email="hot@x.example", temperature=Temperature.HOT, company="Acme")
    LeadFactory(email="hot-other@x.example", temperature=Temperature.HOT, company="Globex")
    from_campaign = LeadFactory(email="camp@x.example", source_campaign=campaign)
    mine = owned_lead(rep, email="owned@x.example")
    client = client_for(marketer)

    def emails(params) -> list[str]:
        return [row["email"] for row in exported(client.get(EXPORT, params))]

    # when the marketer exports with filters and a search, then only the matches come out
    assert emails({"temperature": "hot", "q": "acme"}) == [hot.email]
    assert emails({"campaign": campaign.pk}) == [from_campaign.email]
    assert emails({"owner": rep.pk}) == [mine.email]
    assert mine.email not in emails({"owner": "none"})
    assert emails({"stage": "won"}) == []
    assert len(emails({})) == 4


def test_export_keeps_the_pages_order_across_all_its_pages(client_for, marketer):
    # given 55 leads (more than a page) with tied scores and different creation times
    now = timezone.now()
    for i in range(55):
        lead = LeadFactory(score=(i % 3) * 10)
        Lead.objects.filter(pk=lead.pk).update(created_at=now - timedelta(hours=i))
    client = client_for(marketer)
    for sort in ("newest", "oldest", "score", "score_low"):
        # when the list is walked page by page and exported with the same sort
        walked, url = [], f"{PAGE}?sort={sort}"
        while url:
            page = client.get(url)
            walked += listed(page)
            url = PAGE + page.context["next_url"] if page.context["next_url"] else ""
        rows = exported(client.get(EXPORT, {"sort": sort}))
        # then the export holds every page's leads in the page's order
        assert [row["email"] for row in rows] == walked, sort
        assert len(rows) == 55


def test_export_follows_the_pipelines_reached_drill_down(client_for, marketer):
    # given one lead that became an MQL last week and one long ago
    from leads.models import LeadStageChange

    recent, old = LeadFactory(stage=Stage.MQL), LeadFactory(stage=Stage.MQL)
    now = timezone.now()
    LeadStageChange.objects.create(lead=recent, to_stage=Stage.MQL, created_at=now)
    LeadStageChange.objects.create(
        lead=old, to_stage=Stage.MQL, created_at=now - timedelta(days=200)
    )
    # when the drilled-down list is exported
    rows = exported(client_for(marketer).get(EXPORT, {"reached": "mql", "period": "90d"}))
    # then only the recent one comes out
    assert [row["email"] for row in rows] == [recent.email]


def test_rep_cannot_export_the_leads_list(client_for, rep):
    # given a rep, whose leads list holds only their own leads
    owned_lead(rep)
    client = client_for(rep)
    # when they ask for marketing's export, then it is refused and the page offers none
    assert client.get(EXPORT).status_code == 403
    assert EXPORT not in client.get(PAGE).content.decode()


def test_manager_exports_every_lead(client_for, manager, rep, other_rep):
    # given leads of two reps and one without an owner
    leads = [owned_lead(rep), owned_lead(other_rep), LeadFactory()]
    # when a manager exports, then every lead comes out, as on their page
    rows = exported(client_for(manager).get(EXPORT))
    assert {row["email"] for row in rows} == {lead.email for lead in leads}


def test_anonymous_visitor_is_sent_to_log_in(client):
    response = client.get(EXPORT)
    assert response.status_code == 302
    assert "login" in response["Location"]


def test_cells_that_start_like_a_formula_are_escaped(client_for, marketer):
    # given a lead whose text fields start like spreadsheet formulas
    LeadFactory(
        first_name="=cmd|' /C calc'!A0",
        last_name="-2+3",
        company="@SUM(A1:A9)",
        title="\tVP",
        phone="+44 20 7946 0958",
        industry="Software",
        score=0,
    )
    # when the marketer exports
    (row,) = exported(client_for(marketer).get(EXPORT))
    # then those cells are prefixed with ' so they stay text, and the others are untouched
    assert row["first_name"] == "'=cmd|' /C calc'!A0"
    assert row["last_name"] == "'-2+3"
    assert row["company"] == "'@SUM(A1:A9)"
    assert row["title"] == "'\tVP"
    assert row["phone"] == "'+44 20 7946 0958"
    assert row["industry"] == "Software"
    assert row["score"] == "0"


@pytest.mark.parametrize("n", [5, 60])
def test_export_takes_a_fixed_number_of_queries(
    n, client_for, marketer, rep, django_assert_num_queries
):
    # given n leads, each with an owner and a campaign to join
    campaign = CampaignFactory()
    for _ in range(n):
        owned_lead(rep, source_campaign=campaign)
    client = client_for(marketer)
    # when the filtered list is exported and the whole stream read
    # then: session, user, roles, campaigns, reps (the filter form), the leads
    with django_assert_num_queries(6):
        response = client.get(EXPORT, {"sort": "score", "campaign": campaign.pk})
        rows = exported(response)
    assert len(rows) == n


def test_export_rows_are_read_lazily_in_one_query_whatever_the_chunk_size(
    marketer, rep, django_assert_num_queries
):
    # given five leads with owners and campaigns
    campaign = CampaignFactory()
    for _ in range(5):
        owned_lead(rep, source_campaign=campaign)
    user_roles(marketer)  # read once per request, before the rows
    # when the rows are asked for, nothing is read yet
    with django_assert_num_queries(0):
        rows = lead_list_export_rows(user=marketer, query=LeadListQuery(), chunk_size=2)
    # then reading them, two at a time, is one query with owner and campaign joined
    with django_assert_num_queries(1):
        read = list(rows)
    assert len(read) == 5
    assert {row[list(LEAD_EXPORT_COLUMNS).index("owner")] for row in read} == {"rep-a"}


def test_the_export_link_carries_the_pages_filters_but_not_its_page(client_for, marketer):
    # given more than a page of hot leads and a campaign
    campaign = CampaignFactory()
    for _ in range(51):
        LeadFactory(temperature=Temperature.HOT, source_campaign=campaign, company="Acme")
    client = client_for(marketer)
    params = {"temperature": "hot", "campaign": campaign.pk, "q": "acme", "sort": "score_low"}
    first = client.get(PAGE, params)
    # when the marketer is on the second page
    second = client.get(PAGE + first.context["next_url"])
    link = export_link(second)
    # then the export link keeps the filters, search and sort, and exports every page
    url = urlsplit(link)
    assert url.path == EXPORT
    assert parse_qs(url.query) == {key: [str(value)] for key, value in params.items()}
    rows = exported(client.get(link))
    assert len(rows) == 51
    assert [row["email"] for row in rows[:50]] == listed(first)


def test_the_export_link_of_the_unfiltered_page_has_no_query(client_for, marketer):
    assert export_link(client_for(marketer).get(PAGE)) == EXPORT


def test_the_import_reads_the_exports_header_back(client_for, marketer, rep):
    # given exported leads, one from a campaign and one owned
    campaign = CampaignFactory(name="Spring webinar")
    LeadFactory(source_campaign=campaign)
    owned_lead(rep)
    body = b"".join(client_for(marketer).get(EXPORT).streaming_content).decode()
    # when the file is read by the import
    parsed = csv_parse(body)
    plan = lead_import_plan(parsed)
    # then the import's columns are recognised, the rest are reported as not imported
    assert {c for c in parsed.columns if c} == {
        "email",
        "first_name",
        "last_name",
        "phone",
        "title",
        "company",
        "company_size",
        "industry",
        "country",
        "source_channel",
        "campaign",
    }
    assert {name for name, _why in parsed.ignored} == {
        "id",
        "stage",
        "kind",
        "owner",
        "score",
        "temperature",
        "created_at",
        "stage_changed_at",
    }
    # and every row matches its lead without errors
    assert [row.outcome for row in plan.rows] == [MATCHED, MATCHED]


def test_a_formula_guarded_phone_imports_back_as_it_was(client_for, marketer):
    # given a lead whose phone starts with "+", exported (the cell is guarded with "'")
    LeadFactory(email="intl@x.example", phone="+44 20 7946 0000", company="Old Co")
    body = b"".join(client_for(marketer).get(EXPORT).streaming_content).decode()
    assert "'+44 20 7946 0000" in body
    # when the export is read by the import, as a new person under another email
    parsed = csv_parse(body.replace("intl@x.example", "new@x.example"))
    plan = lead_import_plan(parsed)
    # then the phone comes back without the guard
    (row,) = plan.rows
    assert row.values["phone"] == "+44 20 7946 0000"
