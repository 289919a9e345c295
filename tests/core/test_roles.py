import re

import pytest
from django.urls import reverse

REP, MARKETER, MANAGER = "Sales rep", "Marketer", "Manager"

# page -> roles that may open it (managers may open everything).
PAGE_ACCESS = {
    "leads:queue": {REP, MANAGER},
    "leads:list": {REP, MARKETER, MANAGER},  # a rep's holds the leads they own
    "leads:nurture": {MARKETER, MANAGER},
    "leads:scoring": {MARKETER, MANAGER},
    "imports:lead_import": {MARKETER, MANAGER},
    "leads:pipeline": {REP, MARKETER, MANAGER},
    "campaigns:calendar": {REP, MARKETER, MANAGER},
    "slas:audit": {MANAGER},
    "slas:team": {MANAGER},
    "core:status": {MANAGER},
}


@pytest.mark.django_db
@pytest.mark.parametrize("role", [REP, MARKETER, MANAGER])
@pytest.mark.parametrize("url_name", sorted(PAGE_ACCESS))
def test_each_role_opens_only_its_pages(client, role, url_name):
    from tests.factories import UserFactory

    # given a user of the role
    client.force_login(UserFactory(role=role))
    # when they open the page
    response = client.get(reverse(url_name))
    # then it opens for allowed roles and is forbidden for the others
    expected = 200 if role in PAGE_ACCESS[url_name] else 403
    assert response.status_code == expected


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "visible", "hidden"),
    [
        (
            REP,
            ["Lead queue", "Leads</a>", "Pipeline", "Calendar"],
            ["SLA audit", "Scoring", "Import leads", "Returned to nurture"],
        ),
        (
            MARKETER,
            ["Leads", "Import leads", "Returned to nurture", "Calendar", "Scoring"],
            ["Lead queue", "SLA audit"],
        ),
        (
            MANAGER,
            ["Lead queue", "Leads", "Import leads", "Calendar", "SLA audit", "Team", "Scoring"],
            [],
        ),
    ],
)
def test_navigation_shows_what_the_role_can_do(client, role, visible, hidden):
    from tests.factories import UserFactory

    client.force_login(UserFactory(role=role))
    html = client.get(reverse("leads:pipeline")).content.decode()
    nav = html.split('aria-label="Main"', 1)[1].split("</nav>", 1)[0]
    for label in visible:
        assert label in nav
    for label in hidden:
        assert label not in nav


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "menus"),
    [
        (REP, []),
        (MARKETER, ["Leads", "Campaigns", "Scoring"]),
        (MANAGER, ["Leads", "Campaigns", "Scoring", "Team"]),
    ],
)
def test_a_long_navigation_is_grouped_in_menus_and_marks_the_current_one(client, role, menus):
    from tests.factories import UserFactory

    # given a user of the role on the pipeline page
    client.force_login(UserFactory(role=role))
    html = client.get(reverse("leads:pipeline")).content.decode()
    nav = html.split('aria-label="Main"', 1)[1].split("</nav>", 1)[0]
    # then a rep's few links stay plain; a marketer's or manager's come in menus by area
    summaries = re.findall(r"<summary[^>]*>([^<]+) <span", nav)
    assert summaries == menus
    # and the page shown is marked, in its menu when there is one
    assert re.search(r'<a href="/leads/pipeline/" aria-current="page"', nav)
    if menus:
        assert '<summary class="is-current">Leads <span' in nav


@pytest.mark.django_db
def test_a_page_under_a_link_marks_that_link_and_its_menu(client):
    from tests.factories import UserFactory

    # given a manager on a page below the webhooks list (the new endpoint form)
    client.force_login(UserFactory(role=MANAGER))
    html = client.get(reverse("webhooks:endpoint_new")).content.decode()
    nav = html.split('aria-label="Main"', 1)[1].split("</nav>", 1)[0]
    # then Webhooks is the current link and Team the current menu
    assert re.findall(r'<a href="([^"]+)" aria-current="page"', nav) == ["/webhooks/"]
    assert '<summary class="is-current">Team <span' in nav


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "landing"),
    [(REP, "leads:queue"), (MARKETER, "campaigns:calendar"), (MANAGER, "slas:audit")],
)
def test_home_sends_each_role_to_its_daily_page(client, role, landing):
    from tests.factories import UserFactory

    client.force_login(UserFactory(role=role))
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response.url == reverse(landing)


@pytest.mark.django_db
def test_anonymous_visitor_is_sent_to_login(client):
    response = client.get(reverse("leads:queue"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.django_db
def test_user_without_a_role_is_told_so(client):
    from tests.factories import UserFactory

    client.force_login(UserFactory())
    response = client.get(reverse("home"))
    assert response.status_code == 403
    assert b"No role assigned" in response.content


@pytest.mark.django_db
def test_coming_soon_pages_say_so_instead_of_showing_fake_data(rf, manager):
    # The helper itself, not a route: each placeholder page is replaced when its feature lands.
    from core.roles import Role
    from core.views import coming_soon

    request = rf.get("/somewhere/")
    request.user = manager
    html = coming_soon("Forecasts", "Pipeline forecasts.", Role.MANAGER)(request).content.decode()
    assert "Coming soon" in html
    assert "not built yet" in html


@pytest.mark.django_db
def test_login_page_logs_a_user_in_and_logout_requires_post(client, rep):
    response = client.post(
        reverse("login"), {"username": rep.username, "password": "correct-horse-battery"}
    )
    assert response.status_code == 302
    assert client.get(reverse("logout")).status_code == 405
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("leads:queue")).status_code == 302


@pytest.mark.django_db
def test_repeated_wrong_passwords_lock_the_account_out(client, rep):
    for _ in range(5):
        client.post(reverse("login"), {"username": rep.username, "password": "wrong"})
    response = client.post(
        reverse("login"), {"username": rep.username, "password": "correct-horse-battery"}
    )
    assert response.status_code == 429
