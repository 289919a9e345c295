"""Page forms for agreements and working calendars. Field types and widgets live here; the
rules live in slas.services, which these forms ask for errors so they show beside the field,
and which the views call to write."""

from zoneinfo import available_timezones

from django import forms

from slas.models import Agreement, WorkingCalendar
from slas.selectors import WEEKDAYS, calendar_choices
from slas.services import (
    AGREEMENT_FIELDS,
    CALENDAR_FIELDS,
    SIDES,
    TARGET_MAX_HOURS,
    AgreementInvalid,
    TargetSpec,
    agreement_errors,
    calendar_errors,
    target_errors,
)

KIND_CHOICES = [("", "—"), ("mql", "MQL"), ("pql", "PQL"), ("cql", "CQL")]
TEMPERATURE_CHOICES = [("", "Any"), ("cold", "Cold"), ("warm", "Warm"), ("hot", "Hot")]


def errors_to_form(form: forms.Form, error: AgreementInvalid, formset=None) -> None:
    """Show a service's field errors on the form; target errors go to the targets formset."""
    for name, messages in error.errors.items():
        for message in messages:
            if name == "targets" and formset is not None:
                formset.add_non_form_error(message)
            else:
                form.add_error(name if name in form.fields else None, message)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class TimeInput(forms.TimeInput):
    input_type = "time"

    def __init__(self, **kwargs):
        super().__init__(format="%H:%M", **kwargs)


class AgreementForm(forms.Form):
    name = forms.CharField(max_length=150, help_text="E.g. “Q1 2027 SLA”.")
    starts_on = forms.DateField(label="First day", widget=DateInput())
    ends_on = forms.DateField(label="Last day", widget=DateInput())
    calendar = forms.ModelChoiceField(
        queryset=None, empty_label="Choose…", help_text="Deadlines count its business hours."
    )
    mqls_per_month = forms.IntegerField(
        label="Qualified leads per month", min_value=0, help_text="What marketing delivers."
    )
    min_acceptance_rate = forms.DecimalField(
        label="Minimum acceptance rate (%)",
        min_value=0,
        max_value=100,
        max_digits=5,
        decimal_places=2,
        help_text="Share of handoffs sales accepts.",
    )
    content_turnaround_hours = forms.IntegerField(
        label="Content request turnaround (business hours)", min_value=1, initial=16
    )
    follow_up_attempts = forms.IntegerField(
        label="Follow-up attempts before a recycle", min_value=1, initial=6
    )
    max_untouched_sal_days = forms.IntegerField(
        label="Most business days an accepted lead sits untouched", min_value=1, initial=5
    )
    warn_at_percent = forms.IntegerField(
        label="Warn the rep at (% of the window)", min_value=1, max_value=99, initial=75
    )
    escalation = forms.ChoiceField(
        label="After a breach", choices=Agreement.Escalation.choices, initial="return_to_pool"
    )
    escalate_after_hours = forms.IntegerField(
        label="Escalate after (business hours past the breach)", min_value=0, initial=4
    )

    def __init__(self, *args, agreement: Agreement | None = None, **kwargs):
        self.agreement = agreement
        if agreement is not None and "initial" not in kwargs:
            kwargs["initial"] = {name: getattr(agreement, name) for name in AGREEMENT_FIELDS}
        super().__init__(*args, **kwargs)
        self.fields["calendar"].queryset = calendar_choices()

    @property
    def values(self) -> dict:
        return {name: self.cleaned_data.get(name) for name in AGREEMENT_FIELDS}

    def clean(self):
        cleaned = super().clean()
        errors = agreement_errors(
            values=self.values,
            targets=None,
            agreement_id=self.agreement.pk if self.agreement else None,
        )
        for name, messages in errors.items():
            if name in self.fields and name not in self.errors:
                for message in messages:
                    self.add_error(name, message)
        return cleaned


