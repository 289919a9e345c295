"""The scoring REST API: ``POST /api/v1/events/`` (engagement events, one or a list) and
``GET``/``PUT /api/v1/scoring/`` (the active rules and thresholds).

Who may post events: marketers, managers, and integration accounts granted the
``leads.add_engagementevent`` permission (give an integration user that permission and a token;
it needs no role). Reading the rules is open to every signed-in user; changing them to
marketers and managers, and every change is a new version followed by a full rescore.
"""

from django.urls import path
from django.utils import timezone
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import permissions, serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import error_responses
from core.errors import InvalidInput
from core.permissions import UserPasses
from leads.models import EventKind, FitRule, ScoringModel
from leads.scoring_selectors import scoring_active
from leads.scoring_services import (
    EVENTS_PER_REQUEST,
    FUTURE_TOLERANCE,
    EventIn,
    engagement_rule_clean,
    events_ingest,
    events_may_post,
    fit_rule_clean,
    scoring_version_create,
    thresholds_clean,
)

BIGINT_MAX = 2**63 - 1


def _as_validation_error(error: InvalidInput) -> serializers.ValidationError:
    return serializers.ValidationError({error.field: [error.message]})


# --- events ------------------------------------------------------------------------------------
class EventInSerializer(serializers.Serializer):
    email = serializers.EmailField(
        required=False, max_length=254, help_text="The lead's email (matched case-insensitively)."
    )
    lead = serializers.IntegerField(
        required=False, min_value=1, max_value=BIGINT_MAX, help_text="Or the lead's id."
    )
    kind = serializers.ChoiceField(choices=EventKind.choices)
    occurred_at = serializers.DateTimeField(required=False, help_text="Defaults to now.")
    external_id = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=200,
        help_text="The sender's id: an event with a known (source, external_id) is stored once.",
    )
    source = serializers.RegexField(
        r"^[A-Za-z0-9_.:-]{1,40}$",
        required=False,
        default="api",
        help_text="Who sent it (letters, digits, . _ : -), e.g. website, hubspot. Default api.",
    )
    campaign = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=BIGINT_MAX
    )
    url = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)
    metadata = serializers.DictField(required=False, default=dict)

    def validate(self, attrs: dict) -> dict:
        if ("email" in attrs) == ("lead" in attrs):
            raise serializers.ValidationError(
                {"email": ["Give the lead's email or its id (one of them)."]}
            )
        occurred_at = attrs.get("occurred_at") or timezone.now()
        if occurred_at > timezone.now() + FUTURE_TOLERANCE:
            raise serializers.ValidationError({"occurred_at": ["It cannot happen in the future."]})
        attrs["occurred_at"] = occurred_at
        return attrs


class EventsInSerializer(serializers.Serializer):
    """For the schema only: one event, or a list of them (``EventsInSchema`` draws it)."""


class EventsInSchema(OpenApiSerializerExtension):
    target_class = EventsInSerializer

    def map_serializer(self, auto_schema, direction):
        one = auto_schema.resolve_serializer(EventInSerializer, direction).ref
        many = {"type": "array", "items": one, "minItems": 1, "maxItems": EVENTS_PER_REQUEST}
        return {"oneOf": [one, many]}


def _item_errors(index: int, errors) -> dict:
    if isinstance(errors, dict):
        return {"index": index, **errors}
    return {"index": index, "non_field_errors": list(errors)}


