"""Signing the monthly audit: each head once, figures frozen as signed, managers only."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.urls import reverse

from core.errors import DomainError, NotAllowed
from slas.audit import ROLLUP_MAX_AGE, AuditMonth, audit_figures
from slas.audit_services import audit_signoff_create
from slas.models import AuditSignoff
from tests.factories import UserFactory
from tests.leads.factories import LeadFactory
from tests.slas.test_audit_figures import MAY, NOW, build_may, handoff, utc

pytestmark = pytest.mark.django_db
AUDIT = reverse("slas:audit")
SIGN = reverse("slas:audit_sign")


@pytest.fixture
def at_now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def may(db):
    return build_may()


def sign(client, side: str, comment: str = "", month: str = "2026-05"):
    return client.post(SIGN, {"month": month, "side": side, "comment": comment})


def last_message(response) -> str:
    """The message this request added (earlier unread ones wait in the same store)."""
    return [str(m) for m in get_messages(response.wsgi_request)][-1]


def test_a_manager_signs_the_sales_side_with_a_comment(client_for, manager, may, at_now):
    # when the sales head signs May with a comment
    response = sign(client_for(manager), "sales", "Two late first touches; fixed rota.")
    # then the sign-off records who, when, the comment and the figures shown
    assert response.status_code == 302
    assert response["Location"] == f"{AUDIT}?month=2026-05"
    assert last_message(response) == "You signed the May 2026 audit as the sales head."
    signoff = AuditSignoff.objects.get()
    assert (signoff.month, signoff.side, signoff.signed_by) == (MAY.first, "sales", manager)
    assert signoff.signed_at == NOW
    assert signoff.comment == "Two late first touches; fixed rota."
    assert signoff.figures == audit_figures(month=MAY, now=NOW)


def test_a_side_signs_only_once(client_for, manager, may, at_now):
    client = client_for(manager)
    sign(client, "sales", "First.")
    # when the sales side is signed again, by anyone
    other = UserFactory(role="Manager", username="other-head")
    response = sign(client_for(other), "sales", "Second.")
    # then it is refused with a message and the first signature stands
    assert response.status_code == 302
    message = last_message(response)
    assert "The sales head already signed May 2026" in message
    assert "a side signs once" in message
    assert AuditSignoff.objects.get().comment == "First."


def test_each_side_signs_once_and_both_sign_the_same_figures(client_for, manager, may, at_now):
    client = client_for(manager)
    sign(client, "marketing", "Below the MQL target: webinar slipped.")
    # when the data changes and then the other head signs
    handoff(lead=LeadFactory(), agreement=may.agreement, created=utc(5, 27, 9),
            due=utc(5, 28, 9), owner=may.bob)  # fmt: skip
    response = sign(client, "sales", "Agreed.")
    # then both sign-offs exist and carry the first snapshot
    assert last_message(response) == "You signed the May 2026 audit as the sales head."
    marketing, sales = AuditSignoff.objects.order_by("signed_at", "side")
    assert {marketing.side, sales.side} == {"marketing", "sales"}
    assert sales.figures == marketing.figures
    assert sales.figures["marketing"]["mqls_delivered"] == 8
    page = client.get(AUDIT, {"month": "2026-05"})
    assert page.context["read"].status == "signed"
    assert "Signed by both heads" in page.content.decode()


def test_a_signed_month_keeps_its_figures_and_flags_what_differs_now(
    client_for, manager, may, at_now
):
    client = client_for(manager)
    sign(client, "sales", "OK")
    # when a handoff is added to May after signing, and the live figures are next recomputed
    handoff(lead=LeadFactory(), agreement=may.agreement, created=utc(5, 27, 9),
            due=utc(5, 28, 9), owner=may.bob, met=utc(5, 27, 10))  # fmt: skip
    # then the page still shows the signed figures, and says which figures differ now
    with time_machine.travel(NOW + ROLLUP_MAX_AGE + timedelta(seconds=1), tick=False):
        response = client.get(AUDIT, {"month": "2026-05"})
    assert response.context["figures"]["marketing"]["mqls_delivered"] == 8
    assert response.context["read"].live["marketing"]["mqls_delivered"] == 9
    html = response.content.decode()
    assert "as signed</strong>" in html
    assert "The live figures differ from the signed ones now" in html
    assert "MQLs delivered: 8 as signed, 9 now" in html
    assert "Bob Baker: handoffs: 2 as signed, 3 now" in html
    # and the remaining side can still sign (the same figures)
    assert 'name="side" value="marketing"' in html
    assert 'name="side" value="sales"' not in html


def test_a_signed_month_without_changes_says_the_figures_still_match(
    client_for, manager, may, at_now
):
    client = client_for(manager)
    sign(client, "sales")
    html = client.get(AUDIT, {"month": "2026-05"}).content.decode()
    assert "The live figures still match the signed ones." in html


@pytest.mark.parametrize("role", ["Sales rep", "Marketer"])
def test_reps_and_marketers_cannot_sign(client_for, role, may, at_now):
    response = sign(client_for(UserFactory(role=role)), "sales", "Mine")
    assert response.status_code == 403
    assert not AuditSignoff.objects.exists()


def test_the_service_refuses_a_non_manager(may, rep):
    with pytest.raises(NotAllowed):
        audit_signoff_create(month=MAY, side="sales", actor=rep, now=NOW)


def test_a_month_that_is_not_over_cannot_be_signed(client_for, manager, at_now):
    response = sign(client_for(manager), "sales", month="2026-06")
    message = last_message(response)
    assert message == "June 2026 is not over yet: it can be signed from 01 July 2026."
    assert not AuditSignoff.objects.exists()
    page = client_for(manager).get(AUDIT, {"month": "2026-06"}).content.decode()
    assert "it can be signed from 1 July 2026" in page
    assert f'action="{SIGN}"' not in page


def test_unknown_sides_and_long_comments_are_refused(manager, may):
    with pytest.raises(DomainError, match="sales head or the marketing head"):
        audit_signoff_create(month=MAY, side="finance", actor=manager, now=NOW)
    with pytest.raises(DomainError, match="under 2000 characters"):
        audit_signoff_create(month=MAY, side="sales", actor=manager, comment="x" * 2001, now=NOW)
    assert not AuditSignoff.objects.exists()


def test_a_garbled_month_signs_nothing(client_for, manager, at_now):
    response = sign(client_for(manager), "sales", month="soon")
    assert response["Location"] == AUDIT
    assert last_message(response) == (
        "Nothing was signed: Give the month as YYYY-MM, for example 2026-05."
    )


def test_signing_is_post_only(client_for, manager):
    assert client_for(manager).get(SIGN).status_code == 405


def test_the_month_of_a_signoff_is_its_first_day(manager, may):
    signoff = audit_signoff_create(
        month=AuditMonth.parse("2026-05"), side="marketing", actor=manager, now=NOW
    )
    assert str(signoff) == "2026-05 signed by Marketing head"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_signers_make_one_signoff_per_side_and_one_snapshot(manager):
    import threading

    from django.db import connections

    # given May with data and three heads signing at once: two for sales, one for marketing
    build_may()
    heads = [manager, *(UserFactory(role="Manager", username=f"head-{i}") for i in range(2))]
    sides = ["sales", "sales", "marketing"]
    barrier = threading.Barrier(len(heads))
    outcomes = []

    def sign_as(head, side):
        try:
            barrier.wait()
            audit_signoff_create(month=MAY, side=side, actor=head, comment=head.username, now=NOW)
            outcomes.append((side, "signed"))
        except DomainError as error:
            outcomes.append((side, error.code))
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=sign_as, args=pair) for pair in zip(heads, sides, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then each side signed once, the other sales signer was refused, and both share figures
    assert sorted(outcomes) == [
        ("marketing", "signed"),
        ("sales", "already_signed"),
        ("sales", "signed"),
    ]
    first, second = AuditSignoff.objects.order_by("signed_at", "pk")
    assert first.figures == second.figures
