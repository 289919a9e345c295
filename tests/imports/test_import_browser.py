"""In Debian Chromium through the real pages: a marketer uploads a CSV of leads, reviews what
each row would do, imports the valid rows and downloads the row with an error to fix it."""

import csv
import io
import re

import pytest
from playwright.sync_api import expect

from imports.models import ImportBatch
from leads.models import Lead, Stage
from tests.factories import UserFactory
from tests.leads.factories import LeadFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct-horse-battery"


def log_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state("load")


def _csv(*rows: list[str]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


def test_marketer_uploads_reviews_and_imports_a_csv_and_downloads_the_bad_row(live_server, page):
    # given a marketer, and a lead already known by email whose company is empty
    UserFactory(username="import-marketer", role="Marketer")
    known = LeadFactory(email="known@example.com", first_name="Kim", last_name="Known", company="")
    data = _csv(
        ["email", "first_name", "last_name", "company"],
        ["ada@example.com", "Ada", "Lovelace", "Analytical Engines"],  # line 2: new
        ["grace@example.com", "Grace", "Hopper", "Cobol Systems"],  # line 3: new
        ["KNOWN@example.com", "Karl", "", "Known Corp"],  # line 4: matched
        ["not-an-email", "Bad", "Row", "Acme"],  # line 5: error
    )

    # when the marketer opens the import from the main navigation and uploads the file
    log_in(page, live_server.url, "import-marketer")
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_text("Leads ▾").click()
    nav.get_by_role("link", name="Import leads").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Import leads")
    page.get_by_label("CSV file").set_input_files(
        files=[{"name": "leads.csv", "mimeType": "text/csv", "buffer": data}]
    )
    page.get_by_role("button", name="Check the file").click()

    # then they see what importing would do to each row, and nothing is written yet
    expect(page.get_by_role("heading", level=1)).to_have_text("Review leads.csv")
    expect(page.locator("#count-created")).to_contain_text("2")
    expect(page.locator("#count-matched")).to_contain_text("1")
    expect(page.locator("#count-error")).to_contain_text("1")
    rows = page.locator("#import-rows tbody tr")
    expect(rows).to_have_count(4)
    ada = rows.filter(has_text="ada@example.com")
    expect(ada).to_contain_text("New lead")
    expect(ada).to_contain_text("first_name, last_name, company")
    matched = rows.filter(has_text="KNOWN@example.com")
    expect(matched).to_contain_text("Matched")
    expect(matched).to_contain_text("fills company")
    bad = rows.filter(has_text="not-an-email")
    expect(bad).to_contain_text("Error")
    expect(bad).to_contain_text("email: Enter a valid email address.")
    assert Lead.objects.count() == 1

    # when they import the valid rows
    page.get_by_role("button", name="Import 3 valid rows").click()

    # then the page says what was imported and what was left out
    expect(page.get_by_role("heading", level=1)).to_have_text("Imported leads.csv")
    expect(page.locator(".messages")).to_contain_text(
        "Imported leads.csv: 2 new leads, 1 matched. 1 row with errors"
    )
    expect(page.get_by_role("button", name=re.compile("^Import"))).to_have_count(0)
    expect(ada).to_contain_text("Created")
    expect(ada.get_by_role("link", name="ada@example.com")).to_be_visible()
    expect(bad).to_contain_text("email: Enter a valid email address.")

    # and the bad row downloads as a CSV with its error, ready to fix
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download 1 row with errors (CSV)").click()
    download = download_info.value
    assert download.suggested_filename == "leads-errors.csv"
    with open(download.path(), encoding="utf-8") as errors_file:
        assert list(csv.reader(errors_file)) == [
            ["email", "first_name", "last_name", "company", "errors"],
            ["not-an-email", "Bad", "Row", "Acme", "line 5: email: Enter a valid email address."],
        ]

    # and the leads list shows the new leads and the known lead's filled company
    page.get_by_role("link", name="All leads").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Leads")
    leads = page.get_by_role("region", name="Leads")
    expect(leads.get_by_role("link", name="Ada Lovelace")).to_be_visible()
    expect(leads.get_by_role("link", name="Grace Hopper")).to_be_visible()
    expect(leads.get_by_role("row").filter(has_text="known@example.com")).to_contain_text(
        "Known Corp"
    )
    expect(leads).not_to_contain_text("not-an-email")

    # and the database agrees with what the marketer saw
    assert set(Lead.objects.values_list("email", flat=True)) == {
        "ada@example.com",
        "grace@example.com",
        "known@example.com",
    }
    assert Lead.objects.get(email="ada@example.com").stage == Stage.NEW
    known.refresh_from_db()
    assert (known.first_name, known.company) == ("Kim", "Known Corp")
    batch = ImportBatch.objects.get()
    assert (batch.created_count, batch.matched_count, batch.error_count) == (2, 1, 1)
