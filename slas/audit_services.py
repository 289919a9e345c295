"""Writes for the monthly SLA audit: a head signs the month for their side; the month's figures
are stored (AuditRollup) so views read them instead of recomputing them."""

from datetime import datetime

from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core.errors import DomainError, InvalidInput, NotAllowed
from core.roles import is_manager
from slas.audit import AuditMonth, audit_figures
from slas.models import AuditRollup, AuditSignoff

COMMENT_MAX = 2000
SIGNOFF_LOCK = 0x5A0D17  # advisory lock namespace of audit sign-offs (the month is the key)


def _already_signed(signoff: AuditSignoff, month: AuditMonth) -> DomainError:
    signer = signoff.signed_by
    who = (signer.get_full_name() or signer.username) if signer else ""
    when = timezone.localtime(signoff.signed_at)
    return DomainError(
        f"The {signoff.get_side_display().lower()} already signed {month.label}"
        f"{f' ({who})' if who else ''} on {when:%d %b %Y at %H:%M}; a side signs once.",
        code="already_signed",
    )


@transaction.atomic
def audit_signoff_create(
    *,
    month: AuditMonth,
    side: str,
    actor: User,
    comment: str = "",
    now: datetime | None = None,
) -> AuditSignoff:
    """Sign ``month`` for ``side`` (sales or marketing) as ``actor``, a manager.

    The callers may rely on: one sign-off per side and month (a second one raises
    ``DomainError`` with code ``already_signed``, also when two requests race — the unique
    constraint decides); only a finished month is signed; and the sign-off stores the figures
    it signed. The first signature freezes the month: the second side signs the same figures
    (a copy of the first snapshot), so both heads put their names to one set of numbers.
    """
    if not is_manager(actor):
        raise NotAllowed("Only managers sign the monthly SLA audit.")
    if side not in AuditSignoff.Side.values:
        raise InvalidInput("Choose the sales head or the marketing head.", field="side")
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX:
        raise InvalidInput(
            f"Keep the comment under {COMMENT_MAX} characters (it has {len(comment)}).",
            field="comment",
        )
    now = now or timezone.now()
    if not month.is_over(timezone.localdate(now)):
        raise DomainError(
            f"{month.label} is not over yet: it can be signed from "
            f"{month.shift(1).first:%d %B %Y}.",
            code="month_not_over",
        )
    # One signer of a month at a time: the second waits, then copies the first's snapshot
    # instead of computing its own (SQLite serialises writing transactions anyway).
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)",
                [SIGNOFF_LOCK, month.first.year * 12 + month.first.month],
            )
    signed = list(
        AuditSignoff.objects.select_for_update(of=("self",))
        .filter(month=month.first)
        .select_related("signed_by")
        .order_by("signed_at", "pk")
    )
    for signoff in signed:
        if signoff.side == side:
            raise _already_signed(signoff, month)
    # The first signature takes the figures computed now (and stores them as the month's live
    # figures too); the second copies the first snapshot.
    figures = signed[0].figures if signed else audit_rollup_refresh(month=month, now=now).figures
    try:
        with transaction.atomic():
            return AuditSignoff.objects.create(
                month=month.first,
                side=side,
                signed_by=actor,
                signed_at=now,
                comment=comment,
                figures=figures,
            )
    except IntegrityError:
        raced = AuditSignoff.objects.select_related("signed_by").get(month=month.first, side=side)
        raise _already_signed(raced, month) from None


def audit_rollup_refresh(*, month: AuditMonth, now: datetime | None = None) -> AuditRollup:
    """Compute the month's figures now and store them (one upsert: concurrent refreshes of
    the same month leave the row of whichever wrote last, both equally fresh)."""
    now = now or timezone.now()
    figures = audit_figures(month=month, now=now)
    AuditRollup.objects.bulk_create(
        [AuditRollup(month=month.first, figures=figures, computed_at=now)],
        update_conflicts=True,
        unique_fields=["month"],
        update_fields=["figures", "computed_at"],
    )
    return AuditRollup(month=month.first, figures=figures, computed_at=now)


def audit_rollups_refresh_recent(*, now: datetime | None = None) -> list[str]:
    """The refresh job: last month (the one being audited and signed) and this month, the
    months whose figures still move. Earlier months are recomputed when someone opens them."""
    now = now or timezone.now()
    this_month = AuditMonth(timezone.localdate(now).replace(day=1))
    months = [this_month.shift(-1), this_month]
    for month in months:
        audit_rollup_refresh(month=month, now=now)
    return [month.key for month in months]
