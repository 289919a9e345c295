"""``GET /api/v1/slas/audit/?month=YYYY-MM``: the monthly SLA audit's figures as JSON (managers).

The body carries the same ``figures`` the audit page shows — as signed once a head signed
the month, else live — plus the sign-offs and how the live figures differ from signed ones.
"""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import error_responses
from core.permissions import UserPasses
from core.roles import is_manager
from slas.audit import AuditMonth, AuditRead, audit_read


class SlaAuditQuerySerializer(serializers.Serializer):
    month = serializers.CharField(
        required=False,
        max_length=7,
        help_text="The month as YYYY-MM (2000-01 to 2099-12); last month when left out.",
    )

    def validate_month(self, value: str) -> AuditMonth:
        try:
            return AuditMonth.parse(value)
        except ValueError as error:
            raise serializers.ValidationError(str(error)) from None


class SlaAuditSignoffSerializer(serializers.Serializer):
    side = serializers.ChoiceField(choices=["sales", "marketing"])
    signed_by = serializers.CharField(allow_null=True, help_text="Username")
    signed_by_name = serializers.CharField(allow_blank=True)
    signed_at = serializers.DateTimeField()
    comment = serializers.CharField(allow_blank=True)


class SlaAuditDifferenceSerializer(serializers.Serializer):
    figure = serializers.CharField()
    signed = serializers.JSONField(allow_null=True)
    now = serializers.JSONField(allow_null=True)


class SlaAuditSerializer(serializers.Serializer):
    month = serializers.CharField(help_text="YYYY-MM")
    status = serializers.ChoiceField(
        choices=["open", "partly_signed", "signed"],
        help_text="open: nobody signed; partly_signed: one head; signed: both heads.",
    )
    figures = serializers.JSONField(
        help_text="The audit figures (as signed once a head signed the month, else live)."
    )
    signoffs = SlaAuditSignoffSerializer(many=True)
    live_figures_differ = serializers.BooleanField()
    differences = SlaAuditDifferenceSerializer(many=True)


def audit_payload(read: AuditRead) -> dict:
    return {
        "month": read.month.key,
        "status": read.status,
        "figures": read.figures,
        "signoffs": [
            {
                "side": signoff.side,
                "signed_by": signoff.signed_by.username if signoff.signed_by else None,
                "signed_by_name": signoff.signed_by.get_full_name() if signoff.signed_by else "",
                "signed_at": signoff.signed_at,
                "comment": signoff.comment,
            }
            for signoff in read.signoffs
        ],
        "live_figures_differ": bool(read.differences),
        "differences": read.differences,
    }


class SlaAuditView(APIView):
    permission_classes = [
        permissions.IsAuthenticated,
        UserPasses(is_manager, message="Only managers read the SLA audit."),
    ]

    @extend_schema(
        tags=["slas"],
        summary="The monthly SLA audit's figures (managers)",
        parameters=[SlaAuditQuerySerializer],
        responses={200: SlaAuditSerializer, **error_responses(400, 403)},
    )
    def get(self, request: Request) -> Response:
        query = SlaAuditQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        month = query.validated_data.get("month") or AuditMonth.before()
        return Response(SlaAuditSerializer(audit_payload(audit_read(month=month))).data)


urlpatterns = [path("", SlaAuditView.as_view(), name="api-sla-audit")]