class TargetForm(forms.Form):
    kind = forms.ChoiceField(
        choices=KIND_CHOICES,
        label="Lead kind",
        widget=forms.Select(attrs={"aria-label": "Lead kind"}),
    )
    temperature = forms.ChoiceField(
        choices=TEMPERATURE_CHOICES,
        required=False,
        widget=forms.Select(attrs={"aria-label": "Temperature"}),
    )
    hours = forms.IntegerField(
        label="First touch within (business hours)",
        min_value=1,
        max_value=TARGET_MAX_HOURS,
        widget=forms.NumberInput(attrs={"aria-label": "Business hours", "min": 1}),
    )


class BaseTargetFormSet(forms.BaseFormSet):
    def add_fields(self, form, index):
        super().add_fields(form, index)
        if "DELETE" in form.fields:
            form.fields["DELETE"].label = "Remove"
            form.fields["DELETE"].widget.attrs["aria-label"] = "Remove this target"

    @property
    def targets(self) -> list[TargetSpec]:
        return [
            TargetSpec(
                form.cleaned_data["kind"],
                form.cleaned_data["temperature"] or "",
                form.cleaned_data["hours"],
            )
            for form in self.forms
            if form.has_changed()
            and not self._should_delete_form(form)
            and form.is_valid()
            and form.cleaned_data
        ]

    def clean(self):
        if any(self.errors):
            return
        messages = target_errors(self.targets)
        if messages:
            raise forms.ValidationError(messages)


TargetFormSet = forms.formset_factory(
    TargetForm, formset=BaseTargetFormSet, extra=2, can_delete=True, max_num=24
)


def target_formset(data=None, *, agreement: Agreement | None = None) -> BaseTargetFormSet:
    """The targets formset: prefilled with the agreement's targets (or the usual ones for a
    new agreement); once posted, the posted rows are the targets."""
    if data is not None:
        return TargetFormSet(data, prefix="targets")
    if agreement is None:
        initial = [
            {"kind": "cql", "temperature": "", "hours": 1},
            {"kind": "pql", "temperature": "", "hours": 2},
            {"kind": "mql", "temperature": "hot", "hours": 4},
            {"kind": "mql", "temperature": "", "hours": 24},
        ]
    else:
        initial = [
            {"kind": t.kind, "temperature": t.temperature, "hours": t.hours}
            for t in agreement.targets.all()
        ]
    return TargetFormSet(initial=initial, prefix="targets")


class CalendarForm(forms.Form):
    name = forms.CharField(max_length=100)
    timezone = forms.CharField(
        label="Time zone",
        max_length=64,
        initial="Europe/Berlin",
        help_text="An IANA name such as Europe/Berlin or America/New_York.",
        widget=forms.TextInput(attrs={"list": "timezones", "autocomplete": "off"}),
    )
    working_days = forms.TypedMultipleChoiceField(
        coerce=int,
        choices=list(enumerate(WEEKDAYS)),
        widget=forms.CheckboxSelectMultiple,
        initial=[0, 1, 2, 3, 4],
        error_messages={"required": "Pick at least one working day."},
    )
    day_start = forms.TimeField(label="Day starts", widget=TimeInput(), initial="09:00")
    day_end = forms.TimeField(label="Day ends", widget=TimeInput(), initial="17:00")

    def __init__(self, *args, calendar: WorkingCalendar | None = None, **kwargs):
        self.calendar = calendar
        if calendar is not None and "initial" not in kwargs:
            kwargs["initial"] = {name: getattr(calendar, name) for name in CALENDAR_FIELDS}
        super().__init__(*args, **kwargs)

    @property
    def values(self) -> dict:
        return {name: self.cleaned_data.get(name) for name in CALENDAR_FIELDS}

    def clean(self):
        cleaned = super().clean()
        errors = calendar_errors(
            values=self.values, calendar_id=self.calendar.pk if self.calendar else None
        )
        for name, messages in errors.items():
            if name in self.fields and name not in self.errors:
                for message in messages:
                    self.add_error(name, message)
        return cleaned

    @staticmethod
    def timezones() -> list[str]:
        return sorted(tz for tz in available_timezones() if "/" in tz and not tz.startswith("Etc/"))


class HolidayForm(forms.Form):
    date = forms.DateField(widget=DateInput())
    name = forms.CharField(max_length=100)


class SignForm(forms.Form):
    side = forms.ChoiceField(choices=[(side, side) for side in SIDES])
