"""Create the demo world: users in their roles, campaigns (``campaigns.demo``), territories,
~200 leads over every stage, and the sales work around them (handoffs, assignments, touches,
feedback, notes, notifications) consistent with what the lifecycle services would have written.

Idempotent: every object is keyed (username, campaign name, territory name, lead email), and
the sales work is derived only for demo leads that have no handoff yet, so a second run
finds them all and changes nothing. This is seed data: rows are bulk-created, not replayed
through the services.
"""

import random
import secrets
import string
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Case, DateTimeField, Exists, F, OuterRef, Value, When
from django.urls import reverse
from django.utils import timezone
from faker import Faker

from campaigns.demo import campaigns_demo_seed
from campaigns.models import Campaign
from core.models import Notification
from core.roles import Role
from leads.models import (
    QUALIFIED_STAGES,
    DisqualifyReason,
    Handoff,
    Lead,
    LeadAssignment,
    LeadFeedback,
    LeadNote,
    LeadStageChange,
    LostReason,
    RepAbsence,
    ReturnReason,
    SourceChannel,
    Stage,
    Temperature,
    Territory,
    TerritoryMember,
    Touch,
)
from leads.scoring_demo import scoring_demo_seed
from leads.services import first_touch_due, handoff_context_build
from slas.demo import sla_demo_seed

DEMO_USERS = [
    ("manager", "Morgan", "Reyes", Role.MANAGER),
    ("marketer", "Maya", "Lindqvist", Role.MARKETER),
    ("rep1", "Ravi", "Patel", Role.REP),
    ("rep2", "Rosa", "Okafor", Role.REP),
    ("rep3", "Ryan", "Schmidt", Role.REP),
]

INDUSTRIES = [
    "Software",
    "Financial services",
    "Healthcare",
    "Manufacturing",
    "Retail",
    "Education",
    "Logistics",
    "Media",
    "Telecom",
    "Energy",
]
TITLES = [
    "VP Marketing",
    "Head of Sales",
    "CMO",
    "Marketing Manager",
    "Sales Director",
    "Demand Generation Lead",
    "Revenue Operations Manager",
    "CEO",
    "Growth Analyst",
    "Marketing Coordinator",
    "CRO",
    "Sales Operations Analyst",
]
COUNTRIES = ["US", "GB", "DE", "FR", "NL", "SE", "CA", "AU", "ES", "IE"]
CHANNELS = [
    SourceChannel.WEB_FORM,
    SourceChannel.PRODUCT_SIGNUP,
    SourceChannel.CHAT,
    SourceChannel.WEBINAR,
    SourceChannel.EVENT,
    SourceChannel.PAID_SOCIAL,
    SourceChannel.CONTENT,
    SourceChannel.REFERRAL,
]

# Territories for round-robin: name, priority, countries, {rep: weight}.
DEMO_TERRITORIES = [
    ("North America", 10, ["US", "CA"], {"rep1": 2, "rep2": 1, "rep3": 1}),
    ("Europe", 20, ["GB", "DE", "FR", "NL", "SE", "ES", "IE"], {"rep1": 1, "rep2": 1, "rep3": 1}),
]
# Countries no territory covers: a lead from there is left in the pool for a rep to claim.
UNCOVERED_COUNTRIES = ["AU", "JP", "BR", "SG", "IN", "ZA"]
# Share of qualified (not yet accepted) demo leads that come from uncovered countries.
POOL_SHARE = 0.35

