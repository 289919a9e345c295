"""The header bell, the notifications page, marking read."""

import pytest
from django.core import mail
from django.core.mail.backends import locmem
from django.urls import reverse

from core.models import Notification
from core.services import notification_email_send, notification_send
from tests.factories import UserFactory


def send(user, message="Lead assigned to you", url="/leads/queue/", kind="assigned"):
    return notification_send(recipients=[user], kind=kind, message=message, url=url)[0]


@pytest.mark.django_db
def test_bell_shows_the_unread_count_on_every_page(client_for, rep):
    # given two unread notifications and one read
    send(rep)
    send(rep)
    Notification.objects.filter(pk=send(rep).pk).update(read_at="2026-01-01T00:00Z")
    # when the rep opens any page
    html = client_for(rep).get(reverse("leads:pipeline")).content.decode()
    # then the bell counts the unread ones
    assert 'class="bell-count" aria-hidden="true">2</span>' in html
    assert "Notifications, 2 unread" in html


@pytest.mark.django_db
def test_bell_is_empty_without_unread_notifications(client_for, rep):
    html = client_for(rep).get(reverse("leads:pipeline")).content.decode()
    assert 'class="bell-count" aria-hidden="true"></span>' in html


@pytest.mark.django_db
def test_bell_partial_refreshes_the_count_in_one_query(
    client_for, rep, other_rep, django_assert_num_queries
):
    send(rep)
    send(other_rep)
    client = client_for(rep)
    # session, user, roles (header context), the unread COUNT
    with django_assert_num_queries(4):
        response = client.get(reverse("core:notifications_bell"), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert 'hx-trigger="every 30s, notifications-changed from:body"' in html
    assert ">1</span>" in html


@pytest.mark.django_db
def test_notifications_page_lists_only_the_users_own_newest_first(client_for, rep, other_rep):
    send(rep, "first")
    send(other_rep, "not yours")
    send(rep, "second")
    response = client_for(rep).get(reverse("core:notifications"))
    assert [n.message for n in response.context["notifications"]] == ["second", "first"]
    assert "not yours" not in response.content.decode()


@pytest.mark.django_db
def test_the_bell_panel_shows_the_latest_notifications(client_for, rep):
    send(rep, "Lead X assigned")
    html = client_for(rep).get(reverse("core:notifications_panel")).content.decode()
    assert "Lead X assigned" in html
    assert 'class="is-unread"' in html


@pytest.mark.django_db
def test_user_marks_one_notification_read(client_for, rep):
    mine, other = send(rep), send(rep)
    response = client_for(rep).post(reverse("core:notification_read", args=[mine.pk]))
    assert response.status_code == 302
    assert response["HX-Trigger"] == "notifications-changed"
    mine.refresh_from_db()
    other.refresh_from_db()
    assert mine.read_at is not None
    assert other.read_at is None


@pytest.mark.django_db
def test_marking_read_with_htmx_swaps_the_row(client_for, rep):
    mine = send(rep, "swap me")
    response = client_for(rep).post(
        reverse("core:notification_read", args=[mine.pk]), HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert html.startswith(f'<tr id="notification-{mine.pk}">')
    assert "Mark read" not in html


@pytest.mark.django_db
def test_user_marks_all_notifications_read(client_for, rep, other_rep):
    send(rep)
    send(rep)
    theirs = send(other_rep)
    client_for(rep).post(reverse("core:notifications_read_all"))
    assert not Notification.objects.filter(user=rep, read_at__isnull=True).exists()
    theirs.refresh_from_db()
    assert theirs.read_at is None


@pytest.mark.django_db
def test_a_user_cannot_mark_another_users_notification(client_for, rep, other_rep):
    theirs = send(other_rep)
    client = client_for(rep)
    assert client.post(reverse("core:notification_read", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("core:notification_open", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


@pytest.mark.django_db
def test_opening_a_notification_marks_it_read_and_follows_its_link(client_for, rep):
    notification = send(rep, url="/leads/queue/")
    response = client_for(rep).post(reverse("core:notification_open", args=[notification.pk]))
    assert response["Location"] == "/leads/queue/"
    notification.refresh_from_db()
    assert notification.read_at is not None


@pytest.mark.django_db
def test_an_outside_link_is_not_followed(client_for, rep):
    notification = send(rep, url="https://evil.example/")
    response = client_for(rep).post(reverse("core:notification_open", args=[notification.pk]))
    assert response["Location"] == reverse("core:notifications")


@pytest.mark.django_db
def test_marking_read_needs_a_post(client_for, rep):
    notification = send(rep)
    response = client_for(rep).get(reverse("core:notification_read", args=[notification.pk]))
    assert response.status_code == 405


@pytest.mark.django_db
def test_notifications_need_a_login(client):
    response = client.get(reverse("core:notifications"))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


@pytest.mark.django_db
@pytest.mark.parametrize("n", [2, 20])
def test_notifications_page_takes_a_fixed_number_of_queries(
    n, client_for, django_assert_num_queries
):
    user = UserFactory(role="Marketer")
    for i in range(n):
        send(user, f"note {i}")
    client = client_for(user)
    # session, user, roles, the page of notifications, the unread COUNT
    with django_assert_num_queries(5):
        response = client.get(reverse("core:notifications"))
    assert len(response.context["notifications"]) == n


# --- the emails -----------------------------------------------------------------------------------
class CountingBackend(locmem.EmailBackend):
    """The in-memory outbox, counting the connections opened."""

    opened = 0

    def open(self):
        CountingBackend.opened += 1
        return super().open()


class FailingSecondBackend(locmem.EmailBackend):
    """The mail server drops the connection at the second email of a connection."""

    def send_messages(self, messages):
        self.count = getattr(self, "count", 0) + 1
        if self.count == 2:
            raise ConnectionError("mail server went away")
        return super().send_messages(messages)


@pytest.mark.django_db
def test_each_notification_is_emailed_once_over_one_connection(settings, rep, other_rep):
    # given three notifications, one to a user without an email address
    settings.EMAIL_BACKEND = f"{__name__}.CountingBackend"
    CountingBackend.opened = 0
    nobody = UserFactory(role="Marketer", email="")
    ids = [send(rep, "first").pk, send(nobody).pk, send(other_rep, "second", url="").pk]
    # when the email task runs, and runs again (a retry or a duplicate task)
    first, again = (
        notification_email_send(notification_ids=ids),
        notification_email_send(notification_ids=ids),
    )
    # then two emails went out once, over one connection, and all three count as handled
    assert (first, again, CountingBackend.opened) == (2, 0, 1)
    assert [(m.to, m.subject, m.body) for m in mail.outbox] == [
        (
            [rep.email],
            "[smarketing] Lead assigned",
            f"first\n\n{settings.SMARKETING['SITE_URL']}/leads/queue/",
        ),
        ([other_rep.email], "[smarketing] Lead assigned", "second"),
    ]
    assert not Notification.objects.filter(emailed_at__isnull=True).exists()


@pytest.mark.django_db
def test_a_mail_server_failure_leaves_the_unsent_emails_for_the_retry(settings, rep):
    # given three notifications, and a mail server that fails at the second email
    settings.EMAIL_BACKEND = f"{__name__}.FailingSecondBackend"
    ids = [send(rep, f"note {i}").pk for i in range(3)]
    # when the email task runs, it fails (the task retries on ConnectionError)
    with pytest.raises(ConnectionError):
        notification_email_send(notification_ids=ids)
    # then the first was sent and only the other two are still to send
    assert [m.body.split("\n")[0] for m in mail.outbox] == ["note 0"]
    assert (
        list(
            Notification.objects.filter(emailed_at__isnull=True)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        == ids[1:]
    )
    # and the retry sends just those
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert notification_email_send(notification_ids=ids) == 2
    assert [m.body.split("\n")[0] for m in mail.outbox] == ["note 0", "note 1", "note 2"]
