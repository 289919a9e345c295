import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_manager_logs_in_through_the_page_and_sees_their_navigation(live_server, page):
    from tests.factories import UserFactory

    UserFactory(username="boss", role="Manager")
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("boss")
    page.get_by_label("Password").fill("wrong-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("correct username and password")

    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server.url}/slas/audit/")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="SLA audit")).to_be_visible()
    expect(nav.get_by_role("link", name="Lead queue")).to_be_visible()