# Weighted final stages for the demo funnel, and the path each one took.
STAGE_WEIGHTS = [
    (Stage.NEW, 50),
    (Stage.MQL, 22),
    (Stage.PQL, 8),
    (Stage.CQL, 6),
    (Stage.SAL, 26),
    (Stage.SQL, 18),
    (Stage.OPPORTUNITY, 12),
    (Stage.WON, 14),
    (Stage.LOST, 12),
    (Stage.RECYCLED, 18),
    (Stage.DISQUALIFIED, 14),
]
RETURN_REASONS = ["bad_fit", "no_budget", "wrong_contact", "not_ready", "duplicate"]
REASONS = {
    Stage.RECYCLED: RETURN_REASONS,
    Stage.DISQUALIFIED: [r.value for r in DisqualifyReason],
    Stage.LOST: [r.value for r in LostReason],
}
DEAL_AMOUNTS = ["8000.00", "12500.00", "24000.00", "40000.00", "65000.00", "120000.00"]
BANT_CHOICES = {
    "budget": ["Approved for this quarter", "~40k/year", "Needs CFO sign-off", "Seeking funds"],
    "authority": ["VP signs", "CMO and CRO jointly", "Head of Sales decides", "Board approval"],
    "need": ["Lead routing", "SLA reporting", "Shared funnel", "Replacing spreadsheets"],
    "timeline": ["This quarter", "Next quarter", "Before the fiscal year ends", "Within 6 weeks"],
}
# Sales' verdict on returned leads, by return reason.
RETURN_TAGS = {
    "bad_fit": [LeadFeedback.Tag.WRONG_PERSONA, LeadFeedback.Tag.TOO_SMALL],
    "no_budget": [LeadFeedback.Tag.NO_BUDGET],
    "wrong_contact": [LeadFeedback.Tag.BAD_DATA, LeadFeedback.Tag.WRONG_PERSONA],
    "not_ready": [LeadFeedback.Tag.JUST_BROWSING],
    "duplicate": [LeadFeedback.Tag.BAD_DATA],
}
NOTE_BODIES = [
    "Spoke with them briefly; they want a follow-up after their planning week.",
    "Uses spreadsheets for routing today. Interested in the SLA clocks.",
    "Asked for a security questionnaire before the next call.",
    "Champion is in marketing ops; need to loop in the sales director.",
    "Mentioned the webinar; the talking points landed well.",
]
TOUCH_SHARE = 0.85  # accepted leads with logged touches
LATE_SHARE = 0.3  # of those, first touched after the deadline
FEEDBACK_SHARE = 0.45
NOTE_SHARE = 0.25
DEMO_LEAD_COUNT = 200
DEMO_EMAIL_DOMAIN = "@demo.smarketing.example"
DEMO_ABSENCE_NOTE = "Demo: conference week"
QUALIFIED = tuple(QUALIFIED_STAGES)
CLOSING = (Stage.RECYCLED, Stage.DISQUALIFIED, Stage.WON, Stage.LOST)


def _path_to(stage: Stage, kind: Stage) -> list[Stage]:
    head = [Stage.NEW, kind]
    paths = {
        Stage.NEW: [Stage.NEW],
        Stage.MQL: head,
        Stage.PQL: head,
        Stage.CQL: head,
        Stage.SAL: [*head, Stage.SAL],
        Stage.SQL: [*head, Stage.SAL, Stage.SQL],
        Stage.OPPORTUNITY: [*head, Stage.SAL, Stage.SQL, Stage.OPPORTUNITY],
        Stage.WON: [*head, Stage.SAL, Stage.SQL, Stage.OPPORTUNITY, Stage.WON],
        Stage.LOST: [*head, Stage.SAL, Stage.SQL, Stage.OPPORTUNITY, Stage.LOST],
        Stage.RECYCLED: [*head, Stage.SAL, Stage.RECYCLED],
        Stage.DISQUALIFIED: [*head, Stage.DISQUALIFIED],
    }
    return paths[stage]


class _Rotation:
    """The services' weighted round-robin, replayed in memory while the demo is drawn."""

    def __init__(self, members: list[TerritoryMember]):
        self.members: dict[int, list[TerritoryMember]] = {}
        for member in members:
            self.members.setdefault(member.territory_id, []).append(member)
        self.cursor = {m.pk: m.assigned_total for m in members}

    def pick(self, territory: Territory) -> User:
        members = self.members[territory.pk]
        chosen = min(members, key=lambda m: ((self.cursor[m.pk] + 1) / m.weight, m.pk))
        self.cursor[chosen.pk] += 1
        return chosen.rep


