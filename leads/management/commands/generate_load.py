"""Bulk synthetic leads for benchmarks: ``generate_load --leads N [--events M]``.

Set-based: on PostgreSQL one ``INSERT … SELECT … FROM generate_series`` per table (leads,
stage history, handoffs), then ANALYZE; elsewhere (SQLite) batched ``bulk_create`` of the
same rows. Every attribute of lead ``i`` comes from a fixed integer hash of ``i``
(``lead_plan`` in Python, ``_mix_sql`` in SQL), so both backends draw the same funnel and a
test can check the SQL against the Python.

The funnel: ~2% wait in the pool (MQL/PQL/CQL, no owner), ~10% are open leads owned by reps
(assigned or accepted), the rest is history: new, recycled, won, lost, disqualified. Every
lead that reached MQL/PQL/CQL has a handoff: open for sales stages, returned or closed after.
Emails carry a run prefix, so runs add to each other and never collide.

``--events M`` adds M engagement events spread over the run's leads (about M/N each), of
weighted kinds, up to a year old (``event_plan`` / ``EVENTS_SQL``): the load the scoring engine
rescores. On PostgreSQL the events table is vacuumed after, so rescoring reads it index-only.
"""

import secrets
import time
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.models import Max, Min, OuterRef, Subquery
from django.utils import timezone

from campaigns.models import Campaign
from core.roles import Role
from leads.models import (
    DisqualifyReason,
    EngagementEvent,
    EventKind,
    Handoff,
    Lead,
    LeadStageChange,
    LostReason,
    ReturnReason,
    SourceChannel,
    Stage,
    Temperature,
)

LOAD_DOMAIN = "load.smarketing.example"
LOAD_REPS = ["load-rep1", "load-rep2", "load-rep3"]
DEMO_REPS = ["rep1", "rep2", "rep3"]

# Where lead i lands, by a per-mille bucket of its hash: (upper bound, class).
CLASSES = [
    (20, "pool"),  # qualified, no owner, waiting to be claimed
    (120, "owned"),  # open, owned by a rep
    (600, Stage.NEW),
    (720, Stage.RECYCLED),
    (800, Stage.WON),
    (890, Stage.LOST),
    (1000, Stage.DISQUALIFIED),
]
# An owned lead's stage, by percent: still qualified (assigned), or accepted and beyond.
OWNED_STAGES = [(35, ""), (65, Stage.SAL), (85, Stage.SQL), (100, Stage.OPPORTUNITY)]
KINDS = [(70, Stage.MQL), (85, Stage.PQL), (100, Stage.CQL)]
# The way each final stage was reached; "kind" stands for the lead's MQL/PQL/CQL.
PATHS = {
    Stage.NEW: [Stage.NEW],
    Stage.MQL: [Stage.NEW, "kind"],
    Stage.PQL: [Stage.NEW, "kind"],
    Stage.CQL: [Stage.NEW, "kind"],
    Stage.SAL: [Stage.NEW, "kind", Stage.SAL],
    Stage.SQL: [Stage.NEW, "kind", Stage.SAL, Stage.SQL],
    Stage.OPPORTUNITY: [Stage.NEW, "kind", Stage.SAL, Stage.SQL, Stage.OPPORTUNITY],
    Stage.WON: [Stage.NEW, "kind", Stage.SAL, Stage.SQL, Stage.OPPORTUNITY, Stage.WON],
    Stage.LOST: [Stage.NEW, "kind", Stage.SAL, Stage.SQL, Stage.OPPORTUNITY, Stage.LOST],
    Stage.RECYCLED: [Stage.NEW, "kind", Stage.SAL, Stage.RECYCLED],
    Stage.DISQUALIFIED: [Stage.NEW, "kind", Stage.DISQUALIFIED],
}
DIRECT_DISQUALIFY = [Stage.NEW, Stage.DISQUALIFIED]  # junk caught before any handoff
REASONS = {
    Stage.RECYCLED: [r.value for r in ReturnReason],
    Stage.LOST: [r.value for r in LostReason],
    Stage.DISQUALIFIED: [r.value for r in DisqualifyReason],
}
OPEN_STAGES = (Stage.MQL, Stage.PQL, Stage.CQL, Stage.SAL, Stage.SQL, Stage.OPPORTUNITY)
ACCEPTED_STAGES = (Stage.SAL, Stage.SQL, Stage.OPPORTUNITY)
CLOSED_STAGES = (Stage.WON, Stage.LOST, Stage.DISQUALIFIED)
QUALIFIED = (Stage.MQL, Stage.PQL, Stage.CQL)

