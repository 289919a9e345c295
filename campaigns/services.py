"""Writes for campaigns: planning, templates and resources, launch, the calendar feed token,
content requests.

Every function is one transaction and writes a ``CampaignChange`` history row beside each
campaign change. Refusals raise ``core.errors`` exceptions and write nothing. Launch
notifications are claimed with a conditional UPDATE on ``Campaign.launch_notified_at`` in the
same transaction that stores them, so each campaign notifies sales exactly once; their emails
go out after commit.
"""

import hashlib
import secrets
from datetime import date
from decimal import Decimal, InvalidOperation

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from campaigns.models import (
    CalendarFeed,
    Campaign,
    CampaignChange,
    ContentRequest,
    EnablementResource,
    FollowUpTemplate,
    TalkingPoint,
)
from campaigns.templating import unknown_placeholders
from core.errors import DomainError, InvalidInput, NotAllowed
from core.models import Notification
from core.roles import Role, has_role, is_manager, is_rep
from core.services import notification_send
from webhooks.events import campaign_launched_emit

Status = Campaign.Status

CAMPAIGN_FIELDS = (
    "name",
    "channel",
    "status",
    "start_date",
    "end_date",
    "audience",
    "offer",
    "landing_url",
    "cost",
    "quote",
    "owner",
)
TALKING_POINTS_MIN, TALKING_POINTS_MAX = 2, 3
# The status moves a marketer may make by hand; the sweep makes planned → live and live → done.
STATUS_MOVES: dict[str, frozenset[str]] = {
    Status.PLANNED: frozenset({Status.LIVE, Status.DONE}),
    Status.LIVE: frozenset({Status.DONE, Status.PLANNED}),
    Status.DONE: frozenset({Status.LIVE}),
}
_url_valid = URLValidator(schemes=["http", "https"])


class CampaignInvalid(InvalidInput):
    """Several fields failed validation; ``errors`` maps each field to its messages."""

    def __init__(self, errors: dict[str, list[str]]):
        field = next(iter(errors))
        super().__init__(errors[field][0], field=field)
        self.errors = errors


def _require_planner(actor: User) -> None:
    if not has_role(actor, Role.MARKETER):
        raise NotAllowed("Only marketing plans campaigns.")


def _url_error(value: str) -> str | None:
    if not value:
        return None
    try:
        _url_valid(value)
    except ValidationError:
        return "Enter a full web address starting with http:// or https://."
    return None


def _history(campaign: Campaign, kind: str, actor: User | None, now, **extra) -> CampaignChange:
    return CampaignChange.objects.create(
        campaign=campaign, kind=kind, actor=actor, created_at=now, **extra
    )


