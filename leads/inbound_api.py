"""``POST /api/v1/inbound/``: a web form, product sign-up or chat payload → the lead created or
matched by email, and one engagement event (``leads.inbound_services``).

Who may post: marketers, managers, and integration accounts granted both
``leads.add_engagementevent`` (what the events API needs) and ``leads.add_lead`` (inbound
creates leads and writes their contact data) — ``inbound_may_post``.
"""

import json

from django.urls import path
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import error_responses
from core.permissions import UserPasses
from leads.api import LeadSerializer
from leads.inbound_services import (
    CONTACT_IN,
    RESERVED_METADATA,
    InboundIn,
    InboundSource,
    inbound_may_post,
    inbound_receive,
)
from leads.scoring_api import BIGINT_MAX
from leads.scoring_services import FUTURE_TOLERANCE

METADATA_MAX_CHARS = 10_000


class InboundSerializer(LeadSerializer):
    """The payload: the contact fields validate exactly as on ``/api/v1/leads/``."""

    source = serializers.ChoiceField(
        choices=InboundSource.CHOICES,
        help_text="form → a form_submit event; signup → trial_signup (makes a PQL); "
        "chat → chat_conversation (makes a CQL).",
    )
    campaign = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=BIGINT_MAX,
        help_text="The campaign id: a new lead's source campaign, and the event's campaign.",
    )
    occurred_at = serializers.DateTimeField(required=False, help_text="Defaults to now.")
    external_id = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=200,
        help_text="The sender's id for this payload: a replay with the same source and "
        "external_id answers as the first delivery did and writes nothing.",
    )
    message = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=5000,
        help_text="What the person wrote; kept in the event's metadata.",
    )
    metadata = serializers.DictField(
        required=False,
        default=dict,
        help_text=f"Anything else (JSON object, at most {METADATA_MAX_CHARS} characters); "
        f"the keys {', '.join(RESERVED_METADATA)} are reserved.",
    )

    class Meta(LeadSerializer.Meta):
        fields = [
            "source",
            "email",
            *sorted(CONTACT_IN, key=LeadSerializer.Meta.fields.index),
            "campaign",
            "occurred_at",
            "external_id",
            "message",
            "metadata",
        ]
        read_only_fields: list[str] = []
        extra_kwargs = {
            **LeadSerializer.Meta.extra_kwargs,
            "email": {"help_text": "Matched case-insensitively."},
        }

    def validate_metadata(self, value: dict) -> dict:
        clash = [key for key in RESERVED_METADATA if key in value]
        if clash:
            raise serializers.ValidationError(
                f"The key {clash[0]!r} is reserved: send the message as message."
            )
        if len(json.dumps(value, default=str)) > METADATA_MAX_CHARS:
            raise serializers.ValidationError(
                f"Keep the metadata under {METADATA_MAX_CHARS} characters of JSON."
            )
        return value

    def validate_occurred_at(self, value):
        if value > timezone.now() + FUTURE_TOLERANCE:
            raise serializers.ValidationError("It cannot happen in the future.")
        return value


class InboundResultSerializer(serializers.Serializer):
    lead = serializers.IntegerField(help_text="The lead's id.")
    created = serializers.BooleanField(help_text="True when this payload created the lead.")
    filled = serializers.ListField(
        child=serializers.CharField(),
        help_text="Lead fields this payload set: on a match, only fields that were empty.",
    )
    event = serializers.ChoiceField(
        choices=["stored", "duplicate"],
        help_text="duplicate: this source and external_id were received before.",
    )


class InboundView(APIView):
    permission_classes = [
        permissions.IsAuthenticated,
        UserPasses(inbound_may_post, message="Your account may not post inbound leads."),
    ]
    parser_classes = [JSONParser]

    @extend_schema(
        tags=["inbound"],
        summary="A web form, product sign-up or chat payload → lead created or matched by email",
        description=(
            "Matches the lead by `email` case-insensitively, or creates it in stage new "
            "(source channel from `source`, source campaign from `campaign`). On a match only "
            "fields that are empty on the lead are filled; nothing sales or marketing entered is "
            "overwritten; `filled` lists them. One engagement event is recorded (form → "
            "form_submit, signup → trial_signup, chat → chat_conversation) and scoring and "
            "qualification run as for any event: a sign-up makes a lead marketing holds a PQL, "
            "a chat a CQL, with a handoff to sales. All in one transaction. A replay with the "
            "same `source` and `external_id` answers as the first delivery did (same status, "
            "lead, created and filled) with `event: duplicate`, and writes nothing. "
            "201 when the lead was created, 200 when it was matched."
        ),
        request=InboundSerializer,
        responses={
            201: InboundResultSerializer,
            200: InboundResultSerializer,
            **error_responses(400, 403),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = InboundSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        body = dict(serializer.validated_data)
        result = inbound_receive(
            actor=request.user,
            payload=InboundIn(
                source=body["source"],
                email=body["email"],
                occurred_at=body.get("occurred_at") or timezone.now(),
                contact={name: body[name] for name in CONTACT_IN if name in body},
                campaign_id=body.get("campaign"),
                external_id=body["external_id"],
                message=body["message"],
                metadata=body["metadata"],
            ),
        )
        answer = InboundResultSerializer(
            {
                "lead": result.lead_id,
                "created": result.created,
                "filled": result.filled,
                "event": "duplicate" if result.duplicate else "stored",
            }
        ).data
        return Response(
            answer, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        )


urlpatterns = [path("inbound/", InboundView.as_view(), name="api-inbound")]