FIRST_NAMES = [
    "Ada", "Ben", "Chloe", "Dev", "Elena", "Farid", "Greta", "Hiro", "Ines", "Jon",
    "Kemi", "Luca", "Mei", "Nils", "Olga", "Pablo", "Quinn", "Rina", "Sam", "Tariq",
]  # fmt: skip
LAST_NAMES = [
    "Adams", "Berg", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Hughes", "Ito",
    "Jansen", "Kowalski", "Larsen", "Moreau", "Nakamura", "Okafor", "Patel", "Quist",
    "Rossi", "Silva", "Tanaka",
]  # fmt: skip
COMPANY_WORDS = [
    "Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli", "Vandelay",
    "Soylent", "Tyrell", "Cyberdyne", "Aperture", "Massive", "Wonka", "Oscorp", "Gringotts",
]  # fmt: skip
COMPANY_SUFFIXES = ["Inc", "GmbH", "Ltd", "SA", "BV", "AB", "Group", "Labs"]
TITLES = [
    "VP Marketing", "Head of Sales", "CMO", "Marketing Manager", "Sales Director",
    "Demand Generation Lead", "Revenue Operations Manager", "CEO", "Growth Analyst",
    "Marketing Coordinator", "CRO", "Sales Operations Analyst",
]  # fmt: skip
INDUSTRIES = [
    "Software", "Financial services", "Healthcare", "Manufacturing", "Retail", "Education",
    "Logistics", "Media", "Telecom", "Energy", "Public sector", "Hospitality",
]  # fmt: skip
COUNTRIES = [
    "US", "US", "US", "CA", "GB", "GB", "DE", "DE", "FR", "NL", "SE", "ES", "IE",
    "AU", "JP", "BR", "IN", "SG", "MX", "ZA",
]  # fmt: skip
COMPANY_SIZES = [5, 12, 45, 120, 350, 800, 2400, 9000]
CHANNELS = [c.value for c in SourceChannel]
BANT = {
    "budget": "Approved for this year",
    "authority": "VP signs",
    "need": "Lead routing and SLA reporting",
    "timeline": "This quarter",
}
MINUTES_OPEN_QUALIFIED = 48 * 60  # handed off within the last two days
MINUTES_ACCEPTED = 30 * 24 * 60
MINUTES_HISTORY = 365 * 24 * 60
MINUTES_LIFETIME = 180 * 24 * 60
MAX_STEP = timedelta(days=2)  # at most this long between two moves
# Engagement events: kinds weighted by repetition, ages up to a year.
EVENT_KINDS = [
    *[EventKind.PAGE_VIEW] * 8, *[EventKind.EMAIL_OPEN] * 3, *[EventKind.EMAIL_CLICK] * 3,
    *[EventKind.PRICING_VIEW] * 2, *[EventKind.CONTENT_DOWNLOAD] * 2, EventKind.WEBINAR_ATTENDED,
    EventKind.FORM_SUBMIT, EventKind.DEMO_REQUEST, EventKind.TRIAL_SIGNUP,
    EventKind.CHAT_CONVERSATION,
]  # fmt: skip
EVENT_MAX_AGE_SECONDS = 365 * 24 * 3600
LOAD_EVENT_SOURCE = "load"


# --- the plan: one pure function per row, mirrored in SQL ------------------------------------
def _mix(i: int, salt: int) -> int:
    """A fixed 32-bit integer hash of (i, salt); ``_mix_sql`` is the same in SQL."""
    h = (i * 2654435761 + salt * 40503) % 4294967296
    h = ((h ^ (h >> 15)) * 1597334677) % 4294967296
    return h ^ (h >> 13)


def _mix_sql(column: str, salt: int) -> str:
    # bigint arithmetic; no intermediate exceeds 2^63 for i < 3e9. `#` is XOR.
    h1 = f"mod({column} * 2654435761 + {salt * 40503}, 4294967296)"
    h2 = f"mod((({h1}) # (({h1}) >> 15)) * 1597334677, 4294967296)"
    return f"(({h2}) # (({h2}) >> 13))"


def _bucket(bounds: list, value: int):
    return next(item for bound, item in bounds if value < bound)


def _path(stage: str, kind: str) -> list[str]:
    if stage == Stage.DISQUALIFIED and not kind:
        return list(DIRECT_DISQUALIFY)
    return [kind if step == "kind" else str(step) for step in PATHS[stage]]


def _temperature(score: int) -> str:
    return Temperature.HOT if score >= 75 else Temperature.WARM if score >= 45 else Temperature.COLD


def _due_hours(kind: str, temperature: str) -> int:
    hours = settings.SMARKETING["FIRST_TOUCH_HOURS"]
    key = "mql_hot" if kind == Stage.MQL and temperature == Temperature.HOT else kind
    return hours.get(key, hours["mql"])


