"""REST API: /api/v1/slas/ — SLA agreements with their first-touch targets nested (everyone
in a role reads, managers write) and POST /api/v1/slas/{id}/sign/ for the heads. Writes go
through slas.services; their rule errors come back per field. The monthly audit action
(/api/v1/slas/audit/) joins this viewset."""

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from core.api import error_responses
from core.roles import Role, has_role, is_manager
from slas.models import Agreement, ResponseTarget, WorkingCalendar
from slas.services import (
    AGREEMENT_FIELDS,
    SIDES,
    TARGET_MAX_HOURS,
    AgreementInvalid,
    TargetSpec,
    agreement_create,
    agreement_errors,
    agreement_sign,
    agreement_update,
)


class TargetSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=[("mql", "MQL"), ("pql", "PQL"), ("cql", "CQL")])
    temperature = serializers.ChoiceField(
        choices=[("", "Any"), ("cold", "Cold"), ("warm", "Warm"), ("hot", "Hot")],
        required=False,
        default="",
        allow_blank=True,
    )
    hours = serializers.IntegerField(min_value=1, max_value=TARGET_MAX_HOURS)


class SignatureSerializer(serializers.Serializer):
    head = serializers.IntegerField(allow_null=True, help_text="The signer's user id")
    head_name = serializers.CharField(allow_null=True)
    signed_at = serializers.DateTimeField(allow_null=True)


class AgreementSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=150)
    starts_on = serializers.DateField()
    ends_on = serializers.DateField()
    calendar = serializers.PrimaryKeyRelatedField(queryset=WorkingCalendar.objects.all())
    mqls_per_month = serializers.IntegerField(min_value=0)
    min_acceptance_rate = serializers.DecimalField(
        max_digits=5, decimal_places=2, min_value=0, max_value=100, coerce_to_string=True
    )
    content_turnaround_hours = serializers.IntegerField(min_value=1, required=False)
    follow_up_attempts = serializers.IntegerField(min_value=1, required=False)
    max_untouched_sal_days = serializers.IntegerField(min_value=1, required=False)
    warn_at_percent = serializers.IntegerField(min_value=1, max_value=99, required=False)
    escalation = serializers.ChoiceField(choices=Agreement.Escalation.choices, required=False)
    escalate_after_hours = serializers.IntegerField(min_value=0, required=False)
    targets = TargetSerializer(many=True)
    sales_signature = serializers.SerializerMethodField()
    marketing_signature = serializers.SerializerMethodField()
    is_signed = serializers.BooleanField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def _signature(self, agreement: Agreement, side: str) -> dict:
        head = getattr(agreement, f"{side}_head")
        return {
            "head": head.pk if head else None,
            "head_name": (head.get_full_name() or head.username) if head else None,
            "signed_at": getattr(agreement, f"{side}_signed_at"),
        }

    @extend_schema_field(SignatureSerializer)
    def get_sales_signature(self, agreement: Agreement) -> dict:
        return self._signature(agreement, "sales")

    @extend_schema_field(SignatureSerializer)
    def get_marketing_signature(self, agreement: Agreement) -> dict:
        return self._signature(agreement, "marketing")

    def validate(self, attrs):
        instance = self.instance
        values = {n: getattr(instance, n) for n in AGREEMENT_FIELDS} if instance else {}
        if instance is None:
            values.update(
                {
                    f.name: f.default
                    for f in Agreement._meta.concrete_fields
                    if f.name in AGREEMENT_FIELDS and f.has_default()
                }
            )
        values.update({k: v for k, v in attrs.items() if k in AGREEMENT_FIELDS})
        targets = _specs(attrs["targets"]) if "targets" in attrs else None
        errors = agreement_errors(
            values=values, targets=targets, agreement_id=instance.pk if instance else None
        )
        if errors:
            raise ValidationError(errors)
        return attrs


class SignInSerializer(serializers.Serializer):
    side = serializers.ChoiceField(choices=[(side, side) for side in SIDES])


def _specs(targets: list[dict]) -> list[TargetSpec]:
    return [TargetSpec(t["kind"], t.get("temperature") or "", t["hours"]) for t in targets]


class ReadForTeamWriteForManagers(permissions.BasePermission):
    message = "Only managers change SLA agreements."

    def has_permission(self, request, view):
        if not has_role(request.user, Role.REP, Role.MARKETER):
            return False
        if request.method in permissions.SAFE_METHODS or getattr(view, "action", "") == "sign":
            return True
        return is_manager(request.user)


def _call(service, **kwargs):
    """Run a write service; its field errors come back all at once, per field (other
    refusals reach core.api's handler: 403 or 409 with the message)."""
    try:
        return service(**kwargs)
    except AgreementInvalid as error:
        raise ValidationError(error.errors) from None


class SlaAgreementViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """SLA agreements, latest first, each with its first-touch targets and both heads'
    signatures. Any change to a signed agreement clears both signatures."""

    serializer_class = AgreementSerializer
    permission_classes = [permissions.IsAuthenticated, ReadForTeamWriteForManagers]
    filterset_fields = ("calendar",)

    def get_queryset(self):
        return (
            Agreement.objects.select_related("sales_head", "marketing_head")
            .prefetch_related(
                Prefetch("targets", queryset=ResponseTarget.objects.order_by("kind", "temperature"))
            )
            .order_by("-starts_on", "-pk")
        )

    @extend_schema(responses={201: AgreementSerializer, **error_responses(400, 403)})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        targets = _specs(data.pop("targets"))
        saved = _call(agreement_create, actor=request.user, targets=targets, **data)
        out = self.get_serializer(self.get_queryset().get(pk=saved.agreement.pk))
        return Response(out.data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: AgreementSerializer, **error_responses(400, 403, 404)})
    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        instance = self.get_object()
        serializer = self.get_serializer(instance, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        targets = _specs(data.pop("targets")) if "targets" in data else None
        _call(
            agreement_update, agreement_id=instance.pk, actor=request.user, targets=targets, **data
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=instance.pk)).data)

    @extend_schema(
        request=SignInSerializer,
        responses={200: AgreementSerializer, **error_responses(400, 403, 404, 409)},
    )
    @action(detail=True, methods=["post"])
    def sign(self, request, pk=None):
        """Sign as the sales head (a manager) or the marketing head (a marketer or manager)."""
        agreement = self.get_object()
        body = SignInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        _call(
            agreement_sign,
            agreement_id=agreement.pk,
            actor=request.user,
            side=body.validated_data["side"],
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=agreement.pk)).data)


router = SimpleRouter()
router.register("slas", SlaAgreementViewSet, basename="sla-agreement")
urlpatterns = router.urls
