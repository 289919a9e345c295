"""Signatures: Stripe-style ``t=<ts>,v1=<hmac>`` over ``"<ts>.<body>"``."""

import hashlib
import hmac

from webhooks.signing import signature_header, signature_verify

SECRET = "whsec_test"
BODY = b'{"id":"e1","type":"handoff.created"}'
NOW = 1_790_000_000


def test_header_is_the_hmac_of_timestamp_dot_body():
    # given a body signed at a known time
    header = signature_header(SECRET, BODY, timestamp=NOW)
    # then it is the documented HMAC-SHA256, hex
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert header == f"t={NOW},v1={expected}"


def test_a_signed_body_verifies():
    header = signature_header(SECRET, BODY, timestamp=NOW)
    assert signature_verify(SECRET, header, BODY, now=NOW + 10)


def test_a_tampered_body_does_not_verify():
    header = signature_header(SECRET, BODY, timestamp=NOW)
    assert not signature_verify(SECRET, header, BODY.replace(b"e1", b"e2"), now=NOW)


def test_the_wrong_secret_does_not_verify():
    header = signature_header(SECRET, BODY, timestamp=NOW)
    assert not signature_verify("whsec_other", header, BODY, now=NOW)


def test_a_stale_or_future_timestamp_is_refused():
    header = signature_header(SECRET, BODY, timestamp=NOW)
    # when it arrives more than the tolerance after (a replay) or before it was signed
    assert not signature_verify(SECRET, header, BODY, now=NOW + 301)
    assert not signature_verify(SECRET, header, BODY, now=NOW - 301)
    # then within the tolerance it passes, and the tolerance is the caller's
    assert signature_verify(SECRET, header, BODY, now=NOW + 300)
    assert signature_verify(SECRET, header, BODY, tolerance=3600, now=NOW + 3000)


def test_a_changed_timestamp_does_not_verify():
    header = signature_header(SECRET, BODY, timestamp=NOW)
    forged = header.replace(f"t={NOW}", f"t={NOW + 60}")
    assert not signature_verify(SECRET, forged, BODY, now=NOW + 60)


def test_malformed_headers_do_not_verify():
    for header in ("", "garbage", f"t={NOW}", "v1=abc", "t=x,v1=abc", None):
        assert not signature_verify(SECRET, header, BODY, now=NOW)


def test_any_of_several_signatures_may_match():
    good = signature_header(SECRET, BODY, timestamp=NOW).split(",")[1]
    assert signature_verify(SECRET, f"t={NOW},v1=deadbeef,{good}", BODY, now=NOW)