def lead_plan(i: int, *, run: str, reps: list[int], campaigns: list[int], now: datetime) -> dict:
    """Every field of synthetic lead ``i`` (1-based) of this run."""

    def mix(salt: int) -> int:
        return _mix(i, salt)

    group = _bucket(CLASSES, mix(1) % 1000)
    kind = str(_bucket(KINDS, mix(3) % 100))
    rep = reps[mix(4) % len(reps)]
    owner = None
    if group == "pool":
        stage = kind
    elif group == "owned":
        stage = str(_bucket(OWNED_STAGES, mix(2) % 100)) or kind
        owner = rep
    elif group == Stage.NEW:
        stage, kind = str(Stage.NEW), ""
    else:
        stage = str(group)
        if stage == Stage.DISQUALIFIED and mix(17) % 2:
            kind = ""  # disqualified by marketing before any handoff
        elif stage in CLOSED_STAGES:
            owner = rep  # the rep who closed it keeps it, as lead_transition leaves it
    if stage == Stage.NEW:
        score = mix(5) % 45
    elif stage == Stage.RECYCLED:
        score = 20 + mix(5) % 61
    else:
        score = 45 + mix(5) % 56
    if stage in QUALIFIED:
        recent = MINUTES_OPEN_QUALIFIED
    elif stage in ACCEPTED_STAGES:
        recent = MINUTES_ACCEPTED
    else:
        recent = MINUTES_HISTORY
    steps = len(_path(stage, kind))
    changed = now - timedelta(minutes=mix(15) % recent)
    created = changed - timedelta(minutes=(steps - 1) * 60 + mix(16) % MINUTES_LIFETIME)
    campaign_choices = [*campaigns, None, None, None]
    passed_sql = stage in (Stage.SQL, Stage.OPPORTUNITY, Stage.WON, Stage.LOST)
    return {
        "first_name": FIRST_NAMES[mix(11) % len(FIRST_NAMES)],
        "last_name": LAST_NAMES[mix(12) % len(LAST_NAMES)],
        "email": f"{run}-{i}@{LOAD_DOMAIN}",
        "title": TITLES[mix(10) % len(TITLES)],
        "company": f"{COMPANY_WORDS[mix(13) % len(COMPANY_WORDS)]} "
        f"{COMPANY_SUFFIXES[mix(18) % len(COMPANY_SUFFIXES)]}",
        "company_size": COMPANY_SIZES[mix(8) % len(COMPANY_SIZES)],
        "industry": INDUSTRIES[mix(7) % len(INDUSTRIES)],
        "country": COUNTRIES[mix(6) % len(COUNTRIES)],
        "source_channel": CHANNELS[mix(9) % len(CHANNELS)],
        "source_campaign_id": campaign_choices[mix(14) % len(campaign_choices)],
        "stage": stage,
        "kind": kind,
        "owner_id": owner,
        "score": score,
        "temperature": _temperature(score),
        "stage_changed_at": changed,
        "created_at": created,
        "closed_at": changed if stage in CLOSED_STAGES else None,
        "deal_amount": 5000 + (mix(19) % 200) * 500
        if stage in (Stage.OPPORTUNITY, Stage.WON, Stage.LOST)
        else None,
        **{f"bant_{name}": value if passed_sql else "" for name, value in BANT.items()},
    }


def event_plan(i: int, *, first_lead: int, leads: int, now: datetime) -> dict:
    """Synthetic event ``i`` (1-based) of a run whose leads have ids first_lead … +leads-1."""
    return {
        "lead_id": first_lead + _mix(i, 21) % leads,
        "kind": EVENT_KINDS[_mix(i, 22) % len(EVENT_KINDS)],
        "occurred_at": now - timedelta(seconds=_mix(i, 23) % EVENT_MAX_AGE_SECONDS),
    }


def _moments(lead: Lead, steps: int) -> list[datetime]:
    """When each move of the path happened: created, then evenly up to the last change."""
    if steps == 1:
        return [lead.created_at]
    gap = min((lead.stage_changed_at - lead.created_at) / steps, MAX_STEP)
    return [lead.created_at] + [
        lead.stage_changed_at - (steps - 1 - k) * gap for k in range(1, steps)
    ]


def _reason(lead_id: int, stage: str) -> str:
    reasons = REASONS.get(stage)
    return reasons[lead_id % len(reasons)] if reasons else ""


def _first_touch_offset(lead_id: int, due_minutes: int) -> int:
    # Seven in ten first touches land inside the deadline, the rest up to three times late.
    pick = (lead_id * 7919) % 100
    factor = 10 + pick if pick < 70 else 120 + (pick - 70) * 6
    return due_minutes * factor // 100


