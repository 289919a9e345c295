"""The endpoint form: it parses input into the shapes the services take; the services check
the rules (webhooks.services.endpoint_errors) and their errors come back on the fields."""

from django import forms

from webhooks.models import SUBSCRIBABLE, EventType


class EndpointForm(forms.Form):
    url = forms.CharField(
        label="URL",
        max_length=500,
        help_text="https:// address that receives a signed POST for each event.",
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/hooks/smarketing"}),
    )
    description = forms.CharField(max_length=200, required=False)
    events = forms.MultipleChoiceField(
        label="Events",
        choices=[(event.value, event.label) for event in SUBSCRIBABLE],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one event."},
    )
    is_active = forms.BooleanField(required=False, initial=True, label="Active")

    @classmethod
    def initial_for(cls, endpoint) -> dict:
        return {
            "url": endpoint.url,
            "description": endpoint.description,
            "events": list(endpoint.events),
            "is_active": endpoint.is_active,
        }

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "url": data["url"],
            "description": data["description"],
            "events": list(data["events"]),
            "is_active": data["is_active"],
        }


EVENT_LABELS = dict(EventType.choices)
