"""Queue benchmarks at scale: the rep's queue page, concurrent claims, the pool query's plan.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/smarketing_bench \\
        .venv/bin/python bench/queue_bench.py --leads 1000000

Sets Django up itself, tops the database up with ``generate_load`` when it holds fewer leads
than asked, then prints figures (it is a measurement, not a test):

(a) queue page server time, p50/p95 over ``--requests`` GETs per tab through Django's test
    client, logged in as the rep with the most open leads; and the ``queue_handoffs``
    selector alone, per scope;
(b) claims per second with ``--threads`` claimers calling ``queue_claim_next`` until
    ``--claims`` leads are claimed, checking that no lead was claimed twice; the claimed
    leads are put back in the pool afterwards so runs can be repeated;
(c) the pool's top-25 query and the claim query as bare SQL with EXPLAIN ANALYZE, checking
    that the pool query walks the partial index ``handoff_pool_idx``.
"""

import argparse
import multiprocessing
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smarketing.settings")
# Plain HTTP through the test client, no DEBUG query log, no static manifest needed.
os.environ.setdefault("HTTPS", "0")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("STATIC_MANIFEST", "false")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from _stats import timings  # noqa: E402
from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, connections, transaction  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from core.roles import Role, is_rep  # noqa: E402
from leads.models import Handoff, Lead, LeadAssignment  # noqa: E402
from leads.selectors import queue_handoffs  # noqa: E402
from leads.services import queue_claim_next  # noqa: E402

TARGET_PAGE_P95_MS = 50
TARGET_CLAIMS_PER_S = 300


def timed(fn, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


# --- setup --------------------------------------------------------------------------------
def ensure_load(leads: int, vacuum: bool) -> None:
    have = Lead.objects.count()
    print(f"Database: {connection.vendor} {connection.settings_dict['NAME']}, {have:,} leads")
    if have < leads:
        print(f"Generating {leads - have:,} leads…")
        started = time.monotonic()
        call_command("generate_load", leads=leads - have)
        print(f"  generate_load took {time.monotonic() - started:.1f}s")
    if vacuum and connection.vendor == "postgresql":
        # Steady state, as autovacuum would leave it: visibility map and statistics fresh.
        started = time.monotonic()
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE) leads_handoff")
            cursor.execute("VACUUM (ANALYZE) leads_lead")
        print(f"  VACUUM ANALYZE took {time.monotonic() - started:.1f}s")
    pool = Handoff.objects.filter(status=Handoff.Status.POOL).count()
    open_owned = Handoff.objects.filter(closed_at__isnull=True, owner__isnull=False).count()
    print(
        f"  handoffs: {Handoff.objects.count():,} ({pool:,} in the pool, "
        f"{open_owned:,} open and owned)"
    )


def busiest_rep() -> User:
    row = (
        Handoff.objects.filter(closed_at__isnull=True, owner__groups__name=Role.REP.value)
        .values("owner")
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()
    )
    if row is None:
        raise SystemExit("No rep owns an open lead: run generate_load first.")
    rep = User.objects.get(pk=row["owner"])
    print(f"  measuring as {rep.username} ({row['n']:,} open leads in 'mine')")
    return rep


# --- (a) the queue page and its selector ----------------------------------------------------
def bench_page(rep: User, requests: int) -> dict:
    print(f"\n(a) Queue page /leads/queue/ as {rep.username}, {requests} GETs per tab")
    client = Client()
    client.force_login(rep)
    results = {}
    placeholder = False
    for tab in ("mine", "pool"):
        url = f"/leads/queue/?tab={tab}"
        try:
            first = client.get(url)
        except Exception as error:  # the page is someone's work in progress: say so, go on
            print(f"  GET {url} failed: {type(error).__name__}: {error}")
            results[f"page_{tab}"] = None
            continue
        if first.status_code != 200:
            print(f"  GET {url} answered {first.status_code}")
            results[f"page_{tab}"] = None
            continue
        placeholder = placeholder or b"coming-soon" in first.content
        for _ in range(4):  # warm caches and the connection
            client.get(url)
        results[f"page_{tab}"] = timings(
            f"page ?tab={tab}", timed(lambda u=url: client.get(u), requests)
        )
    if placeholder:
        print("  NOTE: the queue page is still the 'coming soon' placeholder; see the selector.")
    results["placeholder"] = placeholder
    print(f"  queue_handoffs selector, {requests} calls per scope")
    for scope in ("mine", "pool"):
        samples = timed(lambda s=scope: queue_handoffs(rep=rep, scope=s), requests)
        results[f"selector_{scope}"] = timings(f"queue_handoffs(scope={scope!r})", samples)
        _rows, cursor = queue_handoffs(rep=rep, scope=scope)
        if cursor:
            samples = timed(
                lambda s=scope, c=cursor: queue_handoffs(rep=rep, scope=s, after=c), requests
            )
            results[f"selector_{scope}_page2"] = timings("  … page 2 (keyset cursor)", samples)
    return results


