"""Create the demo world: users in their roles, campaigns, ~200 leads over every stage.

Idempotent: every object is keyed (username, campaign name, lead email), so a second run
finds them all and changes nothing.
"""

import random
import secrets
import string
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Case, DateTimeField, Value, When
from django.utils import timezone
from faker import Faker

from campaigns.models import Campaign, TalkingPoint
from core.roles import Role
from leads.models import Lead, LeadStageChange, SourceChannel, Stage, Temperature

DEMO_USERS = [
    ("manager", "Morgan", "Reyes", Role.MANAGER),
    ("marketer", "Maya", "Lindqvist", Role.MARKETER),
    ("rep1", "Ravi", "Patel", Role.REP),
    ("rep2", "Rosa", "Okafor", Role.REP),
    ("rep3", "Ryan", "Schmidt", Role.REP),
]

DEMO_CAMPAIGNS = [
    # name, channel, start offset (days from today), length (days), cost, points, quote
    (
        "Pipeline Health Webinar",
        Campaign.Channel.WEBINAR,
        -75,
        1,
        "4200.00",
        [
            "Teams lose 30% of MQLs in the handoff; we show where.",
            "One shared funnel ends the 'junk leads' argument.",
            "Live demo: SLA clocks on every lead.",
        ],
        "We cut our lead response time from two days to two hours.",
    ),
    (
        "State of B2B Buying 2026 report",
        Campaign.Channel.CONTENT,
        -45,
        60,
        "8500.00",
        [
            "Buyers finish 70% of research before talking to sales.",
            "Speed to first touch is the biggest lever in conversion.",
        ],
        "The report our CFO actually read end to end.",
    ),
    (
        "SaaS Connect trade show",
        Campaign.Channel.EVENT,
        -20,
        3,
        "22000.00",
        [
            "Booth visitors get a free pipeline audit.",
            "Ask about their current lead routing.",
            "Mention the partner integrations.",
        ],
        "Finally, marketing and sales looking at the same numbers.",
    ),
    (
        "Q4 paid social retargeting",
        Campaign.Channel.PAID_SOCIAL,
        -10,
        45,
        "12000.00",
        [
            "Visitors who saw pricing twice: lead with ROI.",
            "Offer the 14-day trial, not a demo.",
        ],
        "Set up in an afternoon, paid back in a quarter.",
    ),
    (
        "Partner co-marketing: CloudOps",
        Campaign.Channel.PARTNER,
        14,
        30,
        "3000.00",
        [
            "Joint customers get onboarding help from both teams.",
            "Integration ships data both ways in real time.",
        ],
        "The integration we had wished for for years.",
    ),
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
DEMO_LEAD_COUNT = 200


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
    help = "Create demo users, campaigns and leads (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--password", help="Password for every demo user.")

    def handle(self, *args, **options):
        password, generated = demo_password_resolve(options.get("password"))
        with transaction.atomic():
            users = self._users(password)
            campaigns = self._campaigns(users["marketer"])
            created = self._leads(users, campaigns)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo ready: {len(users)} users, {len(campaigns)} campaigns, "
                f"{created} new leads ({Lead.objects.count()} in all)."
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

    def _campaigns(self, owner: User) -> list[Campaign]:
        today = timezone.localdate()
        campaigns = []
        for name, channel, offset, length, cost, points, quote in DEMO_CAMPAIGNS:
            start = today + timedelta(days=offset)
            end = start + timedelta(days=length - 1)
            status = (
                Campaign.Status.DONE
                if end < today
                else Campaign.Status.LIVE
                if start <= today
                else Campaign.Status.PLANNED
            )
            campaign, created = Campaign.objects.get_or_create(
                name=name,
                defaults={
                    "channel": channel,
                    "status": status,
                    "start_date": start,
                    "end_date": end,
                    "cost": cost,
                    "quote": quote,
                    "owner": owner,
                    "audience": "B2B revenue teams, 50-2,000 employees",
                    "offer": f"{name}: free access for qualified teams.",
                    "landing_url": f"https://smarketing.example/{channel}/{start:%Y-%m}",
                },
            )
            if created:
                TalkingPoint.objects.bulk_create(
                    TalkingPoint(campaign=campaign, position=i, text=text)
                    for i, text in enumerate(points, start=1)
                )
            campaigns.append(campaign)
        return campaigns

    def _leads(self, users: dict[str, User], campaigns: list[Campaign]) -> int:
        fake = Faker()
        fake.seed_instance(2026)
        rng = random.Random(2026)
        reps = [users["rep1"], users["rep2"], users["rep3"]]
        existing = set(
            Lead.objects.filter(email__endswith="@demo.smarketing.example").values_list(
                "email", flat=True
            )
        )
        now = timezone.now()
        stages = [s for s, _ in STAGE_WEIGHTS]
        weights = [w for _, w in STAGE_WEIGHTS]
        leads, histories = [], []
        for n in range(DEMO_LEAD_COUNT):
            first, last = fake.first_name(), fake.last_name()
            company = fake.company()
            local = "".join(ch for ch in f"{first}.{last}" if ch.isalnum() or ch == ".").lower()
            email = f"{local}.{n}@demo.smarketing.example"
            final = rng.choices(stages, weights)[0]
            kind = rng.choice([Stage.MQL, Stage.MQL, Stage.MQL, Stage.PQL, Stage.CQL])
            if final in (Stage.PQL, Stage.CQL, Stage.MQL):
                kind = final
            campaign = rng.choice([*campaigns, None])
            created_at = now - timedelta(days=rng.randint(1, 170), hours=rng.randint(0, 23))
            path = _path_to(final, kind)
            score = rng.randint(5, 40) if final == Stage.NEW else rng.randint(45, 98)
            lead = Lead(
                first_name=first,
                last_name=last,
                email=email,
                phone=fake.numerify("+1 (###) ###-####"),
                title=rng.choice(TITLES),
                company=company,
                company_size=rng.choice([12, 45, 120, 350, 800, 2400, 9000]),
                industry=rng.choice(INDUSTRIES),
                country=rng.choice(COUNTRIES),
                source_channel=rng.choice(CHANNELS),
                source_campaign=campaign,
                stage=final,
                kind=kind if len(path) > 1 else "",
                owner=rng.choice(reps) if len(path) > 2 else None,
                score=score,
                temperature=Temperature.HOT
                if score >= 75
                else Temperature.WARM
                if score >= 45
                else Temperature.COLD,
            )
            moments = sorted(
                created_at + timedelta(hours=rng.randint(1, 24 * 20)) for _ in path[1:]
            )
            moments = [m for m in moments if m < now] or [created_at]
            lead.stage_changed_at = moments[-1]
            if email in existing:  # drawn above all the same, so later leads stay identical
                continue
            leads.append((lead, created_at, path, moments))
        Lead.objects.bulk_create([lead for lead, *_ in leads])
        for lead, created_at, path, moments in leads:
            previous = ""
            for step, stage in enumerate(path):
                at = created_at if step == 0 else moments[min(step - 1, len(moments) - 1)]
                reason = ""
                if stage == Stage.RECYCLED:
                    reason = rng.choice(RETURN_REASONS)
                elif stage in (Stage.DISQUALIFIED, Stage.LOST):
                    reason = rng.choice(["no_budget", "competitor", "no_response", "bad_fit"])
                histories.append(
                    LeadStageChange(
                        lead=lead,
                        from_stage=previous,
                        to_stage=stage,
                        reason_code=reason,
                        actor=lead.owner if stage not in (Stage.NEW, *QUALIFIED) else None,
                        created_at=at,
                    )
                )
                previous = stage
        LeadStageChange.objects.bulk_create(histories)
        _backdate(leads)
        return len(leads)


QUALIFIED = (Stage.MQL, Stage.PQL, Stage.CQL)


def _backdate(leads: list) -> None:
    # created_at is auto_now_add: spread the demo's creation dates in one UPDATE.
    if not leads:
        return
    Lead.objects.filter(pk__in=[lead.pk for lead, *_ in leads]).update(
        created_at=Case(
            *[When(pk=lead.pk, then=Value(created_at)) for lead, created_at, *_ in leads],
            output_field=DateTimeField(),
        )
    )
