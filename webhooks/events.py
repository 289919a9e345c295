"""The four domain events as webhook payloads, and the one call each domain service makes.

Every hook costs one query (``endpoints_subscribed``) while no endpoint listens to its event;
the payload is built only when one does. A payload's ``data`` holds the lead as a receiver
needs it (``lead_data``) and the handoff, breach or campaign fields of the event.
"""

import json
from datetime import datetime

from django.conf import settings
from django.db import connection

from core.links import object_url
from webhooks.models import EventType, WebhookDelivery, WebhookEndpoint
from webhooks.selectors import endpoints_subscribed
from webhooks.services import deliveries_dispatch, iso, webhook_events_emit

# The stages in which sales holds a lead: a move from one of them to recycled is a return.
_SALES_STAGES = frozenset({"mql", "pql", "cql", "sal", "sql", "opportunity"})
_QUALIFIED = frozenset({"mql", "pql", "cql"})
# Python's str.strip() whitespace, for the SQL path's btrim (names match the Python path).
_WHITESPACE = "".join(c for c in map(chr, range(1, 0x3001)) if c.isspace())


def _site() -> str:
    return settings.SMARKETING["SITE_URL"].rstrip("/")


def _username(user) -> str | None:
    return None if user is None else user.username


def lead_data(lead, *, owner=None) -> dict:
    """The lead as every payload carries it; ``owner`` when the caller holds it already."""
    owner = owner if owner is not None else (lead.owner if lead.owner_id else None)
    return {
        "id": lead.pk,
        "email": lead.email,
        "name": f"{lead.first_name} {lead.last_name}".strip(),
        "company": lead.company,
        "stage": lead.stage,
        "kind": lead.kind,
        "score": lead.score,
        "temperature": lead.temperature,
        "owner": _username(owner),
        "url": _site() + object_url("leads:detail", lead.pk),
    }


def handoff_data(handoff) -> dict:
    return {
        "id": handoff.pk,
        "kind": handoff.kind,
        "status": handoff.status,
        "owner": _username(handoff.owner),
        "territory": handoff.territory.name if handoff.territory_id else None,
        "created_at": iso(handoff.created_at),
        "first_touch_due_at": iso(handoff.first_touch_due_at),
    }


# --- leads: handoff created, lead returned ------------------------------------------------------
def lead_stage_events_emit(*, lead, from_stage: str, to: str, actor, reason_code: str, note: str):
    """From ``lead_transition``, in its transaction: entering MQL/PQL/CQL is
    ``handoff.created``; a move from sales back to recycled is ``lead.returned``."""
    if to in _QUALIFIED:
        webhook_events_emit(
            event_type=EventType.HANDOFF_CREATED,
            payloads=lambda: [_handoff_created(lead=lead, from_stage=from_stage)],
        )
    elif to == "recycled" and from_stage in _SALES_STAGES:
        webhook_events_emit(
            event_type=EventType.LEAD_RETURNED,
            payloads=lambda: [
                _lead_returned(
                    lead=lead, from_stage=from_stage, actor=actor, reason=reason_code, note=note
                )
            ],
        )


def _handoff_created(*, lead, from_stage: str) -> dict:
    from leads.models import Handoff

    handoff = (
        Handoff.objects.select_related("owner", "territory")
        .filter(lead_id=lead.pk, closed_at__isnull=True)
        .order_by("-created_at", "-pk")
        .first()
    )
    return {
        "lead": lead_data(lead, owner=handoff.owner if handoff else None),
        "handoff": None if handoff is None else handoff_data(handoff),
        "from_stage": from_stage,
    }


def _lead_returned(*, lead, from_stage: str, actor, reason: str, note: str) -> dict:
    from leads.models import Handoff, ReturnReason

    handoff = (
        Handoff.objects.select_related("owner", "territory")
        .filter(lead_id=lead.pk, status=Handoff.Status.RETURNED)
        .order_by("-closed_at", "-pk")
        .first()
    )
    return {
        "lead": lead_data(lead, owner=None),
        "handoff": None if handoff is None else handoff_data(handoff),
        "from_stage": from_stage,
        "return": {
            "reason": reason,
            "reason_label": str(ReturnReason(reason).label) if reason in ReturnReason else reason,
            "note": note,
            "returned_by": _username(actor),
            "returned_at": iso(lead.stage_changed_at),
        },
    }


# --- SLA: breaches ------------------------------------------------------------------------------
def breach_data(breach) -> dict:
    """A breach's payload data; ``breach`` with its deadline, lead, owner and lead owner."""
    from slas.models import Deadline

    return {
        "breach": {
            "id": breach.pk,
            "deadline_id": breach.deadline_id,
            "handoff_id": breach.deadline.handoff_id,
            "kind": breach.kind,
            "kind_label": str(dict(Deadline.Kind.choices).get(breach.kind, breach.kind)),
            "due_at": iso(breach.due_at),
            "detected_at": iso(breach.detected_at),
            "owner": _username(breach.owner),
        },
        "lead": lead_data(breach.lead),
    }