# --- (b) concurrent claims ------------------------------------------------------------------
def claimers(n: int) -> list[User]:
    group = Group.objects.get(name=Role.REP.value)
    reps = []
    for i in range(1, n + 1):
        user, created = User.objects.get_or_create(username=f"bench-claimer{i}")
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        user.groups.add(group)
        reps.append(user)
    return reps


def bench_claims(threads: int, claims: int, async_commit: bool = False) -> dict:
    pool = Handoff.objects.filter(status=Handoff.Status.POOL).count()
    claims = min(claims, pool)
    mode = ", synchronous_commit=off" if async_commit else ""
    print(f"\n(b) {claims:,} claims by {threads} concurrent claimers (pool of {pool:,}){mode}")
    reps = claimers(threads)
    lock = threading.Lock()
    remaining = [claims]
    got: list[list[tuple[int, int, float]]] = [[] for _ in reps]
    errors: list[BaseException] = []
    start = threading.Barrier(threads + 1)

    def claimer(index: int, rep: User) -> None:
        try:
            is_rep(rep)  # connect and read the roles before the clock starts
            if async_commit:
                with connection.cursor() as cursor:
                    cursor.execute("SET synchronous_commit = off")
            start.wait()
            while True:
                with lock:
                    if remaining[0] <= 0:
                        return
                    remaining[0] -= 1
                began = time.perf_counter()
                lead = queue_claim_next(rep=rep)
                elapsed = (time.perf_counter() - began) * 1000
                if lead is None:
                    return
                got[index].append((lead.pk, rep.pk, elapsed))
        except BaseException as error:  # reported after the run
            errors.append(error)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=claimer, args=(i, rep)) for i, rep in enumerate(reps)]
    for worker in workers:
        worker.start()
    start.wait()
    began = time.perf_counter()
    for worker in workers:
        worker.join()
    wall = time.perf_counter() - began
    if errors:
        raise errors[0]

    return _claims_report(got, reps, wall)


def _claims_report(got: list[list[tuple[int, int, float]]], reps: list[User], wall: float):
    rows = [row for batch in got for row in batch]
    lead_ids = [lead_id for lead_id, _, _ in rows]
    claimed_by = {lead_id: rep_id for lead_id, rep_id, _ in rows}
    rate = len(rows) / wall
    print(f"  {len(rows):,} claims in {wall:.2f}s = {rate:,.0f} claims/s")
    timings("one claim (latency)", [ms for *_, ms in rows])
    print(f"  per claimer: {', '.join(str(len(batch)) for batch in got)}")

    # Zero double claims: in what the claimers got, and in what the database says.
    doubles = len(lead_ids) - len(set(lead_ids))
    handoffs = dict(
        Handoff.objects.filter(lead_id__in=lead_ids, closed_at__isnull=True).values_list(
            "lead_id", "owner_id"
        )
    )
    wrong_owner = sum(
        1 for lead_id, rep_id in claimed_by.items() if handoffs.get(lead_id) != rep_id
    )
    assignments = (
        LeadAssignment.objects.filter(to_owner__in=reps, reason=LeadAssignment.Reason.CLAIMED)
        .values("lead_id")
        .annotate(n=Count("id"))
    )
    assigned_twice = sum(1 for row in assignments if row["n"] > 1)
    print(
        f"  double claims: {doubles}; owner mismatches: {wrong_owner}; "
        f"leads with two claim rows: {assigned_twice}"
    )
    assert doubles == 0 and wrong_owner == 0 and assigned_twice == 0, "double claim detected"

    restore_pool(reps)
    return {"claims": len(rows), "seconds": wall, "per_second": rate, "double_claims": doubles}