def _territory_for(territories: list[Territory], country: str) -> Territory | None:
    # Same rule as leads.services.territory_for_lead, without a query per lead.
    probe = Lead(country=country)
    return next((t for t in territories if t.matches(probe)), None)


def demo_password_resolve(explicit: str | None) -> tuple[str, bool]:
    """The password to give demo users: explicit, DEMO_PASSWORD, or one kept in DATA_DIR."""
    if explicit:
        return explicit, False
    if settings.SMARKETING["DEMO_PASSWORD"]:
        return settings.SMARKETING["DEMO_PASSWORD"], False
    kept = settings.DATA_DIR / "demo_password"
    if kept.exists():
        return kept.read_text().strip(), True
    password = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(12))
    kept.write_text(password)
    kept.chmod(0o600)
    return password, True


class Command(BaseCommand):
    help = "Create demo users, campaigns, territories, leads and their sales work (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--password", help="Password for every demo user.")

    def handle(self, *args, **options):
        password, generated = demo_password_resolve(options.get("password"))
        with transaction.atomic():
            users = self._users(password)
            reps = [users["rep1"], users["rep2"], users["rep3"]]
            # The campaigns app owns its demo content; its content requests need reps that
            # own leads, so it runs again (idempotently) once the leads exist.
            campaigns = campaigns_demo_seed(marketer=users["marketer"], reps=reps)
            # The SLA first, so due times and touches follow its business hours; then again
            # to record the deadlines and breaches of the handoffs the leads brought.
            sla_demo_seed()
            territories = self._territories(users)
            created = self._leads(users, campaigns, territories)
            # Scores, explanations and engagement first, so handoff contexts carry them.
            scoring_demo_seed()
            handoffs = _sales_work_derive(territories=territories)
            campaigns_demo_seed(marketer=users["marketer"], reps=reps)
            sla = sla_demo_seed()
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo ready: {len(users)} users, {len(campaigns)} campaigns, "
                f"{len(territories)} territories, {created} new leads "
                f"({Lead.objects.count()} in all), {handoffs} new handoffs "
                f"({Handoff.objects.filter(status=Handoff.Status.POOL).count()} in the pool), "
                f"{sla.deadlines} new SLA deadlines, {sla.breaches} new breaches."
            )
        )
        origin = "generated and kept in DATA_DIR" if generated else "as given"
        self.stdout.write(
            f"Log in as manager, marketer, rep1, rep2 or rep3 with password: {password} ({origin})"
        )

    def _users(self, password: str) -> dict[str, User]:
        users = {}
        for username, first, last, role in DEMO_USERS:
            user, _ = User.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@smarketing.example",
                    "is_staff": role == Role.MANAGER,
                },
            )
            if not user.check_password(password):
                user.set_password(password)
                user.save(update_fields=["password"])
            user.groups.add(Group.objects.get(name=role.value))
            users[username] = user
        return users

    def _territories(self, users: dict[str, User]) -> list[Territory]:
        territories = []
        for name, priority, countries, weights in DEMO_TERRITORIES:
            territory, _ = Territory.objects.get_or_create(
                name=name, defaults={"priority": priority, "countries": countries}
            )
            for username, weight in weights.items():
                TerritoryMember.objects.get_or_create(
                    territory=territory, rep=users[username], defaults={"weight": weight}
                )
            territories.append(territory)
        # Keyed by its note, so a run on another day does not add a second one.
        today = timezone.localdate()
        RepAbsence.objects.get_or_create(
            rep=users["rep3"],
            note=DEMO_ABSENCE_NOTE,
            defaults={
                "starts_on": today + timedelta(days=14),
                "ends_on": today + timedelta(days=18),
            },
        )
        return sorted(territories, key=lambda t: (t.priority, t.name))

    def _leads(
        self, users: dict[str, User], campaigns: list[Campaign], territories: list[Territory]
    ) -> int:
        fake = Faker()
        fake.seed_instance(2026)
        rng = random.Random(2026)
        reps = [users["rep1"], users["rep2"], users["rep3"]]
        rotation = _Rotation(
            list(
                TerritoryMember.objects.filter(
                    territory__in=territories, is_active=True
                ).select_related("rep")
            )
        )
        existing = set(
            Lead.objects.filter(email__endswith=DEMO_EMAIL_DOMAIN).values_list("email", flat=True)
        )
        now = timezone.now()
        stages = [s for s, _ in STAGE_WEIGHTS]
        weights = [w for _, w in STAGE_WEIGHTS]
        leads = []
        for n in range(DEMO_LEAD_COUNT):
            first, last = fake.first_name(), fake.last_name()
            company = fake.company()
            phone = fake.numerify("+1 (###) ###-####")
            local = "".join(ch for ch in f"{first}.{last}" if ch.isalnum() or ch == ".").lower()
            email = f"{local}.{n}{DEMO_EMAIL_DOMAIN}"
            final = rng.choices(stages, weights)[0]
            kind = rng.choice([Stage.MQL, Stage.MQL, Stage.MQL, Stage.PQL, Stage.CQL])
            if final in QUALIFIED:
                kind = final
            path = _path_to(final, kind)
            country = rng.choice(COUNTRIES)
            if final in QUALIFIED and rng.random() < POOL_SHARE:
                country = rng.choice(UNCOVERED_COUNTRIES)
            # Who worked it in sales: the territory's rotation, or a rep who claimed it from
            # the pool; a qualified lead from an uncovered country still waits in the pool.
            territory = _territory_for(territories, country) if len(path) > 1 else None
            if territory is not None:
                worked_by = rotation.pick(territory)
            elif len(path) > 2:
                worked_by = rng.choice(reps)
            else:
                worked_by = None
            score = rng.randint(5, 40) if final == Stage.NEW else rng.randint(45, 98)
            created_at = now - timedelta(days=rng.randint(1, 170), hours=rng.randint(0, 23))
            if final in QUALIFIED:
                # Waiting for sales right now: handed off in the last two days.
                handed = now - timedelta(minutes=rng.randint(10, 48 * 60))
                created_at = min(created_at, handed - timedelta(hours=rng.randint(1, 72)))
                moments = [handed]
            else:
                span = min(now - created_at, timedelta(days=30))
                moments = sorted(created_at + span * rng.uniform(0.02, 0.98) for _ in path[1:])
            amount = rng.choice(DEAL_AMOUNTS)
            bant = {name: rng.choice(values) for name, values in BANT_CHOICES.items()}
            reason = rng.choice(REASONS[final]) if final in REASONS else ""
            lead = Lead(
                first_name=first,
                last_name=last,
                email=email,
                phone=phone,
                title=rng.choice(TITLES),
                company=company,
                company_size=rng.choice([12, 45, 120, 350, 800, 2400, 9000]),
                industry=rng.choice(INDUSTRIES),
                country=country,
                source_channel=rng.choice(CHANNELS),
                source_campaign=rng.choice([*campaigns, None]),
                stage=final,
                kind=kind if len(path) > 1 else "",
                # A returned lead is back in marketing's nurture, without an owner.
                owner=None if final == Stage.RECYCLED else worked_by,
                score=score,
                temperature=Temperature.HOT
                if score >= 75
                else Temperature.WARM
                if score >= 45
                else Temperature.COLD,
                stage_changed_at=moments[-1] if moments else created_at,
            )
            if Stage.SQL in path:
                for name, value in bant.items():
                    setattr(lead, f"bant_{name}", value)
            if Stage.OPPORTUNITY in path:
                lead.deal_amount = amount
            if final in (Stage.WON, Stage.LOST, Stage.DISQUALIFIED):
                lead.closed_at = moments[-1]
            if email in existing:  # drawn above all the same, so later leads stay identical
                continue
            history = []
            for step, stage in enumerate(path):
                details = {}
                if stage == Stage.SQL:
                    details = bant
                elif stage in (Stage.OPPORTUNITY, Stage.WON):
                    details = {"amount": amount}
                history.append(
                    LeadStageChange(
                        lead=lead,
                        from_stage=path[step - 1] if step else "",
                        to_stage=stage,
                        reason_code=reason if stage == final else "",
                        actor=None if stage in (Stage.NEW, *QUALIFIED) else worked_by,
                        details=details,
                        created_at=created_at if step == 0 else moments[step - 1],
                        stage_entered_at=(
                            None if step == 0 else created_at if step == 1 else moments[step - 2]
                        ),
                    )
                )
            leads.append((lead, created_at, history))
        Lead.objects.bulk_create([lead for lead, *_ in leads])
        LeadStageChange.objects.bulk_create(row for *_, history in leads for row in history)
        _backdate(Lead, [(lead, created_at) for lead, created_at, _ in leads])
        return len(leads)


