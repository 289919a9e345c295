"""Forms for the lead queue and the lead page: they check the shape of the input; the services
decide whether the move is allowed and raise a ``DomainError`` with the message to show."""

from django import forms
from django.http import QueryDict

from campaigns.models import Campaign
from core.widgets import QuickSelect
from leads.models import (
    QUALIFIED_STAGES,
    DisqualifyReason,
    LeadFeedback,
    LostReason,
    ReturnReason,
    Stage,
    Temperature,
    Touch,
)
from leads.selectors import QueueFilters

ANY = ("", "Any")
# Stages a lead can be in while it sits in a sales queue (an open handoff).
QUEUE_STAGES = (Stage.MQL, Stage.PQL, Stage.CQL, Stage.SAL, Stage.SQL, Stage.OPPORTUNITY)


def min_score_field() -> forms.IntegerField:
    """The "at least this score" filter of the queue and the leads list."""
    return forms.IntegerField(
        label="Min. score",
        min_value=0,
        max_value=1000,
        required=False,
        widget=forms.NumberInput(attrs={"placeholder": "0", "inputmode": "numeric"}),
    )


class QueueFilterForm(forms.Form):
    """The queue's GET parameters; invalid values are dropped rather than failing the page."""

    tab = forms.ChoiceField(choices=[("mine", "My leads"), ("pool", "Pool")], required=False)
    kind = forms.ChoiceField(
        choices=[ANY, *[(s.value, s.label) for s in QUALIFIED_STAGES]],
        required=False,
        widget=QuickSelect,
    )
    temperature = forms.ChoiceField(
        choices=[ANY, *Temperature.choices], required=False, widget=QuickSelect
    )
    campaign = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=None, widget=QuickSelect
    )
    stage = forms.ChoiceField(
        choices=[ANY, *[(s.value, s.label) for s in QUEUE_STAGES]],
        required=False,
        widget=QuickSelect,
    )
    search = forms.CharField(
        max_length=100,
        required=False,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "Name, email or company", "autocomplete": "off"}
        ),
    )
    min_score = min_score_field()
    after = forms.CharField(max_length=100, required=False, widget=forms.HiddenInput)

    FILTER_FIELDS = ("kind", "temperature", "campaign", "stage", "search", "min_score")

    def __init__(self, data=None, **kwargs):
        super().__init__(data, **kwargs)
        # One query for the campaign choices, used both to validate and to render the select.
        self.fields["campaign"].choices = [
            ("", "Any"),
            *Campaign.objects.order_by("name").values_list("pk", "name"),
        ]

    def _value(self, name: str):
        """The cleaned value, or the empty value when the parameter was invalid."""
        if not self.is_bound or name in self.errors:
            return None if name in ("campaign", "min_score") else ""
        return self.cleaned_data.get(name)

    def current_tab(self) -> str:
        self.is_valid()
        return self._value("tab") or "mine"

    def cursor(self) -> str:
        self.is_valid()
        return self._value("after") or ""

    def filters(self) -> QueueFilters:
        self.is_valid()
        return QueueFilters(
            kind=self._value("kind") or "",
            temperature=self._value("temperature") or "",
            campaign=self._value("campaign"),
            stage=self._value("stage") or "",
            search=(self._value("search") or "").strip(),
            min_score=self._value("min_score"),
        )

    def is_filtered(self) -> bool:
        filters = self.filters()
        return any(getattr(filters, name) not in (None, "") for name in self.FILTER_FIELDS)

    def query(self, **overrides) -> str:
        """The filters as a query string (for "Next page"), with ``overrides`` applied."""
        self.is_valid()
        params = QueryDict(mutable=True)
        values = {
            "tab": self.current_tab(),
            **{name: self._value(name) for name in self.FILTER_FIELDS},
            **overrides,
        }
        for name, value in values.items():
            if value not in (None, ""):
                params[name] = str(value)
        return params.urlencode()


# --- lead actions -------------------------------------------------------------------------
def _reason_field(reasons) -> forms.ChoiceField:
    return forms.ChoiceField(
        label="Reason",
        choices=[("", "Choose a reason…"), *reasons.choices],
        error_messages={"required": "Choose a reason."},
    )


def _note_field(label: str = "Note") -> forms.CharField:
    return forms.CharField(
        label=label, required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )


def _amount_field(required: bool) -> forms.DecimalField:
    return forms.DecimalField(
        label="Deal amount",
        required=required,
        min_value=0,
        max_digits=12,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0", "inputmode": "decimal"}),
        error_messages={"required": "Enter the deal amount."},
    )


FEEDBACK_FIELDS = ("rating", "tags", "comment")


class ActionForm(forms.Form):
    """A form behind a lead action; templates show the feedback fields in their own group."""

    grouped: tuple[str, ...] = ()

    def main_fields(self) -> list:
        return [self[name] for name in self.fields if name not in self.grouped]

    def grouped_fields(self) -> list:
        return [self[name] for name in self.fields if name in self.grouped]


