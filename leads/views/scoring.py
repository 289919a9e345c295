"""Scoring pages: the rules editor with its version history and each past version read-only
(marketers, managers), rule insights and the threshold what-if, the definitions page every role
reads, and pinning a manual adjustment on a lead's score. Writes go through
leads.scoring_services; a refused save comes back as errors on the fields it names."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.forms import formset_factory
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone

from core.errors import DomainError, InvalidInput, NotAllowed
from core.roles import Role, role_required
from leads.models import EventKind, FitRule, Lead
from leads.scoring import FIELD_TYPES, OPERATORS_BY_TYPE, explanation_item_text
from leads.scoring_selectors import (
    PRIOR_LEADS,
    definitions,
    rule_insights,
    rules_of,
    scoring_active,
    scoring_version_get,
    scoring_versions,
    threshold_what_if,
)
from leads.scoring_services import (
    engagement_rule_clean,
    fit_rule_clean,
    score_adjustment_set,
    scoring_version_create,
    thresholds_clean,
)

editors_only = role_required(Role.MARKETER)  # managers hold every role


# --- forms ---------------------------------------------------------------------------------------
def _show_error(form: forms.Form, error: InvalidInput) -> None:
    form.add_error(error.field if error.field in form.fields else None, error.message)


class ThresholdsForm(forms.Form):
    warm = forms.IntegerField(label="Warm from", min_value=1, max_value=1000)
    hot = forms.IntegerField(label="Hot from", min_value=1, max_value=1000)
    mql = forms.IntegerField(
        label="MQL threshold",
        min_value=1,
        max_value=1000,
        help_text="A lead marketing holds (new or recycled) is handed to sales at this score.",
    )
    note = forms.CharField(
        label="What changed and why", required=False, max_length=200, help_text="Optional."
    )
    based_on = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def clean(self):
        data = super().clean()
        if not self.errors:
            try:
                data.update(thresholds_clean(warm=data["warm"], hot=data["hot"], mql=data["mql"]))
            except InvalidInput as error:
                _show_error(self, error)
        return data


def _value_text(value) -> str:
    return ", ".join(str(v) for v in value) if isinstance(value, list | tuple) else str(value)


class FitRuleForm(forms.Form):
    field = forms.ChoiceField(
        label="Lead field", choices=[("", "Choose…"), *FitRule.Field.choices], required=False
    )
    operator = forms.ChoiceField(
        label="Test", choices=[("", "Choose…"), *FitRule.Operator.choices], required=False
    )
    value = forms.CharField(
        label="Value",
        required=False,
        max_length=1000,
        help_text="For “is one of”, separate values with commas.",
    )
    points = forms.IntegerField(label="Points", required=False, min_value=-1000, max_value=1000)

    def clean(self):
        data = super().clean()
        entered = [data.get(name) for name in ("field", "operator", "value", "points")]
        blank = all(value in (None, "") for value in entered)
        if self.errors or blank or data.get("DELETE"):
            data["rule"] = None
            return data
        try:
            data["rule"] = fit_rule_clean(
                field=data.get("field") or "",
                operator=data.get("operator") or "",
                value=data.get("value"),
                points=data.get("points") if data.get("points") is not None else "",
            )
        except InvalidInput as error:
            _show_error(self, error)
        return data


class EngagementRuleForm(forms.Form):
    """One row per event kind: leave the points empty for kinds that score nothing."""

    kind = forms.ChoiceField(choices=EventKind.choices, widget=forms.HiddenInput)
    points = forms.IntegerField(label="Points per event", required=False)
    half_life_days = forms.IntegerField(label="Half-life (days)", required=False)
    cap = forms.IntegerField(label="Cap", required=False)

    def clean(self):
        data = super().clean()
        numbers = [data.get(n) for n in ("points", "half_life_days", "cap")]
        if self.errors or all(v is None for v in numbers):
            data["rule"] = None
            return data
        try:
            data["rule"] = engagement_rule_clean(
                kind=data.get("kind") or "",
                points=data.get("points") if data.get("points") is not None else "",
                half_life_days=data.get("half_life_days")
                if data.get("half_life_days") is not None
                else "",
                cap=data.get("cap") if data.get("cap") is not None else "",
            )
        except InvalidInput as error:
            _show_error(self, error)
        return data

    @property
    def kind_label(self) -> str:
        kind = self["kind"].value()
        return EventKind(kind).label if kind in EventKind.values else kind


FitRuleFormSet = formset_factory(FitRuleForm, extra=2, can_delete=True, max_num=50)
EngagementRuleFormSet = formset_factory(
    EngagementRuleForm, extra=0, max_num=len(EventKind.values), absolute_max=len(EventKind.values)
)


def _initial(version) -> tuple[dict, list[dict], list[dict]]:
    if version is None:
        thresholds = {"warm": 40, "hot": 70, "mql": 60, "based_on": 0}
        return thresholds, [], [{"kind": kind} for kind in EventKind.values]
    thresholds = {
        "warm": version.warm_threshold,
        "hot": version.hot_threshold,
        "mql": version.mql_threshold,
        "based_on": version.number,
    }
    fit = [
        {
            "field": r.field,
            "operator": r.operator,
            "value": _value_text(r.value),
            "points": r.points,
        }
        for r in version.fit_rules.all()
    ]
    rules = {r.kind: r for r in version.engagement_rules.all()}
    engagement = [
        {"kind": kind}
        | (
            {
                "points": rules[kind].points,
                "half_life_days": rules[kind].half_life_days,
                "cap": rules[kind].cap,
            }
            if kind in rules
            else {}
        )
        for kind in EventKind.values
    ]
    return thresholds, fit, engagement


def _place_service_error(error: DomainError, thresholds, fit, engagement) -> None:
    """``fit_rules.2.value`` → that row's field; anything else on the thresholds form."""
    parts = (error.field or "").split(".")
    if len(parts) == 3 and parts[1].isdigit():
        rows = fit if parts[0] == "fit_rules" else engagement
        valid = [f for f in rows.forms if f.cleaned_data.get("rule")]
        index = int(parts[1])
        if index < len(valid):
            target = valid[index]
            target.add_error(parts[2] if parts[2] in target.fields else None, error.message)
            return
    thresholds.add_error(error.field if error.field in thresholds.fields else None, error.message)


