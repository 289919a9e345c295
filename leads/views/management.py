"""Manager pages: reassign one lead or a rep's whole queue, configure territories and their
members for round-robin assignment, record reps' absences. Every write goes through a
service in leads.services; refusals come back as form errors."""

from django.contrib import messages
from django.contrib.auth.models import User
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from core.errors import DomainError
from core.roles import Role, role_required
from leads.management_forms import (
    POOL,
    AbsenceForm,
    MemberForm,
    QueueReassignForm,
    ReassignLeadForm,
    TerritoryForm,
    add_service_error,
)
from leads.management_selectors import (
    absences_current_and_upcoming,
    absences_past,
    reps_with_queues,
    sales_reps,
    territories_with_members,
    territory_members,
)
from leads.models import Lead, RepAbsence, Territory, TerritoryMember
from leads.selectors import lead_open_handoff
from leads.services import (
    lead_reassign,
    queue_reassign,
    rep_absence_create,
    rep_absence_delete,
    rep_absence_update,
    territory_create,
    territory_member_add,
    territory_member_update,
    territory_update,
)

manager_only = role_required(Role.MANAGER)


def _name(user: User | None) -> str:
    return "the pool" if user is None else (user.get_full_name() or user.username)


def _chosen_rep(value: str, reps: list[User]) -> User | None:
    return None if value == POOL else next((r for r in reps if str(r.pk) == str(value)), None)


def _safe_back(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


# --- reassignment -------------------------------------------------------------------------------
@manager_only
def reassign_lead(request, pk: int):
    lead = get_object_or_404(Lead.objects.select_related("owner", "source_campaign"), pk=pk)
    reps = list(sales_reps())
    form = ReassignLeadForm(request.POST or None, reps=[r for r in reps if r.pk != lead.owner_id])
    back = _safe_back(request, reverse("leads:list"))
    if request.method == "POST" and form.is_valid():
        to_rep = _chosen_rep(form.cleaned_data["to"], reps)
        try:
            lead_reassign(lead_id=lead.pk, actor=request.user, to_rep=to_rep)
        except DomainError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, f"{lead} now belongs to {_name(to_rep)}.")
            return redirect(back)
    return render(
        request,
        "leads/manage_reassign.html",
        {
            "title": f"Reassign {lead}",
            "lead": lead,
            "handoff": lead_open_handoff(lead=lead),
            "form": form,
            "next": back,
        },
    )


@manager_only
def queues(request):
    reps = list(reps_with_queues())
    form = QueueReassignForm(
        request.POST or None, reps=reps, initial={"from_rep": request.GET.get("from", "")}
    )
    if request.method == "POST" and form.is_valid():
        from_rep = _chosen_rep(form.cleaned_data["from_rep"], reps)
        to_rep = _chosen_rep(form.cleaned_data["to"], reps)
        try:
            moved = queue_reassign(actor=request.user, from_rep=from_rep, to_rep=to_rep)
        except DomainError as exc:
            add_service_error(form, exc)
        else:
            if moved:
                messages.success(
                    request,
                    f"Moved {moved} lead{'s' if moved != 1 else ''} from {_name(from_rep)} "
                    f"to {_name(to_rep)}; both were notified.",
                )
            else:
                messages.info(request, f"{_name(from_rep)} had no open leads to move.")
            return redirect("leads:manage_queues")
    return render(
        request,
        "leads/manage_queues.html",
        {"title": "Reassign queues", "reps": reps, "form": form, "tab": "queues"},
    )


# --- territories --------------------------------------------------------------------------------
@manager_only
def territories(request):
    return render(
        request,
        "leads/manage_territories.html",
        {"title": "Territories", "territories": territories_with_members(), "tab": "territories"},
    )


@manager_only
def territory_new(request):
    form = TerritoryForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            territory = territory_create(actor=request.user, **form.service_kwargs())
        except DomainError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, f"Territory {territory} created. Add its reps below.")
            return redirect("leads:manage_territory", pk=territory.pk)
    return render(
        request,
        "leads/manage_territory.html",
        {"title": "New territory", "form": form, "territory": None, "tab": "territories"},
    )


def _territory_page(request, territory: Territory, *, form=None, member_form=None, status=200):
    members = list(territory_members(territory=territory))
    taken = {m.rep_id for m in members}
    if member_form is None:
        member_form = MemberForm(reps=[r for r in sales_reps() if r.pk not in taken])
    return render(
        request,
        "leads/manage_territory.html",
        {
            "title": f"Territory {territory}",
            "territory": territory,
            "form": form or TerritoryForm(initial=TerritoryForm.initial_for(territory)),
            "members": members,
            "member_form": member_form,
            "tab": "territories",
        },
        status=status,
    )