def _sales_work_derive(*, territories: list[Territory]) -> int:
    """Write what sales did with every demo lead that reached MQL/PQL/CQL and has no handoff
    yet: its handoff, who got it, touches, feedback, notes and notifications. Everything is
    read from the lead and its history, so it also fits demo leads seeded before handoffs
    existed. Returns how many handoffs it created."""
    leads = list(
        Lead.objects.filter(email__endswith=DEMO_EMAIL_DOMAIN)
        .exclude(stage=Stage.NEW)
        .exclude(Exists(Handoff.objects.filter(lead=OuterRef("pk"))))
        .select_related("owner", "source_campaign")
        .prefetch_related("stage_changes__actor")
        .order_by("pk")
    )
    if not leads:
        return 0
    members = {
        (m.territory_id, m.rep_id)
        for m in TerritoryMember.objects.filter(territory__in=territories, is_active=True)
    }
    marketers = list(User.objects.filter(groups__name=Role.MARKETER.value, is_active=True))
    now = timezone.now()
    plans = [_handoff_plan(lead, territories, members, now) for lead in leads]
    plans = [plan for plan in plans if plan is not None]
    Handoff.objects.bulk_create([plan.handoff for plan in plans])

    assignments, touches, feedback, notes, notifications = [], [], [], [], []
    round_robin: Counter = Counter()
    for plan in plans:
        handoff, lead, rng = plan.handoff, plan.lead, plan.rng
        if handoff.owner is not None:
            by_rule = (handoff.territory_id, handoff.owner_id) in members
            if by_rule:
                round_robin[(handoff.territory_id, handoff.owner_id)] += 1
            assignments.append(
                LeadAssignment(
                    lead=lead,
                    handoff=handoff,
                    to_owner=handoff.owner,
                    actor=None if by_rule else handoff.owner,
                    reason=LeadAssignment.Reason.ROUND_ROBIN
                    if by_rule
                    else LeadAssignment.Reason.CLAIMED,
                    created_at=handoff.assigned_at,
                )
            )
        for at, kind, outcome in plan.touches:
            touches.append(
                (
                    Touch(
                        lead=lead,
                        handoff=handoff,
                        rep=handoff.owner,
                        kind=kind,
                        outcome=outcome,
                        occurred_at=at,
                    ),
                    at,
                )
            )
        verdict = _feedback_for(plan)
        if verdict is not None:
            feedback.append(verdict)
        if plan.touches and rng.random() < NOTE_SHARE:
            at = plan.touches[0][0] + timedelta(minutes=rng.randint(5, 90))
            note = LeadNote(lead=lead, author=handoff.owner, body=rng.choice(NOTE_BODIES))
            notes.append((note, min(at, plan.limit)))
        notifications.extend(_notifications_for(plan, marketers, now))

    LeadAssignment.objects.bulk_create(assignments)
    Touch.objects.bulk_create([touch for touch, _ in touches])
    LeadFeedback.objects.bulk_create([row for row, _ in feedback])
    LeadNote.objects.bulk_create([note for note, _ in notes])
    Notification.objects.bulk_create([row for row, _ in notifications])
    # created_at is auto_now_add on these: date them when they happened.
    _backdate(Touch, touches)
    _backdate(LeadFeedback, feedback)
    _backdate(LeadNote, notes)
    _backdate(Notification, notifications)
    # The rotation's cursor counts what the rule assigned, as the service's would.
    for (territory_id, rep_id), count in round_robin.items():
        TerritoryMember.objects.filter(territory_id=territory_id, rep_id=rep_id).update(
            assigned_total=F("assigned_total") + count
        )
    return len(plans)


