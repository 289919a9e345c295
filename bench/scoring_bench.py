"""Scoring benchmark on PostgreSQL: a full rescore against the plain single-statement floor,
and one lead's rescore after an event.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/smarketing_score_bench \\
        .venv/bin/python manage.py generate_load --leads 1000000 --events 10000000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/smarketing_score_bench \\
        .venv/bin/python bench/scoring_bench.py

Prints figures (a measurement, not a test), all in one run on one machine:

(a) the floor: one hand-written ``UPDATE leads_lead … FROM (SELECT … GROUP BY)`` computing the
    same scores and temperatures for every lead (the same formula, no explanation, no
    batching, every row written), committed; its scores are kept to check the engine's;
(b) the full rescore after a rules change (``scores_refresh_all`` with a new version): batches
    of lead-id ranges shared by two connections (each batch computed into a temporary table,
    then written, then committed), explanations built in SQL, every row written because the
    version changed; then the ratio to the floor, the time the batches spent computing and
    writing (summed over both connections), and the number of leads whose score differs from
    the floor's (expected 0). The rules are the floor's, so scores stay as the floor wrote
    them; what changes is the version, the explanation (written for the first time: the
    generated leads have none) and the needs-rescore flag (every generated lead has it set);
(c) the same full rescore again with nothing changed (the hourly sweep's case): rows written;
(d) one lead's rescore after an event: an event is stored and its lead flagged, then
    ``scores_refresh_pending(lead_ids=[id])`` is timed; p50/p95/p99 over ``--singles`` leads;
(e) (skip with ``--no-moving``) a rules change that moves nearly every score (one more point
    for every email address), so every write also moves the lead in the score index;
(f) (skip with ``--visible 0``) event to visible score with a real Celery worker: a
    ``celery worker`` process on Redis (``REDIS_URL``, default ``redis://127.0.0.1:6379/0``)
    consumes a queue of its own; ``--visible`` events are stored one at a time through
    ``events_ingest`` for random leads, and each is timed from the call until its lead's new
    score is committed (the flag cleared); p50/p95/max.

Hand-offs are off in (b) and (c) (``hand_off=False``): with a new rule set thousands of new
leads would cross the MQL threshold at once, and each hand-off is a ``lead_transition`` of its
own, bounded by the number of crossers; it is not part of the scoring cost measured here.
Between steps the leads table is vacuumed, so each step starts without the previous one's
dead rows.
"""

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smarketing.settings")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("LOG_LEVEL", "WARNING")
# Step (f) sends the rescore through Redis to a real worker.
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")

import django  # noqa: E402

django.setup()

from _stats import percentile  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Max, Min  # noqa: E402
from django.utils import timezone  # noqa: E402

from leads.models import (  # noqa: E402
    EngagementEvent,
    EngagementRule,
    FitRule,
    Lead,
    ScoringModel,
)
from leads.scoring_demo import FIT_RULES, THRESHOLDS  # noqa: E402
from leads.scoring_services import (  # noqa: E402
    EventIn,
    events_ingest,
    scores_refresh_all,
    scores_refresh_pending,
)
from smarketing.celery import app  # noqa: E402

TARGET_FULL_S = 45
TARGET_RATIO = 2.0
TARGET_SINGLE_P95_MS = 10
TARGET_VISIBLE_P95_S = 5

# The benchmark's rule set: the demo's fit rules and thresholds, its engagement rules plus
# email opens, on generate_load's attributes.
FIT = FIT_RULES
ENGAGEMENT = [
    ("page_view", 1, 7, 10),
    ("email_open", 1, 7, 5),
    ("email_click", 3, 14, 12),
    ("pricing_view", 10, 14, 30),
    ("content_download", 8, 30, 24),
    ("webinar_attended", 12, 45, 24),
    ("form_submit", 10, 30, 20),
    ("demo_request", 30, 30, 30),
    ("trial_signup", 25, 30, 25),
    ("chat_conversation", 15, 14, 15),
]
# Step (e): every lead with an email (all of them) gets one more point, so nearly every score
# moves (all but those held at 0): the writes touch the score index, so no update is HOT.
MOVING_FIT = [*FIT, ("email", "contains", "@", 1)]

