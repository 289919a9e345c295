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
    # a manager sees every area, so the header groups the links in menus that fit on one line
    nav = page.get_by_role("navigation", name="Main")
    for menu in ("Leads", "Campaigns", "Scoring", "Team"):
        expect(nav.get_by_text(f"{menu} ▾")).to_be_visible()
    assert nav.evaluate("n => n.scrollWidth <= n.clientWidth"), "the header's links overflow"
    expect(nav.get_by_role("link", name="SLA audit")).to_be_hidden()
    nav.get_by_text("Team ▾").click()
    expect(nav.get_by_role("link", name="SLA audit")).to_be_visible()
    # the current page's menu is marked; Escape closes the menu, and so does a click outside
    expect(nav.locator("summary.is-current")).to_have_text("Team ▾")
    page.keyboard.press("Escape")
    expect(nav.get_by_role("link", name="SLA audit")).to_be_hidden()
    nav.get_by_text("Team ▾").click()
    expect(nav.get_by_role("link", name="SLA audit")).to_be_visible()
    page.mouse.click(5, 700)
    expect(nav.get_by_role("link", name="SLA audit")).to_be_hidden()
    # shortcuts reach links in closed menus: g then q opens the lead queue
    page.keyboard.press("g")
    page.keyboard.press("q")
    expect(page).to_have_url(f"{live_server.url}/leads/queue/")
    nav.get_by_text("Leads ▾").click()
    expect(nav.get_by_role("link", name="Lead queue")).to_have_attribute("aria-current", "page")