@dataclass
class _HandoffPlan:
    lead: Lead
    handoff: Handoff
    rng: random.Random
    touches: list  # (occurred_at, kind, outcome), first one first
    limit: datetime  # nothing sales did happens after this moment
    closing_reason: str


def _handoff_plan(lead, territories, members, now) -> _HandoffPlan | None:
    # Each lead draws from its own generator, so what it gets never depends on the others.
    rng = random.Random(f"2026-{lead.email}")
    history = sorted(lead.stage_changes.all(), key=lambda row: (row.created_at, row.pk))
    handed_at = next((row.created_at for row in history if row.to_stage in QUALIFIED), None)
    if handed_at is None:
        return None
    accepted_at = next((row.created_at for row in history if row.to_stage == Stage.SAL), None)
    closing = next((row for row in history if row.to_stage in CLOSING), None)
    worked_by = next(
        (row.actor for row in history if row.actor and row.to_stage not in QUALIFIED),
        lead.owner,
    )
    kind = lead.kind or next(row.to_stage for row in history if row.to_stage in QUALIFIED)
    territory = _territory_for(territories, lead.country)
    due = first_touch_due(kind=kind, temperature=lead.temperature, start=handed_at)
    limit = closing.created_at if closing else now

    if closing is not None:
        returned = closing.to_stage == Stage.RECYCLED
        status = Handoff.Status.RETURNED if returned else Handoff.Status.CLOSED
    elif accepted_at is not None:
        status = Handoff.Status.ACCEPTED
    elif worked_by is not None:
        status = Handoff.Status.ASSIGNED
    else:
        status = Handoff.Status.POOL
    assigned_at = None
    if worked_by is not None:
        by_rule = territory is not None and (territory.pk, worked_by.pk) in members
        # Claimed from the pool a while after the handoff, before anything else happened.
        next_event = accepted_at or limit
        wait = min(next_event - handed_at, timedelta(hours=6)) * rng.uniform(0.1, 0.9)
        assigned_at = handed_at if by_rule else handed_at + wait

    touches = []
    if accepted_at is not None and worked_by is not None and rng.random() < TOUCH_SHARE:
        window = due - handed_at
        late = rng.random() < LATE_SHARE
        first = handed_at + window * (rng.uniform(1.2, 4.0) if late else rng.uniform(0.05, 0.9))
        if first > limit:
            first = handed_at + (limit - handed_at) * rng.uniform(0.2, 0.8)
        at = first
        for attempt in range(rng.randint(1, 3)):
            if attempt:
                at += timedelta(hours=rng.randint(2, 96))
                if at > limit:
                    break
            outcome = rng.choice(
                [Touch.Outcome.NO_ANSWER, Touch.Outcome.LEFT_MESSAGE, Touch.Outcome.CONNECTED]
                if attempt == 0
                else [Touch.Outcome.CONNECTED, Touch.Outcome.REPLIED, Touch.Outcome.MEETING_BOOKED]
            )
            touches.append((at, rng.choice(Touch.Kind.values), outcome))

    handoff = Handoff(
        lead=lead,
        kind=kind,
        status=status,
        owner=worked_by,
        territory=territory,
        context=handoff_context_build(lead),
        created_at=handed_at,
        assigned_at=assigned_at,
        accepted_at=accepted_at,
        first_touch_due_at=due,
        first_touch_at=touches[0][0] if touches else None,
        closed_at=closing.created_at if closing else None,
        return_reason=closing.reason_code
        if closing is not None and closing.to_stage == Stage.RECYCLED
        else "",
    )
    return _HandoffPlan(
        lead=lead,
        handoff=handoff,
        rng=rng,
        touches=touches,
        limit=limit,
        closing_reason=closing.reason_code if closing else "",
    )


