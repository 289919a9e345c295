"""Forms for the manager pages: reassignment, territories and their members, absences.
They parse input into the shapes the services take; the services validate the rules."""

from django import forms

from core.errors import DomainError

POOL = "pool"


def add_service_error(form: forms.Form, exc: DomainError) -> None:
    """Show a refused service call on the form: on its field when the form has it."""
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


def _rep_choices(reps, *, empty: str, pool: bool = False) -> list[tuple[str, str]]:
    choices = [("", empty)]
    if pool:
        choices.append((POOL, "The pool (any rep may claim)"))
    return choices + [(str(rep.pk), rep.get_full_name() or rep.username) for rep in reps]


def _comma_list(raw: str) -> list[str]:
    return [part.strip() for part in (raw or "").split(",") if part.strip()]


class ReassignLeadForm(forms.Form):
    to = forms.ChoiceField(label="Give the lead to")

    def __init__(self, *args, reps, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to"].choices = _rep_choices(reps, empty="Choose…", pool=True)


class QueueReassignForm(forms.Form):
    from_rep = forms.TypedChoiceField(coerce=int, label="Move the open leads of")
    to = forms.ChoiceField(label="To")

    def __init__(self, *args, reps, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["from_rep"].choices = _rep_choices(reps, empty="Choose a rep…")
        self.fields["to"].choices = _rep_choices(reps, empty="Choose…", pool=True)


class TerritoryForm(forms.Form):
    name = forms.CharField(max_length=100)
    priority = forms.IntegerField(
        initial=100, help_text="Lower numbers are checked first; the first match wins."
    )
    countries = forms.CharField(
        required=False,
        help_text="ISO two-letter codes, comma-separated (US, GB, DE). Empty: any country.",
    )
    industries = forms.CharField(
        required=False, help_text="Comma-separated (Software, Retail). Empty: any industry."
    )
    is_active = forms.BooleanField(required=False, initial=True, label="Active")

    @classmethod
    def initial_for(cls, territory) -> dict:
        return {
            "name": territory.name,
            "priority": territory.priority,
            "countries": ", ".join(territory.countries),
            "industries": ", ".join(territory.industries),
            "is_active": territory.is_active,
        }

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "priority": data["priority"],
            "countries": _comma_list(data["countries"]),
            "industries": _comma_list(data["industries"]),
            "is_active": data["is_active"],
        }


class MemberForm(forms.Form):
    rep = forms.TypedChoiceField(coerce=int, label="Rep")
    weight = forms.IntegerField(
        initial=1, help_text="A rep with weight 2 gets twice the leads of a rep with weight 1."
    )
    capacity = forms.IntegerField(
        required=False, help_text="Most open leads at once. Empty: no limit."
    )
    is_active = forms.BooleanField(required=False, initial=True, label="Active")

    def __init__(self, *args, reps=None, **kwargs):
        super().__init__(*args, **kwargs)
        if reps is None:  # editing an existing member: the rep is fixed
            del self.fields["rep"]
        else:
            self.fields["rep"].choices = _rep_choices(reps, empty="Choose a rep…")


class AbsenceForm(forms.Form):
    rep = forms.TypedChoiceField(coerce=int, label="Rep")
    starts_on = forms.DateField(label="First day away", widget=forms.DateInput({"type": "date"}))
    ends_on = forms.DateField(label="Last day away", widget=forms.DateInput({"type": "date"}))
    note = forms.CharField(max_length=200, required=False)

    def __init__(self, *args, reps=None, **kwargs):
        super().__init__(*args, **kwargs)
        if reps is None:
            del self.fields["rep"]
        else:
            self.fields["rep"].choices = _rep_choices(reps, empty="Choose a rep…")