def _claim_process(rep_id: int, remaining, results, start) -> None:
    """One claimer process (like one gunicorn worker): claims until the shared budget is spent."""
    connections.close_all()  # never share the parent's socket
    rep = User.objects.get(pk=rep_id)
    is_rep(rep)  # connect and read the roles before the clock starts
    start.wait(timeout=120)
    got = []
    while True:
        with remaining.get_lock():
            if remaining.value <= 0:
                break
            remaining.value -= 1
        began = time.perf_counter()
        lead = queue_claim_next(rep=rep)
        if lead is None:
            break
        got.append((lead.pk, rep.pk, (time.perf_counter() - began) * 1000))
    connections.close_all()
    results.put(got)


def bench_claims_processes(processes: int, claims: int) -> dict:
    """The same claims from separate processes: no shared interpreter lock, as in production
    where each gunicorn worker is a process."""
    pool = Handoff.objects.filter(status=Handoff.Status.POOL).count()
    claims = min(claims, pool)
    print(f"\n(b') {claims:,} claims by {processes} claimer processes (pool of {pool:,})")
    reps = claimers(processes)
    connections.close_all()  # the children open their own
    context = multiprocessing.get_context("fork")
    remaining = context.Value("i", claims)
    results = context.Queue()
    start = context.Barrier(processes + 1)
    workers = [
        context.Process(target=_claim_process, args=(rep.pk, remaining, results, start))
        for rep in reps
    ]
    for worker in workers:
        worker.start()
    start.wait(timeout=120)
    began = time.perf_counter()
    got = [results.get(timeout=600) for _ in workers]
    wall = time.perf_counter() - began
    for worker in workers:
        worker.join()
    return _claims_report(got, reps, wall)


@transaction.atomic
def restore_pool(reps: list[User]) -> None:
    """Put what the bench claimed back in the pool and drop its assignment rows."""
    claimed = LeadAssignment.objects.filter(to_owner__in=reps)
    lead_ids = list(claimed.values_list("lead_id", flat=True))
    Handoff.objects.filter(lead_id__in=lead_ids, closed_at__isnull=True).update(
        status=Handoff.Status.POOL, owner=None, assigned_at=None
    )
    Lead.objects.filter(pk__in=lead_ids).update(owner=None)
    claimed.delete()
    print(f"  restored {len(lead_ids):,} leads to the pool")


# --- (c) the bare SQL and its plan ----------------------------------------------------------
def captured_sql(fn, marker: str) -> str:
    with CaptureQueriesContext(connection) as queries:
        fn()
    return next(q["sql"] for q in queries.captured_queries if marker in q["sql"])


def explain(label: str, sql: str, *, index: str | None = None, rollback=False) -> dict:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        if rollback:
            transaction.set_rollback(True)
    shown = sql if len(sql) < 400 else "SELECT … " + sql[sql.index(" FROM ") + 1 :]
    print(f"\n  --- {label} ---\n  {shown}\n")
    print("\n".join(f"    {line}" for line in plan.splitlines()))
    execution = float(plan.rsplit("Execution Time: ", 1)[1].split(" ms")[0])
    uses_index = index is None or index in plan
    if index and not uses_index:
        print(f"  WARNING: the plan does not use {index}")
    return {"execution_ms": execution, "uses_index": uses_index, "jit": "JIT:" in plan}


def bench_sql(rep: User, repeat: int, burst: int) -> dict:
    print("\n(c) Bare SQL with EXPLAIN ANALYZE")
    if connection.vendor != "postgresql":
        print("  skipped: EXPLAIN ANALYZE figures are for PostgreSQL")
        return {}
    pool_sql = captured_sql(lambda: queue_handoffs(rep=rep, scope="pool"), '"leads_handoff"')
    mine_sql = captured_sql(lambda: queue_handoffs(rep=rep, scope="mine"), '"leads_handoff"')
    claimer = claimers(1)[0]

    def claim_once():
        with transaction.atomic():
            queue_claim_next(rep=claimer)
            transaction.set_rollback(True)

    claim_sql = captured_sql(claim_once, "SKIP LOCKED")
    results = {
        "pool": explain(
            "pool, top 25 (+1 for the next-page cursor)", pool_sql, index="handoff_pool_idx"
        ),
        "mine": explain("mine, top 25", mine_sql, index="handoff_owner_open_idx"),
        "claim": explain(
            "claim next (locks one row; rolled back)",
            claim_sql,
            index="handoff_pool_idx",
            rollback=True,
        ),
    }
    with connection.cursor() as cursor:
        samples = timed(lambda: (cursor.execute(pool_sql), cursor.fetchall()), repeat)
    results["pool_bare"] = timings("pool query, bare SQL round trip", samples)
    if burst:
        results["burst"] = bench_burst(pool_sql, claim_sql, burst)
    return results


