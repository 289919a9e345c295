"""Page forms. Field types and widgets live here; the rules live in campaigns.services, which
the views call and whose errors land back on these fields."""

from django import forms

from campaigns.models import Campaign, ContentRequest, EnablementResource
from campaigns.selectors import campaign_owners
from campaigns.services import CampaignInvalid, campaign_errors


def errors_to_form(form: forms.Form, error: CampaignInvalid) -> None:
    """Show a service's field errors on the form (unknown fields become form errors)."""
    for name, messages in error.errors.items():
        for message in messages:
            form.add_error(name if name in form.fields else None, message)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class CampaignForm(forms.Form):
    name = forms.CharField(max_length=200)
    channel = forms.ChoiceField(choices=Campaign.Channel.choices)
    status = forms.ChoiceField(choices=Campaign.Status.choices, initial=Campaign.Status.PLANNED)
    start_date = forms.DateField(widget=DateInput())
    end_date = forms.DateField(widget=DateInput(), help_text="The last day it runs.")
    owner = forms.ModelChoiceField(queryset=None, required=False, empty_label="Nobody yet")
    audience = forms.CharField(max_length=300, required=False)
    offer = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    landing_url = forms.CharField(
        label="Landing URL",
        required=False,
        max_length=200,
        widget=forms.URLInput(attrs={"placeholder": "https://"}),
    )
    cost = forms.DecimalField(min_value=0, max_digits=12, decimal_places=2, initial=0)
    talking_point_1 = forms.CharField(label="Talking point 1", max_length=300, required=False)
    talking_point_2 = forms.CharField(label="Talking point 2", max_length=300, required=False)
    talking_point_3 = forms.CharField(
        label="Talking point 3 (optional)", max_length=300, required=False
    )
    quote = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text="A line from a customer that sales can use with prospects.",
    )

    def __init__(self, *args, campaign: Campaign | None = None, **kwargs):
        if campaign is not None and "initial" not in kwargs:
            points = [p.text for p in campaign.talking_points.all()]
            kwargs["initial"] = {
                **{n: getattr(campaign, n) for n in self.base_fields if hasattr(campaign, n)},
                **{f"talking_point_{i}": text for i, text in enumerate(points, start=1)},
            }
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = campaign_owners()
        self.fields["owner"].label_from_instance = lambda u: u.get_full_name() or u.username

    @property
    def talking_points(self) -> list[str]:
        points = [self.cleaned_data.get(f"talking_point_{i}", "").strip() for i in (1, 2, 3)]
        while points and not points[-1]:
            points.pop()  # an empty optional third point is no point
        return points

    @property
    def values(self) -> dict:
        names = (
            "name",
            "channel",
            "status",
            "start_date",
            "end_date",
            "owner",
            "audience",
            "offer",
            "landing_url",
            "cost",
            "quote",
        )
        return {name: self.cleaned_data.get(name) for name in names}

    def clean(self):
        cleaned = super().clean()
        errors = campaign_errors(values=self.values, talking_points=self.talking_points)
        for name, messages in errors.items():
            if name == "talking_points":
                target = next(
                    (f"talking_point_{i}" for i in (1, 2) if not cleaned.get(f"talking_point_{i}")),
                    "talking_point_1",
                )
                for message in messages:
                    self.add_error(target, message)
            elif name in self.fields and name not in self.errors:
                for message in messages:
                    self.add_error(name, message)
        return cleaned


class TemplateForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="For you: e.g. “After the webinar”.")
    subject = forms.CharField(max_length=200)
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 10}))


class ResourceForm(forms.Form):
    kind = forms.ChoiceField(choices=EnablementResource.Kind.choices)
    title = forms.CharField(max_length=200)
    url = forms.CharField(
        label="Link",
        required=False,
        max_length=200,
        widget=forms.URLInput(attrs={"placeholder": "https://"}),
        help_text="Required for collateral.",
    )
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False)


class ContentRequestForm(forms.Form):
    kind = forms.ChoiceField(choices=ContentRequest.Kind.choices, label="What do you need?")
    need_by = forms.DateField(widget=DateInput(), label="Need it by")
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}),
        label="The deal and what would help",
    )


class DeliverForm(forms.Form):
    url = forms.CharField(
        label="Link",
        required=False,
        max_length=200,
        widget=forms.URLInput(attrs={"placeholder": "https://"}),
    )
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="Where the file is, or what to tell the prospect.",
    )