# The floor: the same formula written by hand as one statement.
FLOOR_SQL = """
UPDATE leads_lead l
SET score = s.score,
    temperature = CASE WHEN s.score >= %(hot)s THEN 'hot'
        WHEN s.score >= %(warm)s THEN 'warm' ELSE 'cold' END
FROM (
    SELECT l.id, LEAST(GREATEST(
        (CASE WHEN lower(l.title) IN ('cmo', 'cro', 'ceo') THEN 20 ELSE 0 END)
        + (CASE WHEN strpos(lower(l.title), 'vp') > 0 THEN 15 ELSE 0 END)
        + (CASE WHEN strpos(lower(l.title), 'head of') > 0 THEN 12 ELSE 0 END)
        + (CASE WHEN strpos(lower(l.title), 'director') > 0 THEN 10 ELSE 0 END)
        + (CASE WHEN strpos(lower(l.title), 'coordinator') > 0 THEN -5 ELSE 0 END)
        + (CASE WHEN l.company_size >= 200 THEN 10 ELSE 0 END)
        + (CASE WHEN l.company_size <= 20 THEN -10 ELSE 0 END)
        + (CASE WHEN lower(l.industry) IN ('software', 'financial services') THEN 8 ELSE 0 END)
        + (CASE WHEN lower(l.country) IN ('us', 'ca', 'gb', 'de') THEN 5 ELSE 0 END)
        + (CASE WHEN strpos(lower(l.email), '@gmail.') > 0 THEN -15 ELSE 0 END)
        + COALESCE(e.points, 0) + l.score_manual_adjustment, 0), 1000) AS score
    FROM leads_lead l
    LEFT JOIN (
        SELECT k.lead_id, SUM(k.points) AS points FROM (
            SELECT e.lead_id,
                FLOOR(LEAST(r.cap, SUM(r.points * power(0.5::float8,
                    GREATEST(%(now)s - date_part('epoch', e.occurred_at), 0) / r.hls)))
                    + 0.5)::int AS points
            FROM leads_engagementevent e
            JOIN (VALUES {rules}) AS r(kind, points, hls, cap) ON r.kind = e.kind
            GROUP BY e.lead_id, r.kind, r.cap
        ) k GROUP BY k.lead_id
    ) e ON e.lead_id = l.id
) s
WHERE l.id = s.id
"""


def vacuum(*tables: str) -> None:
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"VACUUM (ANALYZE) {table}")


def phases(report) -> str:
    return (
        f"summed over the connections: computing {report.compute_seconds:.1f} s, "
        f"writing {report.write_seconds:.1f} s"
    )


def version_create(note: str, *, fit=FIT) -> ScoringModel:
    with transaction.atomic():
        number = (
            ScoringModel.objects.order_by("-number").values_list("number", flat=True).first() or 0
        ) + 1
        ScoringModel.objects.filter(is_active=True).update(is_active=False)
        version = ScoringModel.objects.create(
            number=number, created_at=timezone.now(), note=note, is_active=True, **THRESHOLDS
        )
        FitRule.objects.bulk_create(
            FitRule(version=version, position=i, field=f, operator=o, value=v, points=p)
            for i, (f, o, v, p) in enumerate(fit)
        )
        EngagementRule.objects.bulk_create(
            EngagementRule(version=version, kind=k, points=p, half_life_days=h, cap=c)
            for k, p, h, c in ENGAGEMENT
        )
    return version


def floor(now) -> float:
    rules = ", ".join(f"('{k}', {p}, {86400.0 * h}::float8, {c})" for k, p, h, c in ENGAGEMENT)
    sql = FLOOR_SQL.format(rules=rules)
    started = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(
            sql,
            {
                "now": now.timestamp(),
                "warm": THRESHOLDS["warm_threshold"],
                "hot": THRESHOLDS["hot_threshold"],
            },
        )
        rows = cursor.rowcount
    seconds = time.monotonic() - started
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS scoring_bench_floor")
        cursor.execute(
            "CREATE UNLOGGED TABLE scoring_bench_floor AS SELECT id, score FROM leads_lead"
        )
    print(f"  floor rows written: {rows:,}")
    return seconds


def mismatches() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM leads_lead l JOIN scoring_bench_floor f ON f.id = l.id "
            "WHERE f.score <> l.score"
        )
        return cursor.fetchone()[0]


def singles(count: int) -> list[float]:
    rng = random.Random(7)
    bounds = Lead.objects.order_by("pk").values_list("pk", flat=True)
    lo, hi = bounds.first(), Lead.objects.order_by("-pk").values_list("pk", flat=True).first()
    kinds = [k for k, *_ in ENGAGEMENT]
    timings = []
    for _ in range(count):
        lead_id = rng.randint(lo, hi)
        if not Lead.objects.filter(pk=lead_id).exists():
            continue
        with transaction.atomic():
            EngagementEvent.objects.create(
                lead_id=lead_id,
                kind=rng.choice(kinds),
                occurred_at=timezone.now(),
                source="bench",
            )
            Lead.objects.filter(pk=lead_id).update(needs_rescore=True)
        started = time.perf_counter()
        report = scores_refresh_pending(lead_ids=[lead_id], hand_off=False)
        timings.append(time.perf_counter() - started)
        assert report.leads == 1
    return timings