class FeedbackFields(ActionForm):
    """Lead-quality feedback: optional when it rides along with accept, return and close."""

    rating = forms.ChoiceField(
        label="Lead quality",
        choices=LeadFeedback.Rating.choices,
        required=False,
        widget=forms.RadioSelect,
    )
    tags = forms.MultipleChoiceField(
        label="Why",
        choices=LeadFeedback.Tag.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def clean(self):
        data = super().clean()
        if data.get("tags") and not data.get("rating"):
            self.add_error("rating", "Choose good or poor fit to send these reasons.")
        return data

    @property
    def has_feedback_fields(self) -> bool:
        return "rating" in self.fields

    def feedback(self) -> dict | None:
        """Arguments for ``feedback_give`` when the user rated the lead, else None."""
        rating = self.cleaned_data.get("rating")
        if not rating:
            return None
        return {
            "rating": rating,
            "tags": self.cleaned_data.get("tags") or [],
            "comment": self.cleaned_data.get("comment") or self.cleaned_data.get("note") or "",
        }


class MoveForm(ActionForm):
    """A stage move. Subclasses add what the move records; ``move_kwargs`` hands it to
    ``lead_transition``. ``with_feedback=False`` drops the feedback fields (only sales rates)."""

    grouped = FEEDBACK_FIELDS

    def __init__(self, *args, lead=None, with_feedback: bool = False, **kwargs):
        self.lead = lead
        super().__init__(*args, **kwargs)
        if not with_feedback:
            for name in FEEDBACK_FIELDS:
                self.fields.pop(name, None)

    @property
    def has_feedback_fields(self) -> bool:
        return "rating" in self.fields

    def feedback(self) -> dict | None:
        return None

    def move_kwargs(self) -> dict:
        """Keyword arguments for ``lead_transition`` besides lead, actor and target stage."""
        return {"note": self.cleaned_data.get("note", "")}


class QualifyForm(MoveForm):
    """Marketing qualifies a lead by hand (MQL, PQL or CQL)."""

    note = _note_field("Why it is qualified")


class AcceptForm(FeedbackFields, MoveForm):
    comment = forms.CharField(
        label="Comment on lead quality",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def move_kwargs(self) -> dict:
        return {}


class ReturnForm(FeedbackFields, MoveForm):
    reason_code = _reason_field(ReturnReason)
    note = _note_field("Comment for marketing")
    field_order = ("reason_code", "note", "rating", "tags")

    def move_kwargs(self) -> dict:
        return {"reason_code": self.cleaned_data["reason_code"], "note": self.cleaned_data["note"]}


class DisqualifyForm(FeedbackFields, MoveForm):
    reason_code = _reason_field(DisqualifyReason)
    note = _note_field()
    field_order = ("reason_code", "note", "rating", "tags")

    def move_kwargs(self) -> dict:
        return {"reason_code": self.cleaned_data["reason_code"], "note": self.cleaned_data["note"]}


class LostForm(FeedbackFields, MoveForm):
    reason_code = _reason_field(LostReason)
    note = _note_field()
    field_order = ("reason_code", "note", "rating", "tags")

    def move_kwargs(self) -> dict:
        return {"reason_code": self.cleaned_data["reason_code"], "note": self.cleaned_data["note"]}


BANT = ("budget", "authority", "need", "timeline")


class SqlForm(MoveForm):
    """Discovery done: BANT recorded."""

    budget = forms.CharField(max_length=200, help_text="Is money set aside, and how much?")
    authority = forms.CharField(max_length=200, help_text="Who signs?")
    need = forms.CharField(max_length=300, help_text="Which problem must be solved?")
    timeline = forms.CharField(max_length=200, help_text="By when?")
    note = _note_field()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in BANT:
            self.fields[name].error_messages["required"] = f"Record the {name} to qualify to SQL."
            if self.lead is not None:
                self.fields[name].initial = getattr(self.lead, f"bant_{name}")

    def move_kwargs(self) -> dict:
        data = self.cleaned_data
        return {"note": data["note"], "details": {name: data[name] for name in BANT}}


class OpportunityForm(MoveForm):
    amount = _amount_field(required=True)
    note = _note_field()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.lead is not None and self.lead.deal_amount is not None:
            self.fields["amount"].initial = self.lead.deal_amount

    def move_kwargs(self) -> dict:
        amount = self.cleaned_data["amount"]
        details = {} if amount is None else {"amount": str(amount)}
        return {"note": self.cleaned_data["note"], "details": details}


class WonForm(FeedbackFields, OpportunityForm):
    # Empty keeps the amount recorded when the opportunity was opened.
    amount = _amount_field(required=False)
    field_order = ("amount", "note", "rating", "tags")


class TouchForm(ActionForm):
    kind = forms.ChoiceField(
        label="Touch", choices=Touch.Kind.choices, initial=Touch.Kind.CALL, widget=forms.RadioSelect
    )
    outcome = forms.ChoiceField(
        choices=[("", "Choose an outcome…"), *Touch.Outcome.choices],
        error_messages={"required": "Choose an outcome."},
    )
    note = _note_field()
    occurred_at = forms.DateTimeField(
        label="When",
        required=False,
        help_text="Leave empty for now.",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )


class FeedbackForm(FeedbackFields):
    comment = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rating"].required = True
        self.fields["rating"].error_messages["required"] = "Choose good or poor fit."


class NoteForm(ActionForm):
    body = forms.CharField(
        label="Add a note",
        max_length=5000,
        widget=forms.Textarea(
            attrs={
                "rows": 2,
                "placeholder": "What happened, what is next…",
                "data-shortcut": "n",
                "data-shortcut-label": "Write a note",
            }
        ),
        error_messages={"required": "Write something first."},
    )


# The form each stage move takes, keyed by the target stage.
MOVE_FORMS: dict[str, type[MoveForm]] = {
    Stage.MQL: QualifyForm,
    Stage.PQL: QualifyForm,
    Stage.CQL: QualifyForm,
    Stage.SAL: AcceptForm,
    Stage.SQL: SqlForm,
    Stage.OPPORTUNITY: OpportunityForm,
    Stage.WON: WonForm,
    Stage.LOST: LostForm,
    Stage.RECYCLED: ReturnForm,
    Stage.DISQUALIFIED: DisqualifyForm,
}