# --- the command ------------------------------------------------------------------------------
class Command(BaseCommand):
    help = "Bulk-create synthetic leads, stage history and handoffs for benchmarks."

    def add_arguments(self, parser):
        parser.add_argument("--leads", type=int, required=True, help="How many leads to add.")
        parser.add_argument(
            "--events",
            type=int,
            default=0,
            help="Engagement events to add, spread over the run's leads.",
        )
        parser.add_argument(
            "--batch-size", type=int, default=5000, help="Rows per bulk_create (SQLite only)."
        )

    def handle(self, *args, **options):
        leads, events = options["leads"], options["events"]
        if events < 0:
            raise CommandError("--events cannot be negative.")
        if leads < 1:
            raise CommandError("--leads must be at least 1.")
        run = f"load{timezone.now():%y%m%d%H%M%S}{secrets.token_hex(2)}"
        now = timezone.now()
        started = time.monotonic()
        with transaction.atomic():
            reps = self._reps()
            campaigns = list(Campaign.objects.order_by("pk").values_list("pk", flat=True)[:20])
            plan = {"run": run, "reps": reps, "campaigns": campaigns, "now": now}
            if connection.vendor == "postgresql":
                counts = self._postgres(n=leads, **plan)
            else:
                counts = self._batched(n=leads, batch_size=options["batch_size"], **plan)
            counts["events"] = (
                self._events(n=events, run=run, now=now, batch_size=options["batch_size"])
                if events
                else 0
            )
        if connection.vendor == "postgresql":
            with self._step("analyze", None), connection.cursor() as cursor:
                cursor.execute("ANALYZE leads_lead, leads_leadstagechange, leads_handoff")
                if events:
                    # VACUUM sets the visibility map (index-only scans); it cannot run inside
                    # a transaction (tests wrap one), where ANALYZE does.
                    vacuum = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
                    cursor.execute(f"{vacuum} leads_engagementevent")
        self.stdout.write(
            self.style.SUCCESS(
                f"Run {run}: {counts['leads']:,} leads, {counts['history']:,} history rows, "
                f"{counts['handoffs']:,} handoffs, {counts['events']:,} events "
                f"in {time.monotonic() - started:.1f}s "
                f"(reps: {', '.join(User.objects.get(pk=pk).username for pk in reps)})."
            )
        )

    def _reps(self) -> list[int]:
        """rep1..rep3 when the demo is seeded, else load-rep1..3 (created once)."""
        demo = list(
            User.objects.filter(username__in=DEMO_REPS, groups__name=Role.REP.value)
            .order_by("username")
            .values_list("pk", flat=True)
        )
        if demo:
            return demo
        group = Group.objects.get(name=Role.REP.value)
        reps = []
        for username in LOAD_REPS:
            user, created = User.objects.get_or_create(
                username=username, defaults={"email": f"{username}@{LOAD_DOMAIN}"}
            )
            if created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
            user.groups.add(group)
            reps.append(user.pk)
        return reps

    @contextmanager
    def _step(self, name: str, counts: dict | None):
        """Time one step and print it with the rows it wrote (``counts[name]``)."""
        started = time.monotonic()
        yield
        rows = f"{counts[name]:,} rows " if counts and name in counts else ""
        self.stdout.write(f"  {name}: {rows}in {time.monotonic() - started:.2f}s")

    # --- PostgreSQL: one INSERT … SELECT per table -------------------------------------------
    def _postgres(self, *, n, run, reps, campaigns, now) -> dict:
        counts: dict = {}
        params = {
            "first": 1,
            "last": n,
            "run": run,
            "domain": LOAD_DOMAIN,
            "reps": reps,
            "campaigns": [*campaigns, None, None, None],
            "now": now,
            "first_names": FIRST_NAMES,
            "last_names": LAST_NAMES,
            "company_words": COMPANY_WORDS,
            "company_suffixes": COMPANY_SUFFIXES,
            "titles": TITLES,
            "industries": INDUSTRIES,
            "countries": COUNTRIES,
            "sizes": COMPANY_SIZES,
            "channels": CHANNELS,
            "reasons_recycled": REASONS[Stage.RECYCLED],
            "reasons_lost": REASONS[Stage.LOST],
            "reasons_disqualified": REASONS[Stage.DISQUALIFIED],
            **BANT,
        }
        with connection.cursor() as cursor:
            # The row expressions are large and cheap: JIT-compiling them (the cost estimate
            # crosses jit_above_cost at a few thousand rows) took minutes, running them seconds.
            cursor.execute("SET LOCAL jit = off")
            cursor.execute("SELECT COALESCE(MAX(id), 0) FROM leads_lead")
            params["after_id"] = cursor.fetchone()[0]
            with self._step("leads", counts):
                cursor.execute(LEADS_SQL, params)
                counts["leads"] = cursor.rowcount
            with self._step("history", counts):
                cursor.execute(HISTORY_SQL, params)
                counts["history"] = cursor.rowcount
            with self._step("handoffs", counts):
                cursor.execute(HANDOFFS_SQL, params)
                counts["handoffs"] = cursor.rowcount
        return counts

    # --- engagement events -----------------------------------------------------------------
    def _events(self, *, n: int, run: str, now: datetime, batch_size: int) -> int:
        counts: dict = {}
        bounds = Lead.objects.filter(email__startswith=f"{run}-").aggregate(
            lo=Min("pk"), hi=Max("pk")
        )
        first, span = bounds["lo"], bounds["hi"] - bounds["lo"] + 1
        with self._step("events", counts):
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL jit = off")
                    cursor.execute(
                        EVENTS_SQL,
                        {
                            "last": n,
                            "first_lead": first,
                            "span": span,
                            "run": run,
                            "event_kinds": [str(k) for k in EVENT_KINDS],
                            "now": now,
                            "source": LOAD_EVENT_SOURCE,
                        },
                    )
                    counts["events"] = cursor.rowcount
            else:
                counts["events"] = 0
                for start in range(1, n + 1, batch_size):
                    rows = [
                        EngagementEvent(
                            **event_plan(i, first_lead=first, leads=span, now=now),
                            source=LOAD_EVENT_SOURCE,
                        )
                        for i in range(start, min(start + batch_size, n + 1))
                    ]
                    EngagementEvent.objects.bulk_create(rows)
                    counts["events"] += len(rows)
        return counts["events"]

    # --- elsewhere: the same rows through batched bulk_create --------------------------------
    def _batched(self, *, n, batch_size, run, reps, campaigns, now) -> dict:
        counts: dict = {}
        prefix = f"{run}-"
        with self._step("leads", counts):
            for start in range(1, n + 1, batch_size):
                Lead.objects.bulk_create(
                    Lead(**lead_plan(i, run=run, reps=reps, campaigns=campaigns, now=now))
                    for i in range(start, min(start + batch_size, n + 1))
                )
            # bulk_create stamps auto_now_add with "now"; the plan's creation time is
            # restored after the history is written (one UPDATE).
            counts["leads"] = n
        run_leads = Lead.objects.filter(email__startswith=prefix)
        with self._step("history", counts):
            counts["history"] = 0
            for chunk in _chunks(
                run_leads.order_by("pk").iterator(chunk_size=batch_size), batch_size
            ):
                rows = []
                for lead in chunk:
                    i = int(lead.email.removeprefix(prefix).split("@")[0])
                    plan = lead_plan(i, run=run, reps=reps, campaigns=campaigns, now=now)
                    lead.created_at = plan["created_at"]
                    rows.extend(_history_rows(lead, reps))
                LeadStageChange.objects.bulk_create(rows)
                counts["history"] += len(rows)
            run_leads.update(
                created_at=Subquery(
                    LeadStageChange.objects.filter(lead=OuterRef("pk"), from_stage="").values(
                        "created_at"
                    )[:1]
                )
            )
        with self._step("handoffs", counts):
            counts["handoffs"] = 0
            for chunk in _chunks(
                run_leads.exclude(kind="").order_by("pk").iterator(chunk_size=batch_size),
                batch_size,
            ):
                rows = [_handoff_row(lead, reps, now) for lead in chunk]
                Handoff.objects.bulk_create(rows)
                counts["handoffs"] += len(rows)
        return counts


