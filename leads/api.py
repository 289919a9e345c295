"""The leads REST API: thin DRF views over ``leads.services`` (writes) and ``leads.selectors``
(reads).

Every lead endpoint starts from the leads the caller may see (``lead_visibility_q``): any other
lead answers 404. Roles and ownership are the services' business; their ``DomainError``s become
400/403/409 responses in ``core.api.api_exception_handler``.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.contrib.auth.models import User
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import error_responses
from core.errors import InvalidInput
from leads import services
from leads.countries import ISO_COUNTRY_CODES
from leads.models import (
    QUALIFIED_STAGES,
    DisqualifyReason,
    Lead,
    LeadFeedback,
    LeadStageChange,
    LostReason,
    ReturnReason,
    Stage,
    Temperature,
    Touch,
)
from leads.selectors import QueueFilters, lead_list

COMPANY_SIZE_MAX = 2_147_483_647


# --- serializers ----------------------------------------------------------------------------
class LeadSerializer(serializers.ModelSerializer):
    """A lead as the API reads and writes it; stage, owner and score move through services."""

    country = serializers.RegexField(
        r"^[A-Za-z]{2}$",
        required=False,
        allow_blank=True,
        help_text="ISO 3166 alpha-2 code, e.g. DE.",
        error_messages={"invalid": "Enter a two-letter ISO 3166 country code, e.g. DE."},
    )

    class Meta:
        model = Lead
        fields = [
            "id",
            "first_name",
            "last_name",
            "email",
            "phone",
            "title",
            "company",
            "company_size",
            "industry",
            "country",
            "source_channel",
            "source_campaign",
            "stage",
            "kind",
            "owner",
            "score",
            "temperature",
            "created_at",
            "updated_at",
        ]
        # The column is a 4-byte integer on PostgreSQL.
        extra_kwargs = {"company_size": {"max_value": COMPANY_SIZE_MAX}}
        read_only_fields = [
            "id",
            "stage",
            "kind",
            "owner",
            "score",
            "temperature",
            "created_at",
            "updated_at",
        ]

    def validate_country(self, value: str) -> str:
        code = value.upper()
        if code and code not in ISO_COUNTRY_CODES:
            raise serializers.ValidationError(
                f"Unknown country code {code}: use an ISO 3166 code such as US, GB, DE."
            )
        return code


class LeadListQuerySerializer(serializers.Serializer):
    stage = serializers.ChoiceField(choices=Stage.choices, required=False)
    kind = serializers.ChoiceField(
        choices=[(s.value, s.label) for s in QUALIFIED_STAGES], required=False
    )
    temperature = serializers.ChoiceField(choices=Temperature.choices, required=False)
    owner = serializers.IntegerField(min_value=1, required=False, help_text="Owner's user id.")
    campaign = serializers.IntegerField(
        min_value=1, required=False, help_text="Source campaign id."
    )
    search = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="Part of the first or last name, email or company.",
    )
    min_score = serializers.IntegerField(
        min_value=0, max_value=1000, required=False, help_text="Only leads scoring at least this."
    )
    ordering = serializers.ChoiceField(
        choices=["-created_at", "score", "-score"],
        required=False,
        help_text="Newest first by default; -score is the highest score first.",
    )


def _reason_help() -> str:
    lists = [
        (Stage.RECYCLED, ReturnReason),
        (Stage.DISQUALIFIED, DisqualifyReason),
        (Stage.LOST, LostReason),
    ]
    return "Required for " + "; ".join(
        f"{stage.value}: {', '.join(reasons.values)}" for stage, reasons in lists
    )


class LeadTransitionSerializer(serializers.Serializer):
    # Value-only choices on purpose: drf-spectacular warns when one choice set gets two enum
    # names, and Lead.stage already names Stage's (value, label) set.
    to = serializers.ChoiceField(choices=Stage.values, help_text="The stage to move to.")
    reason = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=40, help_text=_reason_help()
    )
    note = serializers.CharField(required=False, allow_blank=True, default="")
    budget = serializers.CharField(
        required=False, allow_blank=True, max_length=200, help_text="BANT, required for sql."
    )
    authority = serializers.CharField(
        required=False, allow_blank=True, max_length=200, help_text="BANT, required for sql."
    )
    need = serializers.CharField(
        required=False, allow_blank=True, max_length=300, help_text="BANT, required for sql."
    )
    timeline = serializers.CharField(
        required=False, allow_blank=True, max_length=200, help_text="BANT, required for sql."
    )
    amount = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=0,
        required=False,
        allow_null=True,
        help_text="Deal amount, required for opportunity (and won when none was recorded).",
    )

    DETAIL_FIELDS = ("budget", "authority", "need", "timeline", "amount")


class LeadReassignSerializer(serializers.Serializer):
    to = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True),
        allow_null=True,
        help_text="The rep's user id, or null to put the lead back in the pool.",
    )


class TouchSerializer(serializers.ModelSerializer):
    class Meta:
        model = Touch
        fields = ["id", "lead", "rep", "kind", "outcome", "note", "occurred_at", "created_at"]
        read_only_fields = ["id", "lead", "rep", "created_at"]
        extra_kwargs = {"occurred_at": {"required": False, "help_text": "Defaults to now."}}


class FeedbackTagsField(serializers.MultipleChoiceField):
    """Reason tags as a list in their canonical order (MultipleChoiceField yields a set)."""

    def to_internal_value(self, data) -> list[str]:
        chosen = super().to_internal_value(data)
        return [value for value in self.choices if value in chosen]

    def to_representation(self, value) -> list[str]:
        return list(value)


class LeadFeedbackSerializer(serializers.ModelSerializer):
    tags = FeedbackTagsField(choices=LeadFeedback.Tag.choices, required=False)

    class Meta:
        model = LeadFeedback
        fields = ["id", "lead", "rep", "rating", "moment", "tags", "comment", "created_at"]
        read_only_fields = ["id", "lead", "rep", "created_at"]


class LeadStageChangeSerializer(serializers.ModelSerializer):
    # Plain strings: the stage enum is documented once, on Lead.stage.
    from_stage = serializers.CharField(read_only=True, help_text="Empty for the creation row.")
    to_stage = serializers.CharField(read_only=True)
    reason = serializers.CharField(source="reason_code", read_only=True)

    class Meta:
        model = LeadStageChange
        fields = [
            "id",
            "from_stage",
            "to_stage",
            "actor",
            "reason",
            "note",
            "details",
            "created_at",
        ]
        read_only_fields = fields


# --- views ----------------------------------------------------------------------------------
def _validated(serializer_class: type[serializers.Serializer], request: Request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


@contextmanager
def _fields_renamed(**api_names: str) -> Iterator[None]:
    """Report a service's input error under the name the API body uses for that input."""
    try:
        yield
    except InvalidInput as error:
        error.field = api_names.get(error.field, error.field)
        raise


