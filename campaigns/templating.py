"""Follow-up email placeholders: ``{first_name}``, ``{company}`` … filled from a lead.

Only ``{name}`` tokens with a known name are placeholders; any other ``{word}`` is reported as
an unknown placeholder (an error to show, never an exception from str.format). Braces that
do not form a ``{word}`` token are left as they are.
"""

import re
from dataclasses import dataclass, field

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

PLACEHOLDERS: dict[str, str] = {
    "first_name": "Lead's first name",
    "last_name": "Lead's last name",
    "full_name": "Lead's full name",
    "company": "Lead's company",
    "title": "Lead's job title",
    "industry": "Lead's industry",
    "country": "Lead's country code",
    "campaign": "Campaign name",
    "offer": "Campaign offer",
    "landing_url": "Campaign landing page",
    "quote": "Campaign quote",
    "rep_name": "Your full name",
    "rep_first_name": "Your first name",
}


def unknown_placeholders(*texts: str) -> list[str]:
    """Placeholder names used in ``texts`` that smarketing cannot fill, in order of use."""
    found: dict[str, None] = {}
    for text in texts:
        for name in PLACEHOLDER.findall(text or ""):
            if name not in PLACEHOLDERS:
                found[name] = None
    return list(found)


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    body: str
    unknown: list[str] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.unknown


def placeholder_values(*, lead, campaign, rep=None) -> dict[str, str]:
    rep_name = (rep.get_full_name() or rep.username) if rep is not None else ""
    return {
        "first_name": lead.first_name,
        "last_name": lead.last_name,
        "full_name": lead.full_name,
        "company": lead.company,
        "title": lead.title,
        "industry": lead.industry,
        "country": lead.country,
        "campaign": campaign.name,
        "offer": campaign.offer,
        "landing_url": campaign.landing_url,
        "quote": campaign.quote,
        "rep_name": rep_name,
        "rep_first_name": (rep.first_name or rep_name) if rep is not None else "",
    }


def render_email(*, subject: str, body: str, values: dict[str, str]) -> RenderedEmail:
    """Fill the placeholders. Unknown ones stay visible in the text and are listed in
    ``unknown``; known ones without a value (a lead with no company) are listed in ``empty``."""
    unknown = unknown_placeholders(subject, body)
    empty: dict[str, None] = {}

    def fill(match: re.Match) -> str:
        name = match.group(1)
        if name not in PLACEHOLDERS:
            return match.group(0)
        value = str(values.get(name) or "")
        if not value:
            empty[name] = None
        return value

    return RenderedEmail(
        subject=PLACEHOLDER.sub(fill, subject),
        body=PLACEHOLDER.sub(fill, body),
        unknown=unknown,
        empty=list(empty),
    )
