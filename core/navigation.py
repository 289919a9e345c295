"""What each role sees in the header: one list, filtered by role, so nav and access agree.
A role with a short list gets plain links; a longer one gets them in menus by area (Leads,
Campaigns, Scoring, Team), so nothing is cut off at the edge of the header."""

from dataclasses import dataclass, field

from core.links import route_url
from core.roles import Role, has_role


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    roles: tuple[Role, ...]
    shortcut: str = ""
    group: str = "Team"

    @property
    def url(self) -> str:
        return route_url(self.url_name)


ALL = (Role.REP, Role.MARKETER, Role.MANAGER)

# Up to this many links show as they are; more go into menus by group.
FLAT_MAX = 7

NAV_ITEMS: tuple[NavItem, ...] = (
    NavItem("Lead queue", "leads:queue", (Role.REP,), "g q", "Leads"),
    # Marketing's every lead; a rep's own leads in every stage (the queue holds the open ones).
    NavItem("Leads", "leads:list", (Role.REP, Role.MARKETER), "g l", "Leads"),
    NavItem("Import leads", "imports:lead_import", (Role.MARKETER,), "g i", "Leads"),
    NavItem("Returned to nurture", "leads:nurture", (Role.MARKETER,), "g n", "Leads"),
    NavItem("Pipeline", "leads:pipeline", ALL, "g p", "Leads"),
    NavItem("Calendar", "campaigns:calendar", ALL, "g c", "Campaigns"),
    NavItem("Campaigns", "campaigns:list", (Role.MARKETER,), "g m", "Campaigns"),
    NavItem("Enablement", "campaigns:enablement", (Role.REP,), "g e", "Campaigns"),
    NavItem(
        "Content requests",
        "campaigns:content_requests",
        (Role.REP, Role.MARKETER),
        "g r",
        "Campaigns",
    ),
    NavItem("Scoring", "leads:scoring", (Role.MARKETER,), "g s", "Scoring"),
    NavItem("Definitions", "leads:definitions", ALL, "g d", "Scoring"),
    NavItem("SLA audit", "slas:audit", (Role.MANAGER,), "g a"),
    NavItem("Agreements", "slas:agreements", (Role.MANAGER,), "g y"),
    NavItem("Routing", "leads:manage_territories", (Role.MANAGER,), "g o"),
    NavItem("Team", "slas:team", (Role.MANAGER,), "g t"),
    NavItem("Webhooks", "webhooks:endpoints", (Role.MANAGER,), "g w"),
    NavItem("System", "core:status", (Role.MANAGER,), ""),
)


@dataclass
class NavEntry:
    """One place in the header: a link (``items`` holds it alone, ``label`` is empty) or a
    menu of links under ``label``; ``current`` when the page shown is one of them."""

    label: str
    items: list[NavItem] = field(default_factory=list)
    current: str = ""  # the url of the link to the page shown, if it is here

    @property
    def is_menu(self) -> bool:
        return bool(self.label)


def nav_for(user) -> list[NavItem]:
    return [item for item in NAV_ITEMS if has_role(user, *item.roles)]


def nav_entries(user, path: str) -> list[NavEntry]:
    """The header for ``user`` on the page at ``path``: plain links when they fit, else a menu
    per group (a group with one link stays a link)."""
    items = nav_for(user)
    if len(items) <= FLAT_MAX:
        entries = [NavEntry("", [item]) for item in items]
    else:
        groups: dict[str, list[NavItem]] = {}
        for item in items:
            groups.setdefault(item.group, []).append(item)
        entries = [
            NavEntry(label if len(members) > 1 else "", members)
            for label, members in groups.items()
        ]
    # The page shown belongs to the link whose address is the longest start of its path
    # (a webhook's form under Webhooks, a campaign under Campaigns).
    under = [i.url for i in items if path.startswith(i.url) and i.url != "/"]
    current = max(under, key=len, default="")
    for entry in entries:
        entry.current = current if any(i.url == current for i in entry.items) else ""
    return entries