def _chunks(iterable, size: int):
    chunk = []
    for item in iterable:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _worker(lead: Lead, reps: list[int]) -> int:
    return lead.owner_id or reps[lead.pk % len(reps)]


def _history_rows(lead: Lead, reps: list[int]) -> list[LeadStageChange]:
    path = _path(lead.stage, lead.kind)
    moments = _moments(lead, len(path))
    return [
        LeadStageChange(
            lead=lead,
            from_stage=path[k - 1] if k else "",
            to_stage=stage,
            actor_id=None if stage in (Stage.NEW, *QUALIFIED) else _worker(lead, reps),
            reason_code=_reason(lead.pk, stage),
            details={},
            created_at=moments[k],
            stage_entered_at=moments[k - 1] if k else None,
        )
        for k, stage in enumerate(path)
    ]


def _handoff_row(lead: Lead, reps: list[int], now: datetime) -> Handoff:
    path = _path(lead.stage, lead.kind)
    moments = _moments(lead, len(path))
    handed = moments[1]
    accepted = moments[2] if len(path) > 2 and path[2] == Stage.SAL else None
    closed = lead.stage not in OPEN_STAGES
    if lead.stage in QUALIFIED:
        status = Handoff.Status.ASSIGNED if lead.owner_id else Handoff.Status.POOL
    elif not closed:
        status = Handoff.Status.ACCEPTED
    else:
        status = Handoff.Status.RETURNED if lead.stage == Stage.RECYCLED else Handoff.Status.CLOSED
    owner = None if status == Handoff.Status.POOL else _worker(lead, reps)
    due_minutes = _due_hours(lead.kind, lead.temperature) * 60
    limit = lead.stage_changed_at if closed else now
    first_touch = None
    if accepted is not None:
        first_touch = min(
            handed + timedelta(minutes=_first_touch_offset(lead.pk, due_minutes)), limit
        )
    return Handoff(
        lead=lead,
        kind=lead.kind,
        status=status,
        owner_id=owner,
        context=_context(lead),
        created_at=handed,
        assigned_at=handed if owner else None,
        accepted_at=accepted,
        first_touch_due_at=handed + timedelta(minutes=due_minutes),
        first_touch_at=first_touch,
        closed_at=lead.stage_changed_at if closed else None,
        return_reason=_reason(lead.pk, Stage.RECYCLED) if lead.stage == Stage.RECYCLED else "",
    )