def worker_start(queue: str, log) -> subprocess.Popen:
    """A real ``celery worker`` on this database and Redis, consuming ``queue`` only."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "smarketing",
            "worker",
            "--pool=solo",
            "-Q",
            queue,
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env={**os.environ, "DATA_DIR": tempfile.mkdtemp(prefix="bench-worker-")},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        log.flush()
        if "ready" in Path(log.name).read_text():
            return proc
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    proc.kill()
    sys.exit(f"the worker did not start: see {log.name}")


def visible(count: int) -> list[float]:
    """Seconds from storing an event to its lead's rescore being committed by the worker."""
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    app.conf.task_always_eager = False
    app.conf.task_default_queue = queue
    rng = random.Random(11)
    lo, hi = Lead.objects.aggregate(lo=Min("pk"), hi=Max("pk")).values()
    timings = []
    with tempfile.NamedTemporaryFile("w", prefix="bench-worker-", suffix=".log") as log:
        proc = worker_start(queue, log)
        try:
            while len(timings) < count:
                lead_id = rng.randint(lo, hi)
                if not Lead.objects.filter(pk=lead_id).exists():
                    continue
                started = time.perf_counter()
                event = EventIn(
                    kind="demo_request",
                    occurred_at=timezone.now(),
                    lead_id=lead_id,
                    source="bench",
                    external_id=uuid.uuid4().hex,
                )
                events_ingest(actor=None, events=[event])
                while Lead.objects.filter(pk=lead_id, needs_rescore=True).exists():
                    if time.perf_counter() - started > 30:
                        sys.exit(
                            f"lead {lead_id} not rescored in 30 s; worker log:\n"
                            + Path(log.name).read_text()
                        )
                    time.sleep(0.002)
                timings.append(time.perf_counter() - started)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--singles", type=int, default=300, help="one-lead rescores to time")
    parser.add_argument(
        "--no-moving",
        dest="moving",
        action="store_false",
        help="skip (e), the rules change that moves every score",
    )
    parser.add_argument(
        "--visible", type=int, default=200, help="events timed to a visible score in (f); 0 skips"
    )
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("The scoring benchmark runs on PostgreSQL: set DATABASE_URL.")
    leads = Lead.objects.count()
    events = EngagementEvent.objects.count()
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM pg_indexes WHERE tablename = 'leads_lead'")
        indexes = cursor.fetchone()[0]
    print(f"Data: {leads:,} leads ({indexes} indexes on leads_lead), {events:,} engagement events")
    if not leads:
        sys.exit("No leads: run generate_load first.")

    vacuum("leads_lead", "leads_engagementevent")
    now = timezone.now()
    print("(a) floor: one hand-written UPDATE for every lead")
    floor_s = floor(now)
    print(f"  floor: {floor_s:.1f} s")

    vacuum("leads_lead")
    version = version_create("bench: a rules change")
    print(f"(b) full rescore after a rules change (version {version.number})")
    report = scores_refresh_all(version_id=version.pk, hand_off=False, now=now)
    print(
        f"  full rescore: {report.seconds:.1f} s, {report.changed:,} rows written; "
        f"ratio to the floor {report.seconds / floor_s:.2f} "
        f"(targets: < {TARGET_FULL_S} s, ≤ {TARGET_RATIO}× the floor)"
    )
    print(f"  {phases(report)}")
    print(f"  leads whose score differs from the floor's: {mismatches():,}")

    vacuum("leads_lead")
    print("(c) the same full rescore with nothing changed (the sweep's case)")
    again = scores_refresh_all(hand_off=False, now=now)
    print(f"  {again.seconds:.1f} s, {again.changed:,} rows written; {phases(again)}")

    print(f"(d) one lead's rescore after an event, {args.singles} leads")
    timings = singles(args.singles)
    p50, p95, p99 = (percentile(timings, q) * 1000 for q in (0.5, 0.95, 0.99))
    print(
        f"  p50 {p50:.2f} ms, p95 {p95:.2f} ms, p99 {p99:.2f} ms, "
        f"mean {statistics.mean(timings) * 1000:.2f} ms (target p95 < {TARGET_SINGLE_P95_MS} ms)"
    )
    if args.moving:
        vacuum("leads_lead")
        version = version_create("bench: a change that moves every score", fit=MOVING_FIT)
        print(f"(e) a rules change that moves nearly every score (version {version.number})")
        moved = scores_refresh_all(version_id=version.pk, hand_off=False, now=now)
        print(
            f"  full rescore: {moved.seconds:.1f} s, {moved.changed:,} rows written; "
            f"{phases(moved)}"
        )

    if args.visible > 0:
        print(f"(f) event to visible score with a real worker, {args.visible} events")
        seen = visible(args.visible)
        p50, p95 = (percentile(seen, q) * 1000 for q in (0.5, 0.95))
        print(
            f"  p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {max(seen) * 1000:.0f} ms "
            f"(target p95 < {TARGET_VISIBLE_P95_S} s)"
        )

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS scoring_bench_floor")


if __name__ == "__main__":
    main()
