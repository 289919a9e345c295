import datetime

import factory

from slas.models import Agreement, Holiday, ResponseTarget, WorkingCalendar


class WorkingCalendarFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WorkingCalendar
        django_get_or_create = ("name",)

    name = "Berlin office"
    timezone = "Europe/Berlin"
    working_days = factory.LazyFunction(lambda: [0, 1, 2, 3, 4])
    day_start = datetime.time(9)
    day_end = datetime.time(17)


class HolidayFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Holiday

    calendar = factory.SubFactory(WorkingCalendarFactory)
    date = datetime.date(2026, 12, 25)
    name = "Christmas Day"


class AgreementFactory(factory.django.DjangoModelFactory):
    """An agreement for Q4 2026 with the usual first-touch targets."""

    class Meta:
        model = Agreement
        skip_postgeneration_save = True

    name = "Q4 2026 SLA"
    starts_on = datetime.date(2026, 10, 1)
    ends_on = datetime.date(2026, 12, 31)
    calendar = factory.SubFactory(WorkingCalendarFactory)
    mqls_per_month = 120
    min_acceptance_rate = 70
    escalate_after_hours = 4

    @factory.post_generation
    def targets(self, create, extracted, **kwargs):
        if not create:
            return
        for kind, temperature, hours in extracted or [
            ("cql", "", 1),
            ("pql", "", 2),
            ("mql", "hot", 4),
            ("mql", "", 24),
        ]:
            ResponseTarget.objects.create(
                agreement=self, kind=kind, temperature=temperature, hours=hours
            )
