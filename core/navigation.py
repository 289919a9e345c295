"""What each role sees in the header: one list, filtered by role, so nav and access agree."""

from dataclasses import dataclass

from core.links import route_url
from core.roles import Role, has_role


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    roles: tuple[Role, ...]
    shortcut: str = ""

    @property
    def url(self) -> str:
        return route_url(self.url_name)


ALL = (Role.REP, Role.MARKETER, Role.MANAGER)

NAV_ITEMS: tuple[NavItem, ...] = (
    NavItem("Lead queue", "leads:queue", (Role.REP,), "g q"),
    NavItem("Leads", "leads:list", (Role.MARKETER,), "g l"),
    NavItem("Import leads", "imports:lead_import", (Role.MARKETER,), "g i"),
    NavItem("Returned to nurture", "leads:nurture", (Role.MARKETER,), "g n"),
    NavItem("Pipeline", "leads:pipeline", ALL, "g p"),
    NavItem("Calendar", "campaigns:calendar", ALL, "g c"),
    NavItem("Campaigns", "campaigns:list", (Role.MARKETER,), "g m"),
    NavItem("Enablement", "campaigns:enablement", (Role.REP,), "g e"),
    NavItem("Content requests", "campaigns:content_requests", (Role.REP, Role.MARKETER), "g r"),
    NavItem("Scoring", "leads:scoring", (Role.MARKETER,), "g s"),
    NavItem("Definitions", "leads:definitions", ALL, "g d"),
    NavItem("SLA audit", "slas:audit", (Role.MANAGER,), "g a"),
    NavItem("Agreements", "slas:agreements", (Role.MANAGER,), "g y"),
    NavItem("Routing", "leads:manage_territories", (Role.MANAGER,), "g o"),
    NavItem("Team", "slas:team", (Role.MANAGER,), "g t"),
    NavItem("Webhooks", "webhooks:endpoints", (Role.MANAGER,), "g w"),
    NavItem("System", "core:status", (Role.MANAGER,), ""),
)


def nav_for(user) -> list[NavItem]:
    return [item for item in NAV_ITEMS if has_role(user, *item.roles)]