def sla_breaches_emit(*, deadline_ids: list[int]) -> None:
    """From the SLA scan, once per batch: one ``sla.breached`` event per breach of these
    deadlines. On PostgreSQL one INSERT … SELECT builds every payload; elsewhere one query
    reads the breaches and one insert stores them."""
    if not deadline_ids:
        return
    endpoint_ids = endpoints_subscribed(event_type=EventType.SLA_BREACHED)
    if not endpoint_ids:
        return
    if _set_based():
        _breaches_insert(deadline_ids=list(deadline_ids), endpoint_ids=endpoint_ids)
        return
    from slas.models import Breach

    breaches = (
        Breach.objects.filter(deadline_id__in=list(deadline_ids))
        .select_related("deadline", "lead", "lead__owner", "owner")
        .order_by("due_at", "pk")
    )
    webhook_events_emit(
        event_type=EventType.SLA_BREACHED,
        payloads=[breach_data(b) for b in breaches],
        endpoint_ids=endpoint_ids,
    )


def _set_based() -> bool:
    """PostgreSQL builds the payloads in one statement; elsewhere Python does (the same
    payloads: tests/webhooks/test_breach_sql.py compares them)."""
    return connection.vendor == "postgresql"


_ISO = 'YYYY-MM-DD"T"HH24:MI:SS"Z"'

# The payload of breach_data, built in the database: one uuid per breach (the MATERIALIZED
# CTE evaluates gen_random_uuid() once per breach, not once per endpoint).
BREACHES_SQL = f"""
WITH events AS MATERIALIZED (
    SELECT gen_random_uuid() AS event_id, b.due_at, b.id AS breach_id,
        jsonb_build_object(
            'breach', jsonb_build_object(
                'id', b.id,
                'deadline_id', b.deadline_id,
                'handoff_id', d.handoff_id,
                'kind', b.kind,
                'kind_label', COALESCE(%(kinds)s::jsonb ->> b.kind, b.kind),
                'due_at', to_char(b.due_at AT TIME ZONE 'UTC', '{_ISO}'),
                'detected_at', to_char(b.detected_at AT TIME ZONE 'UTC', '{_ISO}'),
                'owner', o.username
            ),
            'lead', jsonb_build_object(
                'id', l.id,
                'email', l.email,
                'name', btrim(l.first_name || ' ' || l.last_name, %(whitespace)s),
                'company', l.company,
                'stage', l.stage,
                'kind', l.kind,
                'score', l.score,
                'temperature', l.temperature,
                'owner', lo.username,
                'url', %(url_head)s || l.id || %(url_tail)s
            )
        ) AS data
    FROM slas_breach AS b
    JOIN slas_deadline AS d ON d.id = b.deadline_id
    JOIN leads_lead AS l ON l.id = b.lead_id
    LEFT JOIN auth_user AS o ON o.id = b.owner_id
    LEFT JOIN auth_user AS lo ON lo.id = l.owner_id
    WHERE b.deadline_id = ANY(%(deadline_ids)s)
)
INSERT INTO {WebhookDelivery._meta.db_table}
    (endpoint_id, event_type, event_id, payload, status, attempts, next_attempt_at,
     dispatched_at, last_status_code, last_error, delivered_at, created_at)
SELECT e.id, %(event_type)s, ev.event_id,
    jsonb_build_object(
        'id', ev.event_id::text, 'type', %(event_type)s, 'created_at', %(created_iso)s,
        'data', ev.data
    ),
    %(pending)s, 0, %(now)s, %(now)s, NULL, '', NULL, %(now)s
FROM events AS ev CROSS JOIN {WebhookEndpoint._meta.db_table} AS e
WHERE e.id = ANY(%(endpoint_ids)s)
ORDER BY ev.due_at, ev.breach_id, e.id
RETURNING id
"""  # noqa: S608 - table names come from the models, values are parameters


def _breaches_insert(*, deadline_ids: list[int], endpoint_ids: list[int]) -> None:
    from django.utils import timezone

    from slas.models import Deadline

    now = timezone.now()
    head, _, tail = (_site() + object_url("leads:detail", 2147483647)).partition("2147483647")
    with connection.cursor() as cursor:
        cursor.execute(
            BREACHES_SQL,
            {
                "kinds": json.dumps({v: str(label) for v, label in Deadline.Kind.choices}),
                "whitespace": _WHITESPACE,
                "url_head": head,
                "url_tail": tail,
                "deadline_ids": deadline_ids,
                "endpoint_ids": endpoint_ids,
                "event_type": EventType.SLA_BREACHED.value,
                "created_iso": iso(now),
                "pending": WebhookDelivery.Status.PENDING.value,
                "now": now,
            },
        )
        ids = [row[0] for row in cursor.fetchall()]
    deliveries_dispatch(delivery_ids=ids)


# --- campaigns: launched ------------------------------------------------------------------------
def campaign_launched_emit(*, campaign, talking_points: list[str], at: datetime) -> None:
    """From the campaign launch, once per campaign (the launch claim guards it)."""
    webhook_events_emit(
        event_type=EventType.CAMPAIGN_LAUNCHED,
        payloads=lambda: [_campaign_launched(campaign, talking_points, at)],
    )


def _campaign_launched(campaign, talking_points: list[str], at: datetime) -> dict:
    return {
        "campaign": {
            "id": campaign.pk,
            "name": campaign.name,
            "channel": campaign.channel,
            "status": campaign.status,
            "start_date": campaign.start_date.isoformat(),
            "end_date": campaign.end_date.isoformat(),
            "audience": campaign.audience,
            "offer": campaign.offer,
            "landing_url": campaign.landing_url,
            "quote": campaign.quote,
            "talking_points": list(talking_points),
            "owner": _username(campaign.owner) if campaign.owner_id else None,
            "url": _site() + object_url("campaigns:detail", campaign.pk),
            "leads_url": _site() + object_url("campaigns:leads", campaign.pk),
            "launched_at": iso(at),
        }
    }
