"""REST API: /api/v1/campaigns/ (list, create, read, update) with talking points and quote,
and /api/v1/campaigns/{id}/leads/ (the campaign's lead list). Marketers and managers write;
reps read. Writes go through campaigns.services; their rule errors come back per field."""

from django.db.models import Count, Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from campaigns.models import Campaign, TalkingPoint
from campaigns.selectors import LeadListFilters, campaign_leads, campaign_owners
from campaigns.services import (
    CAMPAIGN_FIELDS,
    CampaignInvalid,
    campaign_create,
    campaign_errors,
    campaign_update,
)
from core.errors import DomainError
from core.roles import Role, has_role
from leads.models import QUALIFIED_STAGES, Lead, Stage, Temperature


class TalkingPointsField(serializers.ListField):
    """Talking points as an ordered list of 2-3 strings."""

    def __init__(self, **kwargs):
        super().__init__(
            child=serializers.CharField(max_length=300, allow_blank=True, trim_whitespace=True),
            min_length=2,
            max_length=3,
            **kwargs,
        )

    def get_attribute(self, instance):
        return [point.text for point in instance.talking_points.all()]


class CampaignSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=200)
    channel = serializers.ChoiceField(choices=Campaign.Channel.choices)
    status = serializers.ChoiceField(choices=Campaign.Status.choices, required=False)
    start_date = serializers.DateField()
    end_date = serializers.DateField()
    audience = serializers.CharField(max_length=300, allow_blank=True, required=False)
    offer = serializers.CharField(allow_blank=True, required=False)
    landing_url = serializers.CharField(max_length=200, allow_blank=True, required=False)
    cost = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=0, required=False, coerce_to_string=True
    )
    owner = serializers.PrimaryKeyRelatedField(
        queryset=campaign_owners(), allow_null=True, required=False
    )
    talking_points = TalkingPointsField()
    quote = serializers.CharField(allow_blank=True, required=False)
    archived = serializers.SerializerMethodField()
    launch_notified_at = serializers.DateTimeField(read_only=True)
    lead_count = serializers.SerializerMethodField()
    leads_url = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def get_archived(self, campaign) -> bool:
        return campaign.is_archived

    def get_lead_count(self, campaign) -> int:
        count = getattr(campaign, "lead_count", None)
        return count if count is not None else campaign.sourced_leads.count()

    def get_leads_url(self, campaign) -> str:
        request = self.context.get("request")
        path = f"/api/v1/campaigns/{campaign.pk}/leads/"
        return request.build_absolute_uri(path) if request else path

    def validate(self, attrs):
        instance = self.instance
        values = {n: getattr(instance, n) for n in CAMPAIGN_FIELDS} if instance else {}
        values.update({k: v for k, v in attrs.items() if k in CAMPAIGN_FIELDS})
        values.setdefault("status", Campaign.Status.PLANNED)
        points = attrs.get("talking_points")
        errors = campaign_errors(values=values, talking_points=points)
        if errors:
            raise ValidationError(errors)
        return attrs


class CampaignLeadSerializer(serializers.ModelSerializer):
    owner = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = Lead
        fields = (
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
            "deal_amount",
            "created_at",
        )
        read_only_fields = fields


class ReadForTeamWriteForMarketing(permissions.BasePermission):
    message = "Only marketing and managers change campaigns."

    def has_permission(self, request, view):
        if request.method in permissions.SAFE_METHODS:
            return has_role(request.user, Role.REP, Role.MARKETER)
        return has_role(request.user, Role.MARKETER)


class DomainRefused(APIException):
    default_code = "refused"


def _call(service, **kwargs):
    try:
        return service(**kwargs)
    except CampaignInvalid as error:
        raise ValidationError(error.errors) from None
    except DomainError as error:
        exc = DomainRefused({"detail": error.message, "code": error.code})
        exc.status_code = error.status_code
        raise exc from None


class CampaignViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Campaigns with their talking points and quote. Filter with ``status``, ``channel``,
    ``owner`` and ``archived`` (true/false, default false)."""

    serializer_class = CampaignSerializer
    permission_classes = [permissions.IsAuthenticated, ReadForTeamWriteForMarketing]
    filterset_fields = ("status", "channel", "owner")

    def get_queryset(self):
        rows = (
            Campaign.objects.select_related("owner")
            .prefetch_related(
                Prefetch("talking_points", queryset=TalkingPoint.objects.order_by("position"))
            )
            .annotate(lead_count=Count("sourced_leads"))
            .order_by("-start_date", "name", "pk")
        )
        if self.action == "list":
            archived = self.request.query_params.get("archived", "false").lower() == "true"
            rows = rows.filter(archived_at__isnull=not archived)
        return rows

    @extend_schema(
        parameters=[OpenApiParameter("archived", bool, description="List archived campaigns")]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        points = data.pop("talking_points")
        campaign = _call(campaign_create, actor=request.user, talking_points=points, **data)
        out = self.get_serializer(self.get_queryset().get(pk=campaign.pk))
        return Response(out.data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        instance = self.get_object()
        serializer = self.get_serializer(instance, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        points = data.pop("talking_points", None)
        _call(
            campaign_update,
            campaign_id=instance.pk,
            actor=request.user,
            talking_points=points,
            **data,
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=instance.pk)).data)

    @extend_schema(
        responses=CampaignLeadSerializer(many=True),
        parameters=[
            OpenApiParameter("stage", str, enum=Stage.values),
            OpenApiParameter("kind", str, enum=[s.value for s in QUALIFIED_STAGES]),
            OpenApiParameter("temperature", str, enum=Temperature.values),
            OpenApiParameter("owner", int),
            OpenApiParameter("search", str),
        ],
        filters=False,
    )
    @action(detail=True, methods=["get"], serializer_class=CampaignLeadSerializer)
    def leads(self, request, pk=None):
        """The campaign's lead list (leads whose source campaign it is), as far as the caller
        may see them."""
        # Not self.get_object(): the campaign filters (owner…) must not apply to lead filters.
        campaign = get_object_or_404(self.get_queryset(), pk=pk)
        self.check_object_permissions(request, campaign)
        params = request.query_params
        owner = params.get("owner", "")
        filters = LeadListFilters(
            stage=params.get("stage", "") if params.get("stage") in Stage.values else "",
            kind=params.get("kind", "")
            if params.get("kind") in [s.value for s in QUALIFIED_STAGES]
            else "",
            temperature=params.get("temperature", "")
            if params.get("temperature") in Temperature.values
            else "",
            owner=int(owner) if owner.isdigit() else None,
            search=params.get("search", "")[:100],
        )
        rows = campaign_leads(campaign=campaign, user=request.user, filters=filters)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(CampaignLeadSerializer(page, many=True).data)


router = SimpleRouter()
router.register("campaigns", CampaignViewSet, basename="campaign")
urlpatterns = router.urls
