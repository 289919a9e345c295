"""Stripe-style signatures on outbound webhooks.

Each POST carries ``X-Smarketing-Signature: t=<unix seconds>,v1=<hex>`` where ``<hex>`` is
HMAC-SHA256, keyed with the endpoint's secret, of ``"<t>.<raw request body>"``. A receiver
recomputes it over the exact bytes it received, compares in constant time, and refuses a
timestamp older than a few minutes (a replayed request). ``signature_verify`` is that check;
receivers written in Python may copy it (README, "Outbound webhooks").
"""

import hashlib
import hmac
import time

HEADER = "X-Smarketing-Signature"
SCHEME = "v1"


def signature_compute(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>.<body>"`` keyed with ``secret``."""
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, *, timestamp: int | None = None) -> str:
    """The ``X-Smarketing-Signature`` value for ``body`` sent now (or at ``timestamp``)."""
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={timestamp},{SCHEME}={signature_compute(secret, timestamp, body)}"


def signature_verify(
    secret: str, header: str, body: bytes, tolerance: int = 300, *, now: float | None = None
) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` and its timestamp is within
    ``tolerance`` seconds of ``now``. Several ``v1`` values are accepted (any may match)."""
    timestamp, signatures = None, []
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == SCHEME and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        return False
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature_compute(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures)