@extend_schema(tags=["leads"])
@extend_schema_view(
    list=extend_schema(
        summary="Leads the caller may see, newest first",
        parameters=[LeadListQuerySerializer],
        responses={200: LeadSerializer(many=True), **error_responses(400)},
    ),
    retrieve=extend_schema(responses={200: LeadSerializer, **error_responses(404)}),
    create=extend_schema(
        summary="Create a lead in stage new (marketers and managers)",
        responses={201: LeadSerializer, **error_responses(400, 403)},
    ),
    update=extend_schema(responses={200: LeadSerializer, **error_responses(400, 403, 404)}),
    partial_update=extend_schema(responses={200: LeadSerializer, **error_responses(400, 403, 404)}),
)
class LeadViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = LeadSerializer
    queryset = Lead.objects.none()  # for schema introspection; get_queryset applies visibility
    filter_backends: list = []  # filtering is lead_list's job

    def get_queryset(self):
        return lead_list(user=self.request.user)

    def list(self, request: Request) -> Response:
        query = LeadListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        filters = QueueFilters(
            stage=q.get("stage", ""),
            kind=q.get("kind", ""),
            temperature=q.get("temperature", ""),
            campaign=q.get("campaign"),
            search=q.get("search", ""),
        )
        rows = lead_list(user=request.user, filters=filters, owner_id=q.get("owner"))
        if "min_score" in q:
            rows = rows.filter(score__gte=q["min_score"])
        if q.get("ordering") in ("score", "-score"):
            rows = rows.order_by(q["ordering"], "-pk" if q["ordering"] == "-score" else "pk")
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(LeadSerializer(page, many=True).data)

    def create(self, request: Request) -> Response:
        fields = _validated(LeadSerializer, request)
        lead = services.lead_create(actor=request.user, **fields)
        return Response(LeadSerializer(lead).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, pk: str, partial: bool = False) -> Response:
        lead = self.get_object()
        serializer = LeadSerializer(lead, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        lead = services.lead_update(
            lead_id=lead.pk, actor=request.user, **serializer.validated_data
        )
        return Response(LeadSerializer(lead).data)

    def partial_update(self, request: Request, pk: str) -> Response:
        return self.update(request, pk, partial=True)

    @extend_schema(
        summary="Move the lead to another stage",
        request=LeadTransitionSerializer,
        responses={200: LeadSerializer, **error_responses(400, 403, 404, 409)},
    )
    @action(detail=True, methods=["post"])
    def transition(self, request: Request, pk: str) -> Response:
        lead = self.get_object()
        body = _validated(LeadTransitionSerializer, request)
        details = {
            name: body[name]
            for name in LeadTransitionSerializer.DETAIL_FIELDS
            if body.get(name) not in (None, "")
        }
        with _fields_renamed(reason_code="reason"):
            lead = services.lead_transition(
                lead_id=lead.pk,
                actor=request.user,
                to=body["to"],
                reason_code=body["reason"],
                note=body["note"],
                details=details,
            )
        return Response(LeadSerializer(lead).data)

    @extend_schema(
        summary="Claim this lead from the pool (reps)",
        request=None,
        responses={200: LeadSerializer, **error_responses(403, 404, 409)},
    )
    @action(detail=True, methods=["post"])
    def claim(self, request: Request, pk: str) -> Response:
        lead = services.lead_claim(lead_id=self.get_object().pk, rep=request.user)
        return Response(LeadSerializer(lead).data)

    @extend_schema(
        summary="Give the lead to another rep, or back to the pool (managers)",
        request=LeadReassignSerializer,
        responses={200: LeadSerializer, **error_responses(400, 403, 404, 409)},
    )
    @action(detail=True, methods=["post"])
    def reassign(self, request: Request, pk: str) -> Response:
        lead = self.get_object()
        body = _validated(LeadReassignSerializer, request)
        with _fields_renamed(to_rep="to"):
            lead = services.lead_reassign(lead_id=lead.pk, actor=request.user, to_rep=body["to"])
        return Response(LeadSerializer(lead).data)

    @extend_schema(
        methods=["GET"],
        summary="The lead's logged touches, newest first",
        responses={200: TouchSerializer(many=True), **error_responses(404)},
    )
    @extend_schema(
        methods=["POST"],
        summary="Log a call, email or meeting (the first one satisfies first touch)",
        request=TouchSerializer,
        responses={201: TouchSerializer, **error_responses(400, 403, 404, 409)},
    )
    @action(detail=True, methods=["get", "post"])
    def touches(self, request: Request, pk: str) -> Response:
        lead = self.get_object()
        if request.method == "GET":
            page = self.paginate_queryset(Touch.objects.filter(lead=lead).order_by("-occurred_at"))
            return self.get_paginated_response(TouchSerializer(page, many=True).data)
        fields = _validated(TouchSerializer, request)
        touch = services.touch_log(lead_id=lead.pk, actor=request.user, **fields)
        return Response(TouchSerializer(touch).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Rate the lead's quality (reps who worked it, managers)",
        request=LeadFeedbackSerializer,
        responses={201: LeadFeedbackSerializer, **error_responses(400, 403, 404)},
    )
    @action(detail=True, methods=["post"])
    def feedback(self, request: Request, pk: str) -> Response:
        lead = self.get_object()
        fields = _validated(LeadFeedbackSerializer, request)
        feedback = services.feedback_give(lead_id=lead.pk, actor=request.user, **fields)
        return Response(LeadFeedbackSerializer(feedback).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="The lead's stage changes, oldest first",
        responses={200: LeadStageChangeSerializer(many=True), **error_responses(404)},
    )
    @action(detail=True, methods=["get"])
    def history(self, request: Request, pk: str) -> Response:
        lead = self.get_object()
        page = self.paginate_queryset(
            LeadStageChange.objects.filter(lead=lead).order_by("created_at", "id")
        )
        return self.get_paginated_response(LeadStageChangeSerializer(page, many=True).data)


class QueueClaimView(APIView):
    @extend_schema(
        tags=["queue"],
        summary="Claim the best lead in the pool (reps)",
        request=None,
        responses={
            200: LeadSerializer,
            204: OpenApiResponse(description="The pool is empty."),
            **error_responses(403, 409),
        },
    )
    def post(self, request: Request) -> Response:
        lead = services.queue_claim_next(rep=request.user)
        if lead is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(LeadSerializer(lead).data)
