"""Forms for the shared pipeline and marketing's pages: filter bars (GET) and the nurture
actions (qualify, disqualify). Forms parse and shape input; the rules live in the services."""

from django import forms

from core.errors import DomainError
from leads.forms import min_score_field
from leads.marketing_selectors import LIST_SORT_LABELS, NO_OWNER
from leads.models import QUALIFIED_STAGES, DisqualifyReason, ReturnReason, Stage, Temperature
from leads.pipeline import (
    DEFAULT_PERIOD,
    PERIOD_PRESETS,
    QUALIFIED,
    FunnelFilters,
    Period,
    period_resolve,
)
from leads.selectors import QueueFilters

KIND_CHOICES = [("", "Any kind"), *[(s.value, s.label) for s in QUALIFIED_STAGES]]


def add_service_error(form: forms.Form, exc: DomainError) -> None:
    """Show a refused service call on the form: on its field when the form has it."""
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


class PeriodFieldsMixin:
    """Period preset plus the from/to days of a custom period."""

    def add_period_fields(self) -> None:
        self.fields["period"] = forms.ChoiceField(
            choices=PERIOD_PRESETS, required=False, initial=DEFAULT_PERIOD, label="Period"
        )
        self.fields["start"] = forms.DateField(
            required=False, label="Custom from", widget=forms.DateInput(attrs={"type": "date"})
        )
        self.fields["end"] = forms.DateField(
            required=False, label="Custom to", widget=forms.DateInput(attrs={"type": "date"})
        )

    def clean_period_fields(self, data: dict) -> None:
        if data.get("period") == "custom" and not (data.get("start") and data.get("end")):
            self.add_error("start", "Choose both days of a custom period.")

    def period(self) -> Period:
        """The chosen period; the default (last 90 days) when the input is missing or bad."""
        data = self.cleaned_data if self.is_bound and hasattr(self, "cleaned_data") else {}
        return period_resolve(
            preset=data.get("period") or DEFAULT_PERIOD,
            first=data.get("start"),
            last=data.get("end"),
        )


def _int_choices(rows, empty_label: str) -> list[tuple[str, str]]:
    return [("", empty_label), *[(str(pk), label) for pk, label in rows]]


class FunnelFilterForm(PeriodFieldsMixin, forms.Form):
    campaign = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    owner = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, label="Owner")
    kind = forms.ChoiceField(choices=KIND_CHOICES, required=False)

    def __init__(self, *args, campaigns, reps, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_period_fields()
        self.fields["campaign"].choices = _int_choices(campaigns, "All campaigns")
        self.fields["owner"].choices = _int_choices(reps, "Any owner")
        self.order_fields(["period", "start", "end", "campaign", "owner", "kind"])

    def clean(self):
        data = super().clean()
        self.clean_period_fields(data)
        return data

    def funnel_filters(self) -> FunnelFilters:
        data = self.cleaned_data if self.is_bound else {}
        return FunnelFilters(
            campaign=data.get("campaign"), owner=data.get("owner"), kind=data.get("kind") or ""
        )


class LeadListFilterForm(PeriodFieldsMixin, forms.Form):
    q = forms.CharField(required=False, max_length=100, label="Search")
    stage = forms.ChoiceField(
        choices=[("", "Any stage"), (QUALIFIED, "MQL, PQL or CQL"), *Stage.choices],
        required=False,
    )
    kind = forms.ChoiceField(choices=KIND_CHOICES, required=False)
    temperature = forms.ChoiceField(
        choices=[("", "Any temperature"), *Temperature.choices], required=False
    )
    campaign = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    owner = forms.ChoiceField(required=False)
    min_score = min_score_field()
    sort = forms.ChoiceField(choices=list(LIST_SORT_LABELS.items()), required=False)
    # Drill-down from the pipeline: leads that entered this stage in the period.
    reached = forms.ChoiceField(
        choices=[("", "—"), (QUALIFIED, "MQL, PQL or CQL"), *Stage.choices], required=False
    )

    def __init__(self, *args, campaigns, reps, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_period_fields()
        self.fields["campaign"].choices = _int_choices(campaigns, "All campaigns")
        self.fields["owner"].choices = [
            ("", "Anyone"),
            (NO_OWNER, "No owner (marketing or pool)"),
            *[(str(pk), label) for pk, label in reps],
        ]

    def clean(self):
        data = super().clean()
        self.clean_period_fields(data)
        return data

    def value(self, name: str, default=""):
        data = self.cleaned_data if self.is_bound else {}
        return data.get(name) or default

    def queue_filters(self) -> QueueFilters:
        return QueueFilters(
            kind=self.value("kind"),
            temperature=self.value("temperature"),
            campaign=self.value("campaign", None),
            stage=self.value("stage"),
            search=self.value("q"),
            min_score=self.value("min_score", None),
        )


class NurtureFilterForm(PeriodFieldsMixin, forms.Form):
    reason = forms.ChoiceField(choices=[("", "Any reason"), *ReturnReason.choices], required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_period_fields()
        self.order_fields(["period", "start", "end", "reason"])

    def clean(self):
        data = super().clean()
        self.clean_period_fields(data)
        return data


class QualifyForm(forms.Form):
    note = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "Say why: the note goes to sales with the lead."},
    )


class DisqualifyForm(forms.Form):
    reason_code = forms.ChoiceField(choices=DisqualifyReason.choices, label="Reason")
    note = forms.CharField(
        max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