# --- the rules editor ----------------------------------------------------------------------------
@editors_only
def scoring_rules(request):
    version = scoring_active()
    initial_thresholds, initial_fit, initial_engagement = _initial(version)
    if request.method == "POST":
        thresholds = ThresholdsForm(request.POST)
        fit = FitRuleFormSet(request.POST, prefix="fit")
        engagement = EngagementRuleFormSet(request.POST, prefix="engagement")
        if all([thresholds.is_valid(), fit.is_valid(), engagement.is_valid()]):
            based_on = thresholds.cleaned_data.get("based_on")
            try:
                saved = scoring_version_create(
                    actor=request.user,
                    warm=thresholds.cleaned_data["warm"],
                    hot=thresholds.cleaned_data["hot"],
                    mql=thresholds.cleaned_data["mql"],
                    note=thresholds.cleaned_data.get("note", ""),
                    based_on=based_on,
                    fit_rules=[f.cleaned_data["rule"] for f in fit.forms if f.cleaned_data["rule"]],
                    engagement_rules=[
                        f.cleaned_data["rule"] for f in engagement.forms if f.cleaned_data["rule"]
                    ],
                )
            except NotAllowed as refused:
                raise PermissionDenied(refused.message) from refused
            except DomainError as error:
                _place_service_error(error, thresholds, fit, engagement)
            else:
                messages.success(
                    request,
                    f"Saved version {saved.number}. Every lead is being rescored with it now.",
                )
                return redirect("leads:scoring")
    else:
        thresholds = ThresholdsForm(initial=initial_thresholds)
        fit = FitRuleFormSet(initial=initial_fit, prefix="fit")
        engagement = EngagementRuleFormSet(initial=initial_engagement, prefix="engagement")
    return render(
        request,
        "leads/scoring.html",
        {
            "title": "Scoring rules",
            "tab": "rules",
            "version": version,
            "thresholds": thresholds,
            "fit": fit,
            "engagement": engagement,
            "versions": scoring_versions(),
            "operators_by_field": {
                FitRule.Field(name).label: ", ".join(
                    str(FitRule.Operator(o).label) for o in OPERATORS_BY_TYPE[kind]
                )
                for name, kind in FIELD_TYPES.items()
            },
            "has_errors": thresholds.errors
            or any(f.errors for f in fit.forms)
            or any(f.errors for f in engagement.forms)
            or fit.non_form_errors(),
        },
    )