def _context(lead: Lead) -> dict:
    # The shape of leads.services.handoff_context_build, without the campaign lookup.
    return {
        "fit": {
            "title": lead.title,
            "company": lead.company,
            "company_size": lead.company_size,
            "industry": lead.industry,
            "country": lead.country,
            "source_channel": lead.source_channel,
        },
        "score": lead.score,
        "temperature": lead.temperature,
        "score_explanation": [],
        "engagement": [],
        "campaign": None,
    }


# --- the SQL (PostgreSQL) ---------------------------------------------------------------------
def _literal(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _case(expr: str, bounds: list) -> str:
    whens = " ".join(f"WHEN {expr} < {bound} THEN {_literal(item)}" for bound, item in bounds)
    return f"CASE {whens} END"


def _path_sql(stage: str, kind: str) -> str:
    """The lead's path as a text[]: mirrors ``_path``."""
    whens = []
    for final, steps in PATHS.items():
        items = ", ".join(kind if step == "kind" else _literal(step) for step in steps)
        if final == Stage.DISQUALIFIED:
            direct = ", ".join(_literal(step) for step in DIRECT_DISQUALIFY)
            whens.append(
                f"WHEN {_literal(final)} THEN CASE WHEN {kind} = '' "
                f"THEN ARRAY[{direct}]::text[] ELSE ARRAY[{items}]::text[] END"
            )
        else:
            whens.append(f"WHEN {_literal(final)} THEN ARRAY[{items}]::text[]")
    return f"(CASE {stage} {' '.join(whens)} END)"


def _in(values) -> str:
    return "(" + ", ".join(_literal(v) for v in values) + ")"


def _due_hours_sql(kind: str, temperature: str) -> str:
    hours = settings.SMARKETING["FIRST_TOUCH_HOURS"]
    whens = [f"WHEN {kind} = 'mql' AND {temperature} = 'hot' THEN {hours['mql_hot']}"]
    whens += [f"WHEN {kind} = {_literal(k)} THEN {hours.get(k, hours['mql'])}" for k in QUALIFIED]
    return f"(CASE {' '.join(whens)} ELSE {hours['mql']} END)"


def _reason_sql(lead_id: str, stage: str) -> str:
    return (
        f"(CASE {stage} "
        f"WHEN 'recycled' THEN (%(reasons_recycled)s::text[])"
        f"[1 + mod({lead_id}, cardinality(%(reasons_recycled)s::text[]))] "
        f"WHEN 'lost' THEN (%(reasons_lost)s::text[])"
        f"[1 + mod({lead_id}, cardinality(%(reasons_lost)s::text[]))] "
        f"WHEN 'disqualified' THEN (%(reasons_disqualified)s::text[])"
        f"[1 + mod({lead_id}, cardinality(%(reasons_disqualified)s::text[]))] "
        f"ELSE '' END)"
    )


def _pick_sql(array: str, cast: str, salt: int) -> str:
    typed = f"(%({array})s::{cast}[])"
    return f"{typed}[1 + mod({_mix_sql('g.i', salt)}, cardinality({typed}))]"


_QUALIFIED_IN = _in(QUALIFIED)
# Per lead: its draws (p), then stage, kind and owner (q), then times and score (r).
LEADS_SQL = f"""
WITH p AS (
    SELECT g.i,
        {_case(f"mod({_mix_sql('g.i', 1)}, 1000)", CLASSES)} AS grp,
        {_case(f"mod({_mix_sql('g.i', 3)}, 100)", KINDS)} AS kind0,
        {_case(f"mod({_mix_sql('g.i', 2)}, 100)", OWNED_STAGES)} AS owned_stage,
        {_pick_sql("reps", "bigint", 4)} AS rep,
        mod({_mix_sql("g.i", 17)}, 2) = 1 AS direct_dq,
        {_mix_sql("g.i", 5)} AS score_draw,
        {_mix_sql("g.i", 15)} AS age_draw,
        mod({_mix_sql("g.i", 16)}, {MINUTES_LIFETIME}) AS life_minutes,
        {_pick_sql("first_names", "text", 11)} AS first_name,
        {_pick_sql("last_names", "text", 12)} AS last_name,
        {_pick_sql("titles", "text", 10)} AS title,
        {_pick_sql("company_words", "text", 13)} || ' '
            || {_pick_sql("company_suffixes", "text", 18)} AS company,
        {_pick_sql("sizes", "int", 8)} AS company_size,
        {_pick_sql("industries", "text", 7)} AS industry,
        {_pick_sql("countries", "text", 6)} AS country,
        {_pick_sql("channels", "text", 9)} AS source_channel,
        {_pick_sql("campaigns", "bigint", 14)} AS source_campaign_id,
        5000 + mod({_mix_sql("g.i", 19)}, 200) * 500 AS amount
    FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g(i)
), q AS (
    SELECT p.*,
        CASE grp WHEN 'pool' THEN kind0 WHEN 'owned' THEN COALESCE(NULLIF(owned_stage, ''), kind0)
            ELSE grp END AS stage,
        CASE WHEN grp = 'new' OR (grp = 'disqualified' AND direct_dq) THEN '' ELSE kind0 END
            AS kind,
        CASE WHEN grp = 'owned' OR grp IN ('won', 'lost')
            OR (grp = 'disqualified' AND NOT direct_dq) THEN rep END AS owner_id
    FROM p
), r AS (
    SELECT q.*,
        CASE WHEN stage = 'new' THEN mod(score_draw, 45)
            WHEN stage = 'recycled' THEN 20 + mod(score_draw, 61)
            ELSE 45 + mod(score_draw, 56) END AS score,
        %(now)s::timestamptz - make_interval(mins => mod(age_draw,
            CASE WHEN stage IN {_QUALIFIED_IN} THEN {MINUTES_OPEN_QUALIFIED}
                WHEN stage IN {_in(ACCEPTED_STAGES)} THEN {MINUTES_ACCEPTED}
                ELSE {MINUTES_HISTORY} END)::int) AS changed,
        cardinality({_path_sql("stage", "kind")}) AS steps
    FROM q
)
INSERT INTO leads_lead (
    first_name, last_name, email, phone, title, company, company_size, industry, country,
    source_channel, source_campaign_id, stage, kind, owner_id, score, temperature,
    stage_changed_at, bant_budget, bant_authority, bant_need, bant_timeline, deal_amount,
    closed_at, created_at, updated_at
)
SELECT first_name, last_name, %(run)s || '-' || i || '@' || %(domain)s, '', title, company,
    company_size, industry, country, source_channel, source_campaign_id, stage, kind,
    owner_id, score,
    CASE WHEN score >= 75 THEN 'hot' WHEN score >= 45 THEN 'warm' ELSE 'cold' END,
    changed,
    CASE WHEN stage IN ('sql', 'opportunity', 'won', 'lost') THEN %(budget)s ELSE '' END,
    CASE WHEN stage IN ('sql', 'opportunity', 'won', 'lost') THEN %(authority)s ELSE '' END,
    CASE WHEN stage IN ('sql', 'opportunity', 'won', 'lost') THEN %(need)s ELSE '' END,
    CASE WHEN stage IN ('sql', 'opportunity', 'won', 'lost') THEN %(timeline)s ELSE '' END,
    CASE WHEN stage IN ('opportunity', 'won', 'lost') THEN amount END,
    CASE WHEN stage IN {_in(CLOSED_STAGES)} THEN changed END,
    changed - make_interval(mins => ((steps - 1) * 60 + life_minutes)::int),
    %(now)s::timestamptz
FROM r
ORDER BY i
"""  # noqa: S608 (only constants are formatted in; values are parameters)

# The moments of a lead's path: created, then evenly spaced up to the last change (_moments).
_RUN_LEADS = f"""
    SELECT l.*, {_path_sql("l.stage", "l.kind")} AS path,
        LEAST((l.stage_changed_at - l.created_at) / GREATEST(cardinality(
            {_path_sql("l.stage", "l.kind")}), 1), interval '{MAX_STEP.days} days') AS gap,
        COALESCE(l.owner_id, (%(reps)s::bigint[])[1 + mod(l.id, cardinality(%(reps)s::bigint[]))])
            AS worker
    FROM leads_lead l
    WHERE l.id > %(after_id)s AND l.email LIKE %(run)s || '-%%'
"""  # noqa: S608

HISTORY_SQL = f"""
INSERT INTO leads_leadstagechange (
    lead_id, from_stage, to_stage, actor_id, reason_code, note, details, created_at,
    stage_entered_at
)
SELECT l.id, COALESCE(l.path[k - 1], ''), l.path[k],
    CASE WHEN l.path[k] IN ('new', {", ".join(_literal(s) for s in QUALIFIED)}) THEN NULL
        ELSE l.worker END,
    {_reason_sql("l.id", "l.path[k]")}, '', '{{}}'::jsonb,
    CASE WHEN k = 1 THEN l.created_at
        ELSE l.stage_changed_at - (cardinality(l.path) - k) * l.gap END,
    -- when the previous row's stage began: that row's own time
    CASE WHEN k = 1 THEN NULL WHEN k = 2 THEN l.created_at
        ELSE l.stage_changed_at - (cardinality(l.path) - k + 1) * l.gap END
FROM ({_RUN_LEADS}) l
CROSS JOIN LATERAL generate_subscripts(l.path, 1) AS k
ORDER BY l.id, k
"""  # noqa: S608

HANDOFFS_SQL = f"""
INSERT INTO leads_handoff (
    lead_id, kind, status, owner_id, territory_id, context, created_at, assigned_at,
    accepted_at, first_touch_due_at, first_touch_at, closed_at, return_reason
)
SELECT h.id, h.kind, h.status,
    CASE WHEN h.status = 'pool' THEN NULL ELSE h.worker END,
    NULL,
    jsonb_build_object(
        'fit', jsonb_build_object('title', h.title, 'company', h.company,
            'company_size', h.company_size, 'industry', h.industry, 'country', h.country,
            'source_channel', h.source_channel),
        'score', h.score, 'temperature', h.temperature, 'score_explanation', '[]'::jsonb,
        'engagement', '[]'::jsonb, 'campaign', NULL),
    h.handed,
    CASE WHEN h.status = 'pool' THEN NULL ELSE h.handed END,
    h.accepted,
    h.handed + make_interval(mins => h.due_minutes),
    CASE WHEN h.accepted IS NOT NULL THEN LEAST(
        h.handed + make_interval(mins => (h.due_minutes::bigint * CASE
            WHEN mod(h.id * 7919, 100) < 70 THEN 10 + mod(h.id * 7919, 100)
            ELSE 120 + (mod(h.id * 7919, 100) - 70) * 6 END / 100)::int),
        CASE WHEN h.closed THEN h.stage_changed_at ELSE %(now)s::timestamptz END) END,
    CASE WHEN h.closed THEN h.stage_changed_at END,
    CASE WHEN h.stage = 'recycled' THEN {_reason_sql("h.id", "h.stage")} ELSE '' END
FROM (
    SELECT l.*,
        l.stage_changed_at - (cardinality(l.path) - 2) * l.gap AS handed,
        CASE WHEN l.path[3] = 'sal'
            THEN l.stage_changed_at - (cardinality(l.path) - 3) * l.gap END AS accepted,
        l.stage NOT IN {_in(OPEN_STAGES)} AS closed,
        CASE WHEN l.stage IN {_QUALIFIED_IN}
                THEN CASE WHEN l.owner_id IS NULL THEN 'pool' ELSE 'assigned' END
            WHEN l.stage IN {_in(ACCEPTED_STAGES)} THEN 'accepted'
            WHEN l.stage = 'recycled' THEN 'returned'
            ELSE 'closed' END AS status,
        {_due_hours_sql("l.kind", "l.temperature")} * 60 AS due_minutes
    FROM ({_RUN_LEADS}) l
    WHERE l.kind <> ''
) h
ORDER BY h.id
"""  # noqa: S608

# The run's leads have consecutive ids (one INSERT … ORDER BY i); an event's lead is drawn from
# that range (``event_plan``) and kept only if it is one of the run's leads.
EVENTS_SQL = f"""
INSERT INTO leads_engagementevent (
    lead_id, kind, occurred_at, campaign_id, url, metadata, source, external_id, created_at
)
SELECT l.id, e.kind, e.occurred_at, NULL, '', '{{}}'::jsonb, %(source)s, '', %(now)s::timestamptz
FROM (
    SELECT g.i,
        %(first_lead)s::bigint + mod({_mix_sql("g.i", 21)}, %(span)s::bigint) AS lead_id,
        (%(event_kinds)s::text[])[1 + mod({_mix_sql("g.i", 22)},
            cardinality(%(event_kinds)s::text[]))] AS kind,
        %(now)s::timestamptz
            - make_interval(secs => mod({_mix_sql("g.i", 23)}, {EVENT_MAX_AGE_SECONDS})::int)
            AS occurred_at
    FROM generate_series(1, %(last)s::bigint) AS g(i)
) e
JOIN leads_lead l ON l.id = e.lead_id AND l.email LIKE %(run)s || '-%%'
ORDER BY e.lead_id, e.i
"""  # noqa: S608 (only constants are formatted in; values are parameters)