def _feedback_for(plan: _HandoffPlan) -> tuple[LeadFeedback, datetime] | None:
    handoff, rng = plan.handoff, plan.rng
    if handoff.owner is None or handoff.accepted_at is None or rng.random() >= FEEDBACK_SHARE:
        return None
    Tag = LeadFeedback.Tag
    if handoff.status == Handoff.Status.RETURNED:
        rating, moment, at = LeadFeedback.Rating.POOR, LeadFeedback.Moment.RETURN, plan.limit
        tags = RETURN_TAGS.get(plan.closing_reason, [])
    elif plan.lead.stage in (Stage.WON, Stage.LOST):
        won = plan.lead.stage == Stage.WON
        rating = LeadFeedback.Rating.GOOD if won or rng.random() < 0.6 else LeadFeedback.Rating.POOR
        moment, at = LeadFeedback.Moment.CLOSE, plan.limit
        tags = [Tag.RIGHT_PERSONA, Tag.HAS_BUDGET] if won else [Tag.RIGHT_SIZE]
    else:
        good = rng.random() < 0.75
        rating = LeadFeedback.Rating.GOOD if good else LeadFeedback.Rating.POOR
        moment, at = LeadFeedback.Moment.ACCEPT, handoff.accepted_at
        tags = (
            [rng.choice([Tag.RIGHT_PERSONA, Tag.URGENT_NEED, Tag.RIGHT_SIZE])]
            if good
            else [rng.choice([Tag.TOO_SMALL, Tag.JUST_BROWSING])]
        )
    row = LeadFeedback(
        lead=plan.lead,
        rep=handoff.owner,
        rating=rating,
        moment=moment,
        tags=[str(tag) for tag in tags],
    )
    return row, at


