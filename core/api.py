"""API plumbing shared by every app: token login, the error format, its schema docs."""

from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView, exception_handler, set_rollback

from core.errors import DomainError


def api_exception_handler(exc, context):
    """DRF's handler, plus the domain's refusals.

    A ``DomainError`` answers with its ``status_code`` (409, or 400/403 for its subclasses) and
    ``{"detail": message, "code": code}``, plus ``{field: [message]}`` when it names a field,
    so a client shows service errors where it shows serializer errors. A missing row answers 404.
    """
    if isinstance(exc, DomainError):
        body = {"detail": exc.message, "code": exc.code}
        if exc.field:
            body[exc.field] = [exc.message]
        set_rollback()
        return Response(body, status=exc.status_code)
    if isinstance(exc, ObjectDoesNotExist):  # e.g. a service's Lead.objects.get() lost a race
        exc = Http404()
    return exception_handler(exc, context)


class ApiErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, safe to show to the user.")
    code = serializers.CharField(
        required=False, help_text="Machine-readable reason, e.g. illegal_transition."
    )


_ERROR_DESCRIPTIONS = {
    400: "Invalid input: `{field: [messages]}`; a business rule adds `detail` and `code`.",
    403: "The caller's role or ownership does not allow this.",
    404: "No such object, or the caller may not see it.",
    409: "The object's current state refuses the operation (e.g. an illegal stage move).",
}


def error_responses(*status_codes: int) -> dict[int, OpenApiResponse]:
    """``extend_schema(responses=…)`` entries documenting the error bodies above."""
    return {
        code: OpenApiResponse(
            OpenApiTypes.OBJECT if code == 400 else ApiErrorSerializer,
            description=_ERROR_DESCRIPTIONS[code],
        )
        for code in status_codes
    }


class TokenObtainView(APIView):
    """Exchange a username and password for the user's API token."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        request=AuthTokenSerializer,
        responses={200: inline_serializer("TokenOut", {"token": serializers.CharField()})},
    )
    def post(self, request):
        serializer = AuthTokenSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        token, _ = Token.objects.get_or_create(user=serializer.validated_data["user"])
        return Response({"token": token.key})