@manager_only
def territory_edit(request, pk: int):
    territory = get_object_or_404(Territory, pk=pk)
    if request.method != "POST":
        return _territory_page(request, territory)
    form = TerritoryForm(request.POST)
    if form.is_valid():
        try:
            territory = territory_update(
                territory_id=territory.pk, actor=request.user, **form.service_kwargs()
            )
        except DomainError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, f"Territory {territory} saved.")
            return redirect("leads:manage_territory", pk=territory.pk)
    return _territory_page(request, territory, form=form)


@require_POST
@manager_only
def member_add(request, pk: int):
    territory = get_object_or_404(Territory, pk=pk)
    reps = list(sales_reps())
    form = MemberForm(request.POST, reps=reps)
    if form.is_valid():
        data = form.cleaned_data
        try:
            member = territory_member_add(
                actor=request.user,
                territory_id=territory.pk,
                rep=_chosen_rep(data["rep"], reps),
                weight=data["weight"],
                capacity=data["capacity"],
                is_active=data["is_active"],
            )
        except DomainError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, f"{_name(member.rep)} joined {territory}.")
            return redirect("leads:manage_territory", pk=territory.pk)
    return _territory_page(request, territory, member_form=form)


@manager_only
def member_edit(request, pk: int):
    member = get_object_or_404(TerritoryMember.objects.select_related("rep", "territory"), pk=pk)
    form = MemberForm(
        request.POST or None,
        initial={
            "weight": member.weight,
            "capacity": member.capacity,
            "is_active": member.is_active,
        },
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            territory_member_update(
                member_id=member.pk,
                actor=request.user,
                weight=data["weight"],
                capacity=data["capacity"],
                is_active=data["is_active"],
            )
        except DomainError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, f"{_name(member.rep)} in {member.territory} saved.")
            return redirect("leads:manage_territory", pk=member.territory_id)
    return render(
        request,
        "leads/manage_member.html",
        {
            "title": f"{_name(member.rep)} in {member.territory}",
            "member": member,
            "form": form,
            "tab": "territories",
        },
    )


# --- absences -----------------------------------------------------------------------------------
@manager_only
def absences(request):
    reps = list(sales_reps())
    form = AbsenceForm(request.POST or None, reps=reps)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        rep = _chosen_rep(data["rep"], reps)
        try:
            rep_absence_create(
                actor=request.user,
                rep=rep,
                starts_on=data["starts_on"],
                ends_on=data["ends_on"],
                note=data["note"],
            )
        except DomainError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, f"{_name(rep)} is marked away; no new leads on those days.")
            return redirect("leads:manage_absences")
    return render(
        request,
        "leads/manage_absences.html",
        {
            "title": "Absences",
            "form": form,
            "upcoming": absences_current_and_upcoming(),
            "past": absences_past(),
            "tab": "absences",
        },
    )


@manager_only
def absence_edit(request, pk: int):
    absence = get_object_or_404(RepAbsence.objects.select_related("rep"), pk=pk)
    form = AbsenceForm(
        request.POST or None,
        initial={"starts_on": absence.starts_on, "ends_on": absence.ends_on, "note": absence.note},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            rep_absence_update(
                absence_id=absence.pk,
                actor=request.user,
                starts_on=data["starts_on"],
                ends_on=data["ends_on"],
                note=data["note"],
            )
        except DomainError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, f"Absence of {_name(absence.rep)} saved.")
            return redirect("leads:manage_absences")
    return render(
        request,
        "leads/manage_absence.html",
        {"title": "Edit absence", "absence": absence, "form": form, "tab": "absences"},
    )


@require_POST
@manager_only
def absence_delete(request, pk: int):
    absence = get_object_or_404(RepAbsence.objects.select_related("rep"), pk=pk)
    rep_absence_delete(absence_id=absence.pk, actor=request.user)
    messages.success(request, f"Absence of {_name(absence.rep)} cancelled.")
    return redirect("leads:manage_absences")


urlpatterns = [
    path("manage/leads/<int:pk>/reassign/", reassign_lead, name="manage_reassign"),
    path("manage/queues/", queues, name="manage_queues"),
    path("manage/territories/", territories, name="manage_territories"),
    path("manage/territories/new/", territory_new, name="manage_territory_create"),
    path("manage/territories/<int:pk>/", territory_edit, name="manage_territory"),
    path("manage/territories/<int:pk>/members/", member_add, name="manage_member_add"),
    path("manage/members/<int:pk>/", member_edit, name="manage_member"),
    path("manage/absences/", absences, name="manage_absences"),
    path("manage/absences/<int:pk>/", absence_edit, name="manage_absence"),
    path("manage/absences/<int:pk>/delete/", absence_delete, name="manage_absence_delete"),
]
