"""Inbound payloads: a web form, a product sign-up or a chat arrives with an email and what the
person told us. One transaction matches the lead by email (or creates it), fills in only the
contact fields that are still empty, and records one engagement event through
``events_ingest``, so scoring and qualification run as for any event (a sign-up makes a PQL, a
chat a CQL). ``external_id`` makes a replay answer as the first delivery did and write nothing.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models.functions import Lower

from campaigns.models import Campaign
from core.errors import InvalidInput, NotAllowed
from core.roles import is_manager, is_marketer
from leads.models import EngagementEvent, EventKind, Lead, SourceChannel
from leads.scoring_services import EventIn, events_ingest, external_ids_lock
from leads.services import FILLABLE_FIELDS, lead_create, lead_fill_blanks


class InboundSource:
    FORM = "form"
    SIGNUP = "signup"
    CHAT = "chat"
    CHOICES = (
        (FORM, "Web form"),
        (SIGNUP, "Product sign-up"),
        (CHAT, "Chat conversation"),
    )


# What each source records and where a lead first seen through it came from.
SOURCE_EVENT = {
    InboundSource.FORM: EventKind.FORM_SUBMIT,
    InboundSource.SIGNUP: EventKind.TRIAL_SIGNUP,
    InboundSource.CHAT: EventKind.CHAT_CONVERSATION,
}
SOURCE_CHANNEL = {
    InboundSource.FORM: SourceChannel.WEB_FORM,
    InboundSource.SIGNUP: SourceChannel.PRODUCT_SIGNUP,
    InboundSource.CHAT: SourceChannel.CHAT,
}
# Keys of the stored event's metadata that inbound writes itself.
RESERVED_METADATA = ("message", "inbound")
# The contact fields a payload may carry (the campaign comes as ``campaign_id``).
CONTACT_IN = frozenset(FILLABLE_FIELDS) - {"source_campaign"}


@dataclass(frozen=True)
class InboundIn:
    source: str
    email: str
    occurred_at: datetime
    contact: dict = field(default_factory=dict)  # Lead field name -> value (may be empty)
    campaign_id: int | None = None
    external_id: str = ""
    message: str = ""
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class InboundResult:
    lead_id: int
    created: bool
    filled: list[str]
    duplicate: bool


def inbound_may_post(user: User) -> bool:
    """Marketing and managers; integration accounts need both ``leads.add_engagementevent``
    (it records an event) and ``leads.add_lead`` (it creates leads and fills in their
    contact data)."""
    return (
        is_marketer(user)
        or is_manager(user)
        or user.has_perms(["leads.add_engagementevent", "leads.add_lead"])
    )


def event_source(source: str) -> str:
    """The engagement event's ``source``: an external id is unique per inbound source."""
    return f"inbound:{source}"


@transaction.atomic
def inbound_receive(*, actor: User | None, payload: InboundIn) -> InboundResult:
    """Match or create the payload's lead and record its event, all or nothing.

    The lead is matched by email case-insensitively. A new lead starts in stage new with its
    source channel from the payload's source and its source campaign from ``campaign_id``; a
    known lead only gets the fields that are empty on it (``filled`` names them; for a new
    lead, the fields the payload set). A payload whose (source, ``external_id``) was received
    before writes nothing and answers what the first delivery answered, with ``duplicate``.
    ``actor`` None is the system; others need ``inbound_may_post``."""
    if actor is not None and not inbound_may_post(actor):
        raise NotAllowed("Your account may not post inbound leads.")
    if payload.source not in SOURCE_EVENT:
        raise InvalidInput("Choose form, signup or chat.", field="source")
    email = payload.email.strip()
    if not email:
        raise InvalidInput("An email address is required.", field="email")
    unknown = set(payload.contact) - CONTACT_IN
    if unknown:
        name = sorted(unknown)[0]
        raise InvalidInput(f"{name} is not a contact field.", field=name)
    clash = [key for key in RESERVED_METADATA if key in payload.metadata]
    if clash:
        raise InvalidInput(
            f"The metadata key {clash[0]!r} is reserved: send the message as message.",
            field="metadata",
        )

    source = event_source(payload.source)
    if payload.external_id:
        external_ids_lock([(source, payload.external_id)])
        earlier = (
            EngagementEvent.objects.filter(source=source, external_id=payload.external_id)
            .values_list("lead_id", "metadata")
            .first()
        )
        if earlier is not None:
            answer = (earlier[1] or {}).get("inbound") or {}
            return InboundResult(
                lead_id=earlier[0],
                created=bool(answer.get("created")),
                filled=list(answer.get("filled") or []),
                duplicate=True,
            )

    campaign = None
    if payload.campaign_id is not None:
        campaign = Campaign.objects.filter(pk=payload.campaign_id).first()
        if campaign is None:
            raise InvalidInput(f"No campaign {payload.campaign_id}.", field="campaign")
    values = {name: value for name, value in payload.contact.items() if value not in (None, "")}
    lead = (
        Lead.objects.select_for_update()
        .annotate(email_lower=Lower("email"))
        .filter(email_lower=email.lower())
        .first()
    )
    created = lead is None
    if created:
        try:
            lead = lead_create(
                actor=None,
                email=email,
                source_channel=SOURCE_CHANNEL[payload.source],
                source_campaign=campaign,
                **values,
            )
        except InvalidInput as error:
            if error.field != "email":
                raise
            # Created by a concurrent delivery a moment ago: this one matches it.
            created, lead = False, Lead.objects.get(email__iexact=email)
        else:
            filled = [name for name in FILLABLE_FIELDS if name in values]
            if campaign is not None:
                filled.append("source_campaign")
            filled = [name for name in FILLABLE_FIELDS if name in filled]
    if not created:
        if campaign is not None:
            values["source_campaign"] = campaign
        filled = lead_fill_blanks(lead_id=lead.pk, values=values)

    metadata = {
        **payload.metadata,
        **({"message": payload.message} if payload.message else {}),
        "inbound": {"created": created, "filled": filled},
    }
    [stored] = events_ingest(
        actor=actor,
        events=[
            EventIn(
                kind=SOURCE_EVENT[payload.source],
                occurred_at=payload.occurred_at,
                lead_id=lead.pk,
                external_id=payload.external_id,
                source=source,
                campaign_id=campaign.pk if campaign else None,
                metadata=metadata,
            )
        ],
    )
    return InboundResult(
        lead_id=lead.pk, created=created, filled=filled, duplicate=stored.duplicate
    )