def _notifications_for(plan: _HandoffPlan, marketers: list[User], now) -> list:
    # What the services would have told people lately: new assignments to their rep, recent
    # returns to marketing. Older ones have been read.
    handoff, lead = plan.handoff, plan.lead
    rows = []
    if handoff.status == Handoff.Status.ASSIGNED:
        message = f"New {lead.get_stage_display()} for you: {lead} ({lead.company or lead.email})"
        at = handoff.assigned_at
        rows.append(
            Notification(
                user=handoff.owner,
                kind=Notification.Kind.ASSIGNED,
                message=message[:300],
                url=lead.get_absolute_url(),
                read_at=at + timedelta(hours=1) if now - at > timedelta(days=1) else None,
            )
        )
    elif handoff.status == Handoff.Status.RETURNED and now - plan.limit < timedelta(days=30):
        reason = ReturnReason(handoff.return_reason).label
        at = plan.limit
        for marketer in marketers:
            rows.append(
                Notification(
                    user=marketer,
                    kind=Notification.Kind.RETURNED,
                    message=f"{lead} was returned to nurture: {reason}"[:300],
                    url=reverse("leads:nurture"),
                    read_at=plan.limit + timedelta(hours=2)
                    if now - plan.limit > timedelta(days=7)
                    else None,
                )
            )
    else:
        return []
    return [(row, at) for row in rows]


def _backdate(model, rows: list, field: str = "created_at") -> None:
    # auto_now_add fields take "now" on insert: set when each row really happened, in a few
    # UPDATEs (batched to stay under SQLite's bound-parameter limit).
    for start in range(0, len(rows), 200):
        batch = rows[start : start + 200]
        model.objects.filter(pk__in=[obj.pk for obj, _ in batch]).update(
            **{
                field: Case(
                    *[When(pk=obj.pk, then=Value(at)) for obj, at in batch],
                    output_field=DateTimeField(),
                )
            }
        )
