from django.db.models import QuerySet

from core.models import Heartbeat


def heartbeat_list() -> QuerySet[Heartbeat]:
    return Heartbeat.objects.order_by("process")