class EventIngestView(APIView):
    permission_classes = [
        permissions.IsAuthenticated,
        UserPasses(events_may_post, message="Your account may not post engagement events."),
    ]
    parser_classes = [JSONParser]

    @extend_schema(
        tags=["events"],
        summary="Post engagement events (one object or a list of up to 1000)",
        description=(
            "Each event names its lead by `email` (matched case-insensitively; an unknown email "
            "creates a lead in stage new, its source channel from the event kind) or by `lead` "
            "id. An event whose (`source`, `external_id`) was stored before is a duplicate and "
            "changes nothing. A trial sign-up makes a lead marketing holds a PQL, a chat "
            "conversation a CQL; every stored event rescores its lead within seconds. "
            "All or nothing: when an item is invalid, the 400 lists the errors of every "
            "invalid item with its `index` and nothing is stored."
        ),
        request=EventsInSerializer,
        responses={
            202: inline_serializer(
                "EventsAccepted",
                {
                    "accepted": serializers.IntegerField(),
                    "stored": serializers.IntegerField(),
                    "duplicates": serializers.IntegerField(),
                    "events": inline_serializer(
                        "EventAccepted",
                        {
                            "index": serializers.IntegerField(),
                            "lead": serializers.IntegerField(),
                            "duplicate": serializers.BooleanField(),
                            "lead_created": serializers.BooleanField(),
                        },
                        many=True,
                    ),
                },
            ),
            **error_responses(400, 403),
        },
    )
    def post(self, request: Request) -> Response:
        data = request.data
        items = [data] if isinstance(data, dict) else data if isinstance(data, list) else None
        if not items:
            return Response(
                {"detail": "Send an event object or a non-empty list of them.", "code": "invalid"},
                status=status.HTTP_400_BAD_REQUEST,
            )
        if len(items) > EVENTS_PER_REQUEST:
            return Response(
                {
                    "detail": f"Send at most {EVENTS_PER_REQUEST} events at once.",
                    "code": "invalid",
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        errors, events = [], []
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                errors.append(_item_errors(index, ["Each event is a JSON object."]))
                continue
            serializer = EventInSerializer(data=item)
            if not serializer.is_valid():
                errors.append(_item_errors(index, serializer.errors))
                continue
            body = serializer.validated_data
            events.append(
                EventIn(
                    kind=body["kind"],
                    occurred_at=body["occurred_at"],
                    email=body.get("email", ""),
                    lead_id=body.get("lead"),
                    external_id=body["external_id"],
                    source=body["source"],
                    campaign_id=body.get("campaign"),
                    url=body["url"],
                    metadata=body["metadata"],
                )
            )
        if not errors:
            try:
                stored = events_ingest(actor=request.user, events=events)
            except InvalidInput as error:
                index, _, name = error.field.partition(".")
                if not index.isdigit():
                    raise
                errors.append({"index": int(index), name: [error.message]})
        if errors:
            return Response(
                {
                    "detail": f"{len(errors)} of {len(items)} events are invalid; none was stored.",
                    "code": "invalid",
                    "errors": errors,
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        duplicates = sum(1 for s in stored if s.duplicate)
        return Response(
            {
                "accepted": len(stored),
                "stored": len(stored) - duplicates,
                "duplicates": duplicates,
                "events": [
                    {
                        "index": s.index,
                        "lead": s.lead_id,
                        "duplicate": s.duplicate,
                        "lead_created": s.lead_created,
                    }
                    for s in stored
                ],
            },
            status=status.HTTP_202_ACCEPTED,
        )


# --- the rules -----------------------------------------------------------------------------------
class FitRuleSerializer(serializers.Serializer):
    field = serializers.ChoiceField(choices=FitRule.Field.choices)
    operator = serializers.ChoiceField(choices=FitRule.Operator.choices)
    value = serializers.JSONField(
        help_text="A string or number; a list of them for `in`. Company size is a number."
    )
    points = serializers.IntegerField(min_value=-1000, max_value=1000)

    def validate(self, attrs: dict) -> dict:
        try:
            return fit_rule_clean(**attrs)
        except InvalidInput as error:
            raise _as_validation_error(error) from None


class EngagementRuleSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=EventKind.choices)
    points = serializers.IntegerField(min_value=1, max_value=1000, help_text="Per event.")
    half_life_days = serializers.IntegerField(min_value=1, max_value=3650)
    cap = serializers.IntegerField(
        min_value=1, max_value=1000, help_text="Most points from this kind; at least `points`."
    )

    def validate(self, attrs: dict) -> dict:
        try:
            return engagement_rule_clean(**attrs)
        except InvalidInput as error:
            raise _as_validation_error(error) from None


class ThresholdsSerializer(serializers.Serializer):
    warm = serializers.IntegerField(min_value=1, max_value=1000)
    hot = serializers.IntegerField(min_value=1, max_value=1000, help_text="Above warm.")
    mql = serializers.IntegerField(
        min_value=1, max_value=1000, help_text="A lead marketing holds is handed off here."
    )

    def validate(self, attrs: dict) -> dict:
        try:
            return thresholds_clean(**attrs)
        except InvalidInput as error:
            raise _as_validation_error(error) from None


class ScoringSerializer(serializers.Serializer):
    version = serializers.IntegerField(read_only=True)
    created_by = serializers.CharField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    rescored_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="When every lead had been rescored with it."
    )
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    based_on = serializers.IntegerField(
        write_only=True,
        required=False,
        min_value=0,
        help_text="The version your change starts from (0 when none was saved): if someone "
        "saved another version since, the save is refused with 409 instead of overwriting it.",
    )
    thresholds = ThresholdsSerializer()
    fit_rules = FitRuleSerializer(many=True, max_length=50)
    engagement_rules = EngagementRuleSerializer(many=True, max_length=len(EventKind.values))

    def validate_engagement_rules(self, rules: list[dict]) -> list[dict]:
        # Keyed by item index, like DRF's own errors for the items of a list.
        errors, seen = {}, set()
        for index, rule in enumerate(rules):
            if rule["kind"] in seen:
                errors[index] = {"kind": ["One rule per kind."]}
            seen.add(rule["kind"])
        if errors:
            raise serializers.ValidationError(errors)
        return rules


def _scoring_out(version: ScoringModel) -> dict:
    author = version.created_by
    return {
        "version": version.number,
        "created_by": author.username if author else None,
        "created_at": version.created_at,
        "rescored_at": version.rescored_at,
        "note": version.note,
        "thresholds": {
            "warm": version.warm_threshold,
            "hot": version.hot_threshold,
            "mql": version.mql_threshold,
        },
        "fit_rules": [
            {"field": r.field, "operator": r.operator, "value": r.value, "points": r.points}
            for r in version.fit_rules.all()
        ],
        "engagement_rules": [
            {
                "kind": r.kind,
                "points": r.points,
                "half_life_days": r.half_life_days,
                "cap": r.cap,
            }
            for r in version.engagement_rules.all()
        ],
    }


class ScoringView(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        tags=["scoring"],
        summary="The active scoring rules and thresholds",
        responses={
            200: ScoringSerializer,
            404: OpenApiResponse(description="No rules were saved yet."),
        },
    )
    def get(self, request: Request) -> Response:
        version = scoring_active()
        if version is None:
            return Response(
                {"detail": "No scoring rules were saved yet.", "code": "no_rules"},
                status=status.HTTP_404_NOT_FOUND,
            )
        return Response(ScoringSerializer(_scoring_out(version)).data)

    @extend_schema(
        tags=["scoring"],
        summary="Replace the rules: a new version, then every lead is rescored (marketers, "
        "managers)",
        request=ScoringSerializer,
        responses={200: ScoringSerializer, **error_responses(400, 403, 409)},
    )
    def put(self, request: Request) -> Response:
        serializer = ScoringSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        body = serializer.validated_data
        version = scoring_version_create(
            actor=request.user,
            note=body["note"],
            fit_rules=body["fit_rules"],
            engagement_rules=body["engagement_rules"],
            based_on=body.get("based_on"),
            **body["thresholds"],
        )
        return Response(ScoringSerializer(_scoring_out(scoring_active() or version)).data)


urlpatterns = [
    path("events/", EventIngestView.as_view(), name="api-events"),
    path("scoring/", ScoringView.as_view(), name="api-scoring"),
]
