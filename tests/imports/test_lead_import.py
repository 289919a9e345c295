"""CSV lead import (/leads/import/): upload → per-row preview → import the valid rows set-based,
matched leads only get their empty fields, the rows with errors download as a CSV."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from imports.lead_rows import MAX_ROWS
from imports.models import ImportBatch
from leads.models import Lead, LeadStageChange, SourceChannel, Stage
from tests.campaigns.factories import CampaignFactory
from tests.leads.factories import LeadFactory, scoring_version

pytestmark = pytest.mark.django_db
UPLOAD = "/leads/import/"


def _csv(*rows: list) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


def _upload(client, data: bytes, name: str = "leads.csv"):
    return client.post(UPLOAD, {"file": SimpleUploadedFile(name, data, "text/csv")})


def _rows(html: str) -> dict[int, str]:
    """Line number → outcome, from the preview table."""
    found = {}
    for chunk in html.split('<tr data-line="')[1:]:
        line, rest = chunk.split('"', 1)
        found[int(line)] = rest.split('data-outcome="', 1)[1].split('"', 1)[0]
    return found


@pytest.fixture
def mixed_file(db):
    """A file with every kind of row, and the lead and campaign it refers to."""
    campaign = CampaignFactory(name="Spring Webinar")
    existing = LeadFactory(email="known@example.com", first_name="Kim", phone="", company="")
    data = _csv(
        ["Email", "first_name", "company", "company_size", "country", "campaign", "favourite"],
        ["new.one@example.com", "Nia", "Acme", "120", "de", "spring webinar", "tea"],  # 2
        ["not-an-email", "Bad", "Acme", "10", "US", "", ""],  # 3
        ["size@example.com", "Sam", "Acme", "a dozen", "US", "", ""],  # 4
        ["NEW.ONE@example.com", "Nia again", "", "", "", "", ""],  # 5
        ["KNOWN@example.com", "Karl", "Known Corp", "", "", str(campaign.pk), ""],  # 6
        ["", "", "", "", "", "", ""],  # 7: blank, skipped
        ["new.two@example.com", "", "", "", "", "", ""],  # 8
    )
    return data, existing, campaign


def test_the_preview_reports_each_line_and_writes_nothing(client_for, marketer, mixed_file):
    data, existing, _campaign = mixed_file
    client = client_for(marketer)
    # when the marketer uploads the file
    response = _upload(client, data)
    # then the file is kept and the preview opens
    batch = ImportBatch.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("imports:lead_import_batch", args=[batch.pk])
    page = client.get(response.url)
    html = page.content.decode()
    # with each line's outcome, field messages, the counts and the ignored column
    assert _rows(html) == {
        2: "created",
        3: "error",
        4: "error",
        5: "error",
        6: "matched",
        8: "created",
    }
    assert "Enter a valid email address." in html
    assert "Enter a whole number." in html
    assert "The same email as line 2" in html
    assert "fills company" in html
    assert "favourite" in html and "not a lead field" in html
    assert "Import 3 valid rows" in html
    assert page.context["counts"] == {"created": 2, "matched": 1, "error": 3}
    # and nothing was written to the leads
    assert Lead.objects.count() == 1
    existing.refresh_from_db()
    assert existing.company == ""


def test_importing_creates_and_fills_exactly_the_valid_rows(
    client_for, marketer, mixed_file, django_capture_on_commit_callbacks
):
    data, existing, campaign = mixed_file
    scoring_version(fit=[{"field": "company_size", "operator": "gte", "value": 100, "points": 25}])
    client = client_for(marketer)
    _upload(client, data)
    batch = ImportBatch.objects.get()
    # when the marketer imports the valid rows
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("imports:lead_import_commit", args=[batch.pk]))
    assert response.status_code == 302
    # then the two new leads exist in stage new, from the import, each with its history row
    new_one = Lead.objects.get(email="new.one@example.com")
    new_two = Lead.objects.get(email="new.two@example.com")
    assert (new_one.first_name, new_one.company, new_one.company_size, new_one.country) == (
        "Nia",
        "Acme",
        120,
        "DE",
    )
    assert (new_one.stage, new_one.source_channel, new_one.source_campaign) == (
        Stage.NEW,
        SourceChannel.IMPORT,
        campaign,
    )
    change = LeadStageChange.objects.get(lead=new_two)
    assert (change.from_stage, change.to_stage, change.actor, change.note) == (
        "",
        Stage.NEW,
        marketer,
        "Imported from leads.csv",
    )
    # and the known lead kept its name but got its empty company and source campaign
    existing.refresh_from_db()
    assert (existing.first_name, existing.company, existing.source_campaign) == (
        "Kim",
        "Known Corp",
        campaign,
    )
    assert not LeadStageChange.objects.filter(lead=existing).exists()
    # and nothing from the bad rows
    assert Lead.objects.count() == 3
    assert not Lead.objects.filter(email__in=["size@example.com", "not-an-email"]).exists()
    # and the worker rescored the imported leads after commit
    new_one.refresh_from_db()
    assert (new_one.score, new_one.needs_rescore) == (25, False)
    # and the batch keeps what happened
    batch.refresh_from_db()
    assert (batch.status, batch.created_count, batch.matched_count, batch.error_count) == (
        ImportBatch.Status.IMPORTED,
        2,
        1,
        3,
    )
    page = client.get(reverse("imports:lead_import_batch", args=[batch.pk])).content.decode()
    assert _rows(page)[6] == "matched" and _rows(page)[2] == "created"


def test_a_second_import_of_the_same_batch_is_refused(client_for, marketer, mixed_file):
    data, _existing, _campaign = mixed_file
    client = client_for(marketer)
    _upload(client, data)
    batch = ImportBatch.objects.get()
    commit = reverse("imports:lead_import_commit", args=[batch.pk])
    client.post(commit)
    # when the button is clicked again (a double click, the back button)
    response = client.post(commit, follow=True)
    # then nothing more is written and the page says why
    assert "This file was imported already." in response.content.decode()
    assert Lead.objects.count() == 3
    assert LeadStageChange.objects.count() == 2


def test_the_rows_with_errors_download_as_a_csv_to_fix(client_for, marketer, mixed_file):
    data, _existing, _campaign = mixed_file
    client = client_for(marketer)
    _upload(client, data)
    batch = ImportBatch.objects.get()
    # when the marketer downloads the rows with errors
    response = client.get(reverse("imports:lead_import_errors", args=[batch.pk]))
    # then it is the file's own columns plus errors, with the bad rows as they were written
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == [
        "Email",
        "first_name",
        "company",
        "company_size",
        "country",
        "campaign",
        "favourite",
        "errors",
    ]
    assert [r[0] for r in rows[1:]] == ["not-an-email", "size@example.com", "NEW.ONE@example.com"]
    assert rows[1][-1] == "line 3: email: Enter a valid email address."
    assert rows[2][3] == "a dozen"
    assert rows[2][-1] == "line 4: company_size: Enter a whole number."
    assert "The same email as line 2" in rows[3][-1]
    # and after the import the same rows are still there to download
    client.post(reverse("imports:lead_import_commit", args=[batch.pk]))
    again = client.get(reverse("imports:lead_import_errors", args=[batch.pk]))
    assert again.content == response.content


def test_the_errors_download_keeps_formula_like_cells_as_text(client_for, marketer):
    # given an upload whose bad row has a cell a spreadsheet would run as a formula
    client = client_for(marketer)
    _upload(client, _csv(["email", "company"], ["not-an-email", '=HYPERLINK("x")']))
    batch = ImportBatch.objects.get()
    # when the marketer downloads the rows with errors
    response = client.get(reverse("imports:lead_import_errors", args=[batch.pk]))
    # then the cell is guarded with "'", and a re-upload reads it back as it was
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[1][1] == '\'=HYPERLINK("x")'
    fixed = response.content.decode().replace("not-an-email", "fixed@example.com").encode()
    _upload(client, fixed)
    client.post(reverse("imports:lead_import_commit", args=[ImportBatch.objects.latest("pk").pk]))
    assert Lead.objects.get(email="fixed@example.com").company == '=HYPERLINK("x")'


def test_a_fixed_errors_file_uploads_again(client_for, marketer):
    client = client_for(marketer)
    fixed = _csv(["email", "company_size", "errors"], ["fixed@example.com", "12", "line 4: …"])
    _upload(client, fixed)
    batch = ImportBatch.objects.get()
    client.post(reverse("imports:lead_import_commit", args=[batch.pk]))
    assert Lead.objects.get().company_size == 12


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The submitted file is empty."),
        (b"\n\n", "The file is empty"),
        (_csv(["name", "company"], ["Ann", "Acme"]), "The header has no email column"),
        ("email\nzoë@example.com\n".encode("latin-1"), "The file is not UTF-8 text."),
        (_csv(["email"]), "The file has a header but no rows of leads."),
        (_csv(["email", "Email"], ["a@example.com", "b@example.com"]), "appears twice"),
    ],
)
def test_a_file_that_cannot_be_imported_is_refused_with_the_reason(
    client_for, marketer, data, message
):
    response = _upload(client_for(marketer), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ImportBatch.objects.exists()


def test_files_over_5_mb_or_20000_rows_are_refused(client_for, marketer):
    client = client_for(marketer)
    # given a file just over 5 MB
    big = b"email,company\n" + b"x" * (5 * 1024 * 1024)
    response = _upload(client, big)
    assert response.status_code == 400
    assert "larger than 5 MB" in response.content.decode()
    # and one with 20,001 rows
    many = "email\n" + "".join(f"p{i}@example.com\n" for i in range(MAX_ROWS + 1))
    response = _upload(client, many.encode())
    assert response.status_code == 400
    assert "more than 20,000 rows" in response.content.decode()
    assert not ImportBatch.objects.exists()


def test_semicolon_files_and_a_bom_are_read(client_for, marketer):
    client = client_for(marketer)
    data = "\ufeffemail;first_name;source_channel\nsemi@example.com;Sem;Webinar\n".encode()
    _upload(client, data)
    client.post(reverse("imports:lead_import_commit", args=[ImportBatch.objects.get().pk]))
    lead = Lead.objects.get()
    assert (lead.email, lead.first_name, lead.source_channel) == (
        "semi@example.com",
        "Sem",
        SourceChannel.WEBINAR,
    )


def test_a_rep_may_not_import_and_managers_may(client_for, rep, manager, marketer):
    data = _csv(["email"], ["r@example.com"])
    rep_client = client_for(rep)
    assert rep_client.get(UPLOAD).status_code == 403
    assert _upload(rep_client, data).status_code == 403
    assert rep_client.get(reverse("imports:lead_import_template")).status_code == 403
    assert not ImportBatch.objects.exists()
    # a marketer's batch is not open to a rep either
    _upload(client_for(marketer), data)
    batch = ImportBatch.objects.get()
    rep_client = client_for(rep)
    assert rep_client.get(reverse("imports:lead_import_batch", args=[batch.pk])).status_code == 403
    commit = reverse("imports:lead_import_commit", args=[batch.pk])
    assert rep_client.post(commit).status_code == 403
    assert not Lead.objects.exists()
    # a manager may open and import it
    manager_client = client_for(manager)
    assert (
        manager_client.get(reverse("imports:lead_import_batch", args=[batch.pk])).status_code == 200
    )
    manager_client.post(commit)
    assert Lead.objects.filter(email="r@example.com").exists()


def test_the_upload_needs_the_csrf_token(marketer):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(marketer)
    response = _upload(client, _csv(["email"], ["c@example.com"]))
    assert response.status_code == 403
    assert not ImportBatch.objects.exists()


def test_the_template_download_has_the_header(client_for, marketer):
    response = client_for(marketer).get(reverse("imports:lead_import_template"))
    assert response.status_code == 200
    header = response.content.decode().strip().split(",")
    assert header[0] == "email" and {"company_size", "country", "campaign"} <= set(header)


def test_marketers_reach_the_import_from_the_nav_and_the_leads_list(client_for, marketer):
    client = client_for(marketer)
    html = client.get(reverse("leads:list")).content.decode()
    nav = html.split('aria-label="Main"', 1)[1].split("</nav>", 1)[0]
    assert f'href="{UPLOAD}"' in nav and "Import leads" in nav
    header = html.split('class="page-header"', 1)[1].split("</header>", 1)[0]
    assert f'href="{UPLOAD}"' in header
    assert client.get(UPLOAD).status_code == 200


def _import_queries(client, rows: int, offset: int) -> tuple[int, int]:
    """Upload ``rows`` rows (half new, half matching existing leads) and import them; the
    number of queries of the preview and of the import."""
    emails = [f"q{offset + i}@example.com" for i in range(rows)]
    for email in emails[: rows // 2]:
        LeadFactory(email=email, company="")
    campaign = CampaignFactory(name=f"Fair {offset}")
    data = _csv(
        ["email", "first_name", "company", "company_size", "country", "campaign"],
        *[[e, "Q", "Query Co", "50", "FR", campaign.name] for e in emails],
    )
    _upload(client, data)
    batch = ImportBatch.objects.latest("pk")
    with CaptureQueriesContext(connection) as preview:
        client.get(reverse("imports:lead_import_batch", args=[batch.pk]))
    with CaptureQueriesContext(connection) as commit:
        client.post(reverse("imports:lead_import_commit", args=[batch.pk]))
    assert Lead.objects.filter(email__in=emails, company="Query Co").count() == rows
    assert LeadStageChange.objects.filter(lead__email__in=emails).count() == rows - rows // 2
    return len(preview), len(commit)


def test_the_number_of_queries_does_not_grow_with_the_rows(client_for, marketer):
    client = client_for(marketer)
    # given files of 10 and of 200 rows, half new leads and half matches
    small = _import_queries(client, 10, 0)
    large = _import_queries(client, 200, 1000)
    # then previewing and importing them take the same number of queries
    assert small == large
    # preview: session, user, roles, batch, leads, campaigns, the page's messages;
    # import: session, user, roles, batch, its lock, leads, campaigns, the three lead
    # writes, the batch's save, and the savepoints around them
    preview, commit = large
    assert preview <= 8 and commit <= 17, large