def bench_burst(pool_sql: str, claim_sql: str, size: int) -> dict:
    """Worst case for the plan: a burst of handoffs sharing one due time (a set-based rescore
    qualifying thousands of leads at the same instant). The index orders by due time only,
    so the score order inside the tie must be sorted; measured in a rolled-back transaction."""
    print(f"\n  --- burst: {size:,} pool handoffs with the same due time (rolled back) ---")
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE leads_handoff SET first_touch_due_at = ("
                "  SELECT min(first_touch_due_at) - interval '1 hour' FROM leads_handoff"
                "  WHERE status = 'pool') "
                "WHERE id IN (SELECT id FROM leads_handoff WHERE status = 'pool' "
                "ORDER BY first_touch_due_at DESC LIMIT %s)",
                [size],
            )
        pool = explain("pool, top 25, during the burst", pool_sql, index="handoff_pool_idx")
        claim = explain("claim next, during the burst", claim_sql, index="handoff_pool_idx")
        transaction.set_rollback(True)
    return {"pool_ms": pool["execution_ms"], "claim_ms": claim["execution_ms"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200, help="GETs per tab")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument(
        "--claims", type=int, default=5000, help="leads to claim in (b) and (b'); 0 skips them"
    )
    parser.add_argument(
        "--processes", type=int, default=8, help="claimer processes for (b'); 0 skips it"
    )
    parser.add_argument("--no-vacuum", action="store_true")
    parser.add_argument(
        "--burst", type=int, default=5000, help="pool handoffs sharing one due time (0: skip)"
    )
    parser.add_argument(
        "--async-commit",
        action="store_true",
        help="also measure claims with synchronous_commit=off: how much is the disk's fsync",
    )
    args = parser.parse_args()

    print(f"queue_bench: {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs")
    ensure_load(args.leads, vacuum=not args.no_vacuum)
    rep = busiest_rep()
    page = bench_page(rep, args.requests)
    sql = bench_sql(rep, args.requests, args.burst)
    # No claims means no latencies to take percentiles of: skip (b) and (b') whole.
    run_claims = args.claims > 0
    if not run_claims:
        print("\n(b) claims skipped (--claims 0)")
    claims = bench_claims(args.threads, args.claims) if run_claims else None
    diagnostic = (
        bench_claims(args.threads, args.claims, async_commit=True)
        if run_claims and args.async_commit
        else None
    )
    by_process = (
        bench_claims_processes(args.processes, args.claims)
        if run_claims and args.processes
        else None
    )

    pages = [page["page_mine"], page["page_pool"]]
    worst_page = max(p["p95"] for p in pages) if all(pages) else float("nan")
    verdict = "met" if worst_page < TARGET_PAGE_P95_MS else "MISSED"
    print("\nSummary")
    print(
        f"  queue page p95 (worst tab) {worst_page:.1f} ms "
        f"(target < {TARGET_PAGE_P95_MS} ms: {verdict if all(pages) else 'page not measured'})"
        + ("  [placeholder page]" if page["placeholder"] else "")
    )
    print(
        f"  selector p95: mine {page['selector_mine']['p95']:.1f} ms, "
        f"pool {page['selector_pool']['p95']:.1f} ms"
    )
    if claims:
        print(
            f"  claims {claims['per_second']:,.0f}/s with {args.threads} claimers, "
            f"{claims['double_claims']} double claims "
            f"(target >= {TARGET_CLAIMS_PER_S}/s: "
            f"{'met' if claims['per_second'] >= TARGET_CLAIMS_PER_S else 'MISSED'})"
        )
    if by_process:
        print(
            f"  claims {by_process['per_second']:,.0f}/s with {args.processes} claimer "
            f"processes, {by_process['double_claims']} double claims"
        )
    if diagnostic:
        print(
            f"  claims with synchronous_commit=off (diagnostic): {diagnostic['per_second']:,.0f}/s"
        )
    if sql:
        print(
            f"  pool query EXPLAIN ANALYZE {sql['pool']['execution_ms']:.2f} ms "
            f"(handoff_pool_idx: {'yes' if sql['pool']['uses_index'] else 'NO'}), "
            f"claim query {sql['claim']['execution_ms']:.2f} ms"
        )
        if "burst" in sql:
            print(
                f"  during a burst of one due time: pool query {sql['burst']['pool_ms']:.1f} ms, "
                f"claim query {sql['burst']['claim_ms']:.1f} ms"
            )


if __name__ == "__main__":
    main()