# --- past versions (read-only) -------------------------------------------------------------------
@editors_only
def scoring_version_list(request):
    return render(
        request,
        "leads/scoring_versions.html",
        {
            "title": "Scoring rule versions",
            "tab": "rules",
            "versions": scoring_versions(limit=None),
        },
    )


@editors_only
def scoring_version_detail(request, number: int):
    version = scoring_version_get(number=number)
    if version is None:
        raise Http404("No such version.")
    return render(
        request,
        "leads/scoring_version.html",
        {
            "title": f"Scoring rules, version {version.number}",
            "tab": "rules",
            "version": version,
            "rules": rules_of(version),
        },
    )


# --- insights and the what-if --------------------------------------------------------------------
class WhatIfForm(forms.Form):
    warm = forms.IntegerField(label="Warm from", min_value=1, max_value=1000)
    hot = forms.IntegerField(label="Hot from", min_value=1, max_value=1000)
    mql = forms.IntegerField(label="MQL threshold", min_value=1, max_value=1000)

    def clean(self):
        data = super().clean()
        if not self.errors and data["hot"] <= data["warm"]:
            self.add_error("hot", "Hot must be above warm.")
        return data


@editors_only
def scoring_insights(request):
    version = scoring_active()
    if version is None:
        return render(
            request,
            "leads/insights.html",
            {"title": "Scoring insights", "tab": "insights", "version": None},
        )
    rules = rules_of(version)
    current = {"warm": rules.warm, "hot": rules.hot, "mql": rules.mql}
    form = WhatIfForm(request.GET if "mql" in request.GET else None, initial=current)
    chosen = form.cleaned_data if form.is_bound and form.is_valid() else current
    what_if = threshold_what_if(rules=rules, **chosen)
    context = {
        "title": "Scoring insights",
        "tab": "insights",
        "version": version,
        "rules": rules,
        "form": form,
        "chosen": chosen,
        "what_if": what_if,
    }
    if request.htmx and request.htmx.target == "what-if":
        return render(request, "leads/insights.html#what_if", context)
    insights, overall = rule_insights(rules)
    context.update({"insights": insights, "overall": overall, "prior_leads": PRIOR_LEADS})
    return render(request, "leads/insights.html", context)


# --- definitions ---------------------------------------------------------------------------------
@role_required(Role.REP, Role.MARKETER)
def scoring_definitions(request):
    return render(
        request,
        "leads/definitions.html",
        {"title": "Definitions", **definitions(now=timezone.now())},
    )


# --- a lead's manual adjustment ------------------------------------------------------------------
class AdjustmentForm(forms.Form):
    points = forms.IntegerField(
        label="Adjustment (points)",
        min_value=-1000,
        max_value=1000,
        help_text="Added to the score the rules give; 0 removes the adjustment.",
    )
    reason = forms.CharField(label="Why", required=False, max_length=200)


@editors_only
def score_adjust(request, pk: int):
    lead = get_object_or_404(Lead.objects.select_related("score_version"), pk=pk)
    initial = {"points": lead.score_manual_adjustment, "reason": lead.score_manual_reason}
    form = AdjustmentForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            lead = score_adjustment_set(
                lead_id=lead.pk,
                actor=request.user,
                points=form.cleaned_data["points"],
                reason=form.cleaned_data["reason"],
            )
        except Lead.DoesNotExist:
            raise Http404("No such lead.") from None
        except NotAllowed as refused:
            raise PermissionDenied(refused.message) from refused
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(request, f"{lead}'s score is {lead.score} now.")
            return redirect(lead.get_absolute_url())
    return render(
        request,
        "leads/scoring_adjust.html",
        {
            "title": f"Adjust the score of {lead}",
            "lead": lead,
            "form": form,
            "items": [explanation_item_text(i) for i in lead.score_explanation or []],
            "back": reverse("leads:detail", args=[lead.pk]),
        },
    )


urlpatterns = [
    path("scoring/", scoring_rules, name="scoring"),
    path("scoring/versions/", scoring_version_list, name="scoring_versions"),
    path("scoring/versions/<int:number>/", scoring_version_detail, name="scoring_version"),
    path("scoring/insights/", scoring_insights, name="scoring_insights"),
    path("definitions/", scoring_definitions, name="definitions"),
    path("<int:pk>/score/", score_adjust, name="score_adjust"),
]