# --- validation ----------------------------------------------------------------------------
def campaign_errors(*, values: dict, talking_points: list[str] | None) -> dict[str, list[str]]:
    """Every rule a campaign must meet, as ``{field: [messages]}`` (empty when valid).

    ``values`` holds the campaign's fields after the change; ``talking_points`` the new list
    (None leaves them as they are). Forms and the API call this to show all errors at once.
    """
    errors: dict[str, list[str]] = {}

    def add(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    name = (values.get("name") or "").strip()
    if not name:
        add("name", "Give the campaign a name.")
    elif len(name) > 200:
        add("name", "Keep the name under 200 characters.")
    if values.get("channel") not in Campaign.Channel.values:
        add("channel", "Choose a channel.")
    if values.get("status", Status.PLANNED) not in Status.values:
        add("status", "Choose planned, live or done.")
    start, end = values.get("start_date"), values.get("end_date")
    if not isinstance(start, date):
        add("start_date", "Enter the start date.")
    if not isinstance(end, date):
        add("end_date", "Enter the end date.")
    if isinstance(start, date) and isinstance(end, date) and end < start:
        add("end_date", "The end date cannot be before the start date.")
    url_error = _url_error((values.get("landing_url") or "").strip())
    if url_error:
        add("landing_url", url_error)
    try:
        cost = Decimal(str(values.get("cost", 0) if values.get("cost") is not None else 0))
        if not cost.is_finite() or cost < 0 or cost >= Decimal("1e10"):
            add("cost", "The cost must be between 0 and 9,999,999,999.")
    except (InvalidOperation, ValueError):
        add("cost", "Enter the cost as a number.")
    owner = values.get("owner")
    if owner is not None and not has_role(owner, Role.MARKETER):
        add("owner", f"{owner} is not in marketing.")
    if talking_points is not None:
        points = [str(p or "").strip() for p in talking_points]
        if any(not p for p in points):
            add("talking_points", "Talking points cannot be blank.")
        elif not TALKING_POINTS_MIN <= len(points) <= TALKING_POINTS_MAX:
            add("talking_points", "Give sales 2 or 3 talking points.")
        elif any(len(p) > 300 for p in points):
            add("talking_points", "Keep each talking point under 300 characters.")
    return errors


def _clean_values(values: dict) -> dict:
    cleaned = dict(values)
    for name in ("name", "audience", "offer", "landing_url", "quote"):
        if name in cleaned:
            cleaned[name] = (cleaned[name] or "").strip()
    if "cost" in cleaned:
        cleaned["cost"] = Decimal(str(cleaned["cost"] or 0)).quantize(Decimal("0.01"))
    return cleaned


def _talking_points_replace(campaign: Campaign, points: list[str]) -> None:
    TalkingPoint.objects.filter(campaign=campaign).delete()
    TalkingPoint.objects.bulk_create(
        TalkingPoint(campaign=campaign, position=i, text=text.strip())
        for i, text in enumerate(points, start=1)
    )


# --- campaigns -----------------------------------------------------------------------------
@transaction.atomic
def campaign_create(*, actor: User, talking_points: list[str], **values) -> Campaign:
    """Create a campaign with its 2-3 talking points. Created live, it launches at once."""
    _require_planner(actor)
    unknown = set(values) - set(CAMPAIGN_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown field {sorted(unknown)[0]}.", field=sorted(unknown)[0])
    values.setdefault("status", Status.PLANNED)
    values.setdefault("channel", Campaign.Channel.EMAIL)
    errors = campaign_errors(values=values, talking_points=talking_points)
    if errors:
        raise CampaignInvalid(errors)
    now = timezone.now()
    campaign = Campaign.objects.create(**_clean_values(values))
    _talking_points_replace(campaign, talking_points)
    _history(campaign, CampaignChange.Kind.CREATED, actor, now, to_status=campaign.status)
    if campaign.status == Status.LIVE:
        _launch_notify(campaign=campaign, now=now)
    return campaign


@transaction.atomic
def campaign_update(
    *, campaign_id: int, actor: User, talking_points: list[str] | None = None, **values
) -> Campaign:
    """Change fields and/or replace the talking points. A status change must follow
    ``STATUS_MOVES``; the first move to live notifies sales."""
    _require_planner(actor)
    campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
    unknown = set(values) - set(CAMPAIGN_FIELDS)
    if unknown:
        raise InvalidInput(f"{sorted(unknown)[0]} cannot be edited.", field=sorted(unknown)[0])
    merged = {name: getattr(campaign, name) for name in CAMPAIGN_FIELDS}
    merged.update(values)
    errors = campaign_errors(values=merged, talking_points=talking_points)
    new_status = merged["status"]
    if new_status != campaign.status and new_status not in STATUS_MOVES[campaign.status]:
        errors.setdefault("status", []).append(
            f"A {campaign.get_status_display().lower()} campaign cannot become "
            f"{Status(new_status).label.lower()}."
        )
    if new_status == Status.LIVE != campaign.status and campaign.is_archived:
        errors.setdefault("status", []).append("Restore the campaign before setting it live.")
    if errors:
        raise CampaignInvalid(errors)
    cleaned = _clean_values(values)
    changed = [name for name, value in cleaned.items() if getattr(campaign, name) != value]
    from_status = campaign.status
    for name in changed:
        setattr(campaign, name, cleaned[name])
    now = timezone.now()
    points_changed = False
    if talking_points is not None:
        new_points = [p.strip() for p in talking_points]
        old_points = list(campaign.talking_points.values_list("text", flat=True))
        points_changed = new_points != old_points
        if points_changed:
            _talking_points_replace(campaign, new_points)
    if changed:
        campaign.save(update_fields=[*changed, "updated_at"])
    elif points_changed:
        campaign.save(update_fields=["updated_at"])
    edited = [name for name in changed if name != "status"]
    if edited or points_changed:
        details = {"fields": edited + (["talking_points"] if points_changed else [])}
        _history(campaign, CampaignChange.Kind.UPDATED, actor, now, details=details)
    if "status" in changed:
        _history(
            campaign,
            CampaignChange.Kind.STATUS,
            actor,
            now,
            from_status=from_status,
            to_status=campaign.status,
        )
        if campaign.status == Status.LIVE:
            _launch_notify(campaign=campaign, now=now)
    return campaign


def campaign_set_live(*, campaign_id: int, actor: User) -> Campaign:
    """A marketer launches a planned campaign now; sales is notified once."""
    campaign = Campaign.objects.get(pk=campaign_id)
    if campaign.status != Status.PLANNED:
        raise DomainError(
            "Only a planned campaign can be set live; "
            f"this one is {campaign.get_status_display().lower()}.",
            code="not_planned",
        )
    return campaign_update(campaign_id=campaign_id, actor=actor, status=Status.LIVE)


@transaction.atomic
def campaign_duplicate(*, campaign_id: int, actor: User) -> Campaign:
    """A planned copy with the same dates, talking points, templates and resources, to edit
    into the next run. The copy has its own launch and its own (empty) lead list."""
    _require_planner(actor)
    source = Campaign.objects.get(pk=campaign_id)
    now = timezone.now()
    copy = Campaign.objects.create(
        name=f"Copy of {source.name}"[:200],
        channel=source.channel,
        status=Status.PLANNED,
        start_date=source.start_date,
        end_date=source.end_date,
        audience=source.audience,
        offer=source.offer,
        landing_url=source.landing_url,
        cost=source.cost,
        quote=source.quote,
        owner=actor if has_role(actor, Role.MARKETER) and not is_manager(actor) else source.owner,
    )
    TalkingPoint.objects.bulk_create(
        TalkingPoint(campaign=copy, position=p.position, text=p.text)
        for p in source.talking_points.all()
    )
    FollowUpTemplate.objects.bulk_create(
        FollowUpTemplate(
            campaign=copy, position=t.position, name=t.name, subject=t.subject, body=t.body
        )
        for t in source.templates.all()
    )
    EnablementResource.objects.bulk_create(
        EnablementResource(
            campaign=copy,
            kind=r.kind,
            position=r.position,
            title=r.title,
            url=r.url,
            description=r.description,
        )
        for r in source.resources.all()
    )
    _history(
        copy,
        CampaignChange.Kind.DUPLICATED,
        actor,
        now,
        to_status=Status.PLANNED,
        details={"from": source.pk, "from_name": source.name},
    )
    return copy


@transaction.atomic
def campaign_archive(*, campaign_id: int, actor: User) -> Campaign:
    """Hide the campaign from the calendar, feed and enablement library; its leads and
    results stay."""
    _require_planner(actor)
    campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
    if campaign.is_archived:
        raise DomainError("This campaign is already archived.", code="archived")
    now = timezone.now()
    campaign.archived_at = now
    campaign.save(update_fields=["archived_at", "updated_at"])
    _history(campaign, CampaignChange.Kind.ARCHIVED, actor, now)
    return campaign


@transaction.atomic
def campaign_restore(*, campaign_id: int, actor: User) -> Campaign:
    _require_planner(actor)
    campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
    if not campaign.is_archived:
        raise DomainError("This campaign is not archived.", code="not_archived")
    now = timezone.now()
    campaign.archived_at = None
    campaign.save(update_fields=["archived_at", "updated_at"])
    _history(campaign, CampaignChange.Kind.RESTORED, actor, now)
    return campaign


# --- follow-up templates and enablement resources -------------------------------------------
@transaction.atomic
def template_save(
    *,
    actor: User,
    campaign_id: int,
    name: str,
    subject: str,
    body: str,
    template_id: int | None = None,
) -> FollowUpTemplate:
    """Create or edit a follow-up template; unknown placeholders are refused by field."""
    _require_planner(actor)
    name, subject, body = name.strip(), subject.strip(), body.strip()
    errors: dict[str, list[str]] = {}
    for field_name, value, limit in (("name", name, 100), ("subject", subject, 200)):
        if not value:
            errors[field_name] = ["This field is required."]
        elif len(value) > limit:
            errors[field_name] = [f"Keep it under {limit} characters."]
    if not body:
        errors["body"] = ["Write the email body."]
    for field_name, value in (("subject", subject), ("body", body)):
        unknown = unknown_placeholders(value)
        if unknown:
            errors.setdefault(field_name, []).append(
                "Unknown placeholder: " + ", ".join("{" + u + "}" for u in unknown) + "."
            )
    if errors:
        raise CampaignInvalid(errors)
    campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
    if template_id is None:
        position = campaign.templates.count() + 1
        template = FollowUpTemplate.objects.create(
            campaign=campaign, position=position, name=name, subject=subject, body=body
        )
    else:
        template = FollowUpTemplate.objects.get(pk=template_id, campaign=campaign)
        template.name, template.subject, template.body = name, subject, body
        template.save(update_fields=["name", "subject", "body", "updated_at"])
    _history(
        campaign,
        CampaignChange.Kind.CONTENT,
        actor,
        timezone.now(),
        details={"template": template.name, "action": "added" if template_id is None else "edited"},
    )
    return template


@transaction.atomic
def template_delete(*, actor: User, template_id: int) -> None:
    _require_planner(actor)
    template = FollowUpTemplate.objects.select_related("campaign").get(pk=template_id)
    _history(
        template.campaign,
        CampaignChange.Kind.CONTENT,
        actor,
        timezone.now(),
        details={"template": template.name, "action": "removed"},
    )
    template.delete()


@transaction.atomic
def resource_save(
    *,
    actor: User,
    campaign_id: int,
    kind: str,
    title: str,
    url: str = "",
    description: str = "",
    resource_id: int | None = None,
) -> EnablementResource:
    """Create or edit a collateral link, buyer persona or guideline. Collateral needs a link."""
    _require_planner(actor)
    title, url, description = title.strip(), url.strip(), description.strip()
    errors: dict[str, list[str]] = {}
    if kind not in EnablementResource.Kind.values:
        errors["kind"] = ["Choose collateral, persona or guideline."]
    if not title:
        errors["title"] = ["Give it a title."]
    url_error = _url_error(url)
    if url_error:
        errors["url"] = [url_error]
    elif kind == EnablementResource.Kind.COLLATERAL and not url:
        errors["url"] = ["Collateral needs a link."]
    if errors:
        raise CampaignInvalid(errors)
    campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
    fields = {"kind": kind, "title": title, "url": url, "description": description}
    if resource_id is None:
        position = campaign.resources.filter(kind=kind).count() + 1
        resource = EnablementResource.objects.create(campaign=campaign, position=position, **fields)
    else:
        resource = EnablementResource.objects.get(pk=resource_id, campaign=campaign)
        for name, value in fields.items():
            setattr(resource, name, value)
        resource.save(update_fields=[*fields, "updated_at"])
    _history(
        campaign,
        CampaignChange.Kind.CONTENT,
        actor,
        timezone.now(),
        details={"resource": title, "action": "added" if resource_id is None else "edited"},
    )
    return resource


@transaction.atomic
def resource_delete(*, actor: User, resource_id: int) -> None:
    _require_planner(actor)
    resource = EnablementResource.objects.select_related("campaign").get(pk=resource_id)
    _history(
        resource.campaign,
        CampaignChange.Kind.CONTENT,
        actor,
        timezone.now(),
        details={"resource": resource.title, "action": "removed"},
    )
    resource.delete()


# --- launch ----------------------------------------------------------------------------------
def launch_message(campaign: Campaign, points: list[str]) -> str:
    said = " ".join(f"{i}. {text}" for i, text in enumerate(points, start=1))
    return f"Live now: {campaign.name} ({campaign.get_channel_display()}). Say: {said}"


def _launch_notify(*, campaign: Campaign, now) -> bool:
    """Claim the campaign's launch and notify every active rep, inside the caller's
    transaction. Returns False when it was claimed before (already notified)."""
    claimed = Campaign.objects.filter(
        pk=campaign.pk,
        status=Status.LIVE,
        archived_at__isnull=True,
        launch_notified_at__isnull=True,
    ).update(launch_notified_at=now)
    if not claimed:
        return False
    campaign.launch_notified_at = now
    reps = list(User.objects.filter(groups__name=Role.REP.value, is_active=True).distinct())
    points = list(campaign.talking_points.order_by("position").values_list("text", flat=True))
    notification_send(
        recipients=reps,
        kind=Notification.Kind.LAUNCH,
        message=launch_message(campaign, points),
        url=reverse("campaigns:leads", args=[campaign.pk]),
    )
    _history(campaign, CampaignChange.Kind.LAUNCHED, None, now, details={"reps": len(reps)})
    campaign_launched_emit(campaign=campaign, talking_points=points, at=now)
    return True


@transaction.atomic
def campaign_launch_notify(*, campaign_id: int) -> bool:
    """Notify sales that a live campaign launched, once: True for the one call that sent the
    notifications, False for every other (concurrent or later) call."""
    campaign = Campaign.objects.get(pk=campaign_id)
    return _launch_notify(campaign=campaign, now=timezone.now())


def campaigns_launch_due(*, today: date | None = None) -> list[int]:
    """The beat job: planned campaigns whose run has started go live, and every live campaign
    that has not notified sales yet does so now (this also re-derives a launch a crash
    interrupted). Safe to run twice or concurrently. Returns the ids that notified."""
    today = today or timezone.localdate()
    starting = list(
        Campaign.objects.filter(
            status=Status.PLANNED,
            archived_at__isnull=True,
            start_date__lte=today,
            end_date__gte=today,
        ).values_list("pk", flat=True)
    )
    for pk in starting:
        with transaction.atomic():
            now = timezone.now()
            if Campaign.objects.filter(pk=pk, status=Status.PLANNED).update(
                status=Status.LIVE, updated_at=now
            ):
                CampaignChange.objects.create(
                    campaign_id=pk,
                    kind=CampaignChange.Kind.STATUS,
                    from_status=Status.PLANNED,
                    to_status=Status.LIVE,
                    details={"reason": "start date reached"},
                    created_at=now,
                )
    pending = Campaign.objects.filter(
        status=Status.LIVE,
        archived_at__isnull=True,
        launch_notified_at__isnull=True,
        end_date__gte=today,  # an ended campaign is news to nobody
    ).values_list("pk", flat=True)
    return [pk for pk in list(pending) if campaign_launch_notify(campaign_id=pk)]


@transaction.atomic
def campaigns_finish_ended(*, today: date | None = None) -> int:
    """Live campaigns whose end date has passed become done. Returns how many."""
    today = today or timezone.localdate()
    ended = list(
        Campaign.objects.select_for_update()
        .filter(status=Status.LIVE, end_date__lt=today)
        .values_list("pk", flat=True)
    )
    if not ended:
        return 0
    now = timezone.now()
    Campaign.objects.filter(pk__in=ended).update(status=Status.DONE, updated_at=now)
    CampaignChange.objects.bulk_create(
        CampaignChange(
            campaign_id=pk,
            kind=CampaignChange.Kind.STATUS,
            from_status=Status.LIVE,
            to_status=Status.DONE,
            details={"reason": "end date passed"},
            created_at=now,
        )
        for pk in ended
    )
    return len(ended)


# --- the calendar feed ---------------------------------------------------------------------
def feed_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def calendar_feed_rotate(*, user: User) -> str:
    """Make (or replace) the user's feed token and return it; only its hash is kept, and the
    previous token stops working at once."""
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    feed = CalendarFeed.objects.select_for_update().filter(user=user).first()
    if feed is None:
        CalendarFeed.objects.create(
            user=user, token_hash=feed_token_hash(token), created_at=now, rotated_at=now
        )
    else:
        feed.token_hash, feed.rotated_at = feed_token_hash(token), now
        feed.save(update_fields=["token_hash", "rotated_at"])
    return token


# --- content requests ------------------------------------------------------------------------
def _marketers() -> list[User]:
    return list(User.objects.filter(groups__name=Role.MARKETER.value, is_active=True).distinct())


@transaction.atomic
def content_request_create(
    *, actor: User, lead_id: int, kind: str, need_by: date, description: str
) -> ContentRequest:
    """A rep asks marketing for content for one of their leads; marketing is notified."""
    from leads.models import Lead
    from leads.selectors import lead_visibility_q

    if not (is_rep(actor) or is_manager(actor)):
        raise NotAllowed("Content requests come from sales.")
    lead = Lead.objects.filter(lead_visibility_q(actor)).filter(pk=lead_id).first()
    if lead is None:
        raise InvalidInput("Choose one of your leads.", field="lead")
    errors: dict[str, list[str]] = {}
    if kind not in ContentRequest.Kind.values:
        errors["kind"] = ["Choose what you need."]
    if not isinstance(need_by, date):
        errors["need_by"] = ["Enter the date you need it by."]
    elif need_by < timezone.localdate():
        errors["need_by"] = ["The need-by date cannot be in the past."]
    description = (description or "").strip()
    if not description:
        errors["description"] = ["Describe the deal and what would help."]
    if errors:
        raise CampaignInvalid(errors)
    request = ContentRequest.objects.create(
        lead=lead,
        campaign_id=lead.source_campaign_id,
        requested_by=actor,
        kind=kind,
        need_by=need_by,
        description=description,
    )
    message = f"{actor} asks for {request.get_kind_display().lower()} for {lead} by {need_by:%d %b}"
    url = request.get_absolute_url()
    transaction.on_commit(
        lambda: notification_send(
            recipients=_marketers(), kind=Notification.Kind.CONTENT, message=message, url=url
        )
    )
    return request


@transaction.atomic
def content_request_take(*, request_id: int, actor: User) -> ContentRequest:
    """A marketer takes an open request; two marketers taking at once: the first wins."""
    _require_planner(actor)
    now = timezone.now()
    taken = ContentRequest.objects.filter(pk=request_id, status=ContentRequest.Status.OPEN).update(
        status=ContentRequest.Status.TAKEN, taken_by=actor, taken_at=now, updated_at=now
    )
    request = ContentRequest.objects.select_related("requested_by", "lead").get(pk=request_id)
    if not taken:
        raise DomainError(
            "Someone else took this request first."
            if request.status == ContentRequest.Status.TAKEN
            else f"This request is {request.get_status_display().lower()}.",
            code="not_open",
        )
    _notify_requester(request, f"{actor} is working on your request for {request.lead}.")
    return request


@transaction.atomic
def content_request_deliver(
    *, request_id: int, actor: User, url: str = "", note: str = ""
) -> ContentRequest:
    """Deliver a link and/or a note (a file's location). An open request is taken and
    delivered in one go; a request taken by another marketer can only be delivered by them
    or a manager."""
    _require_planner(actor)
    request = ContentRequest.objects.select_for_update().get(pk=request_id)
    if not request.is_active:
        raise DomainError(
            f"This request is {request.get_status_display().lower()}.", code="not_active"
        )
    if (
        request.status == ContentRequest.Status.TAKEN
        and request.taken_by_id != actor.pk
        and not is_manager(actor)
    ):
        raise NotAllowed(f"{request.taken_by} is working on this request.")
    url, note = (url or "").strip(), (note or "").strip()
    errors: dict[str, list[str]] = {}
    url_error = _url_error(url)
    if url_error:
        errors["url"] = [url_error]
    elif not url and not note:
        errors["url"] = ["Give a link, or a note saying where the file is."]
    if errors:
        raise CampaignInvalid(errors)
    now = timezone.now()
    fields = ["status", "delivered_at", "delivery_url", "delivery_note", "updated_at"]
    if request.status == ContentRequest.Status.OPEN:
        request.taken_by, request.taken_at = actor, now
        fields += ["taken_by", "taken_at"]
    request.status = ContentRequest.Status.DELIVERED
    request.delivered_at, request.delivery_url, request.delivery_note = now, url, note
    request.save(update_fields=fields)
    request = ContentRequest.objects.select_related("requested_by", "lead").get(pk=request_id)
    _notify_requester(request, f"Delivered: {request.get_kind_display()} for {request.lead}.")
    return request


@transaction.atomic
def content_request_cancel(*, request_id: int, actor: User) -> ContentRequest:
    """The requester (or a manager) withdraws a request not yet delivered."""
    request = ContentRequest.objects.select_for_update().get(pk=request_id)
    if request.requested_by_id != actor.pk and not is_manager(actor):
        raise NotAllowed("Only the rep who asked can cancel the request.")
    if not request.is_active:
        raise DomainError(
            f"This request is {request.get_status_display().lower()}.", code="not_active"
        )
    now = timezone.now()
    request.status, request.cancelled_at = ContentRequest.Status.CANCELLED, now
    request.save(update_fields=["status", "cancelled_at", "updated_at"])
    if request.taken_by_id:
        taker, url = request.taken_by, request.get_absolute_url()
        message = f"{actor} cancelled a content request for {request.lead}."
        transaction.on_commit(
            lambda: notification_send(
                recipients=[taker], kind=Notification.Kind.CONTENT, message=message, url=url
            )
        )
    return request


def _notify_requester(request: ContentRequest, message: str) -> None:
    recipient, url = request.requested_by, request.get_absolute_url()
    transaction.on_commit(
        lambda: notification_send(
            recipients=[recipient], kind=Notification.Kind.CONTENT, message=message, url=url
        )
    )
