"""A queue row, its action buttons and the first-touch clock as Python tags: the queue page
is drawn all day, and the template language spent more on 25 rows than the rest of the page
(templates/leads/queue.html keeps the page, the tabs and the rows that left the queue)."""

from django import template
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


def _shortcut(action, action_ctx, menu: bool) -> tuple[SafeString, SafeString]:
    """The shortcut attributes and the key hint; menu items have none."""
    if not action.shortcut or menu:
        return mark_safe(""), mark_safe("")
    where = " (selected row)" if action_ctx.page == "queue" else ""
    return (
        format_html(
            ' data-shortcut="{}" data-shortcut-label="{}{}"',
            action.shortcut,
            action.shortcut_label,
            where,
        ),
        format_html(' <kbd aria-hidden="true">{}</kbd>', action.shortcut),
    )


@register.simple_tag(takes_context=True)
def lead_action(context, action, lead, action_ctx, small: bool = False, menu: bool = False):
    """One action: a link that loads its form dialog (or, without JavaScript, its form page),
    or a one-click POST form that swaps the row (queue) or the lead page (detail)."""
    if menu:
        css = "dropdown-item"
    else:
        size = "btn-sm " if small else ""
        css = f"btn {size}{'btn-primary' if action.primary else 'btn-secondary'}"
    attrs, kbd = _shortcut(action, action_ctx, menu)
    if action.needs_input:
        href = format_html("{}?{}", action.url, action_ctx.query)
        return format_html(
            '<a href="{}" hx-get="{}" hx-target="#action-dialog-slot" hx-swap="innerHTML" '
            'aria-haspopup="dialog" class="{}"{}>{}{}</a>',
            href,
            href,
            css,
            attrs,
            action.label,
            kbd,
        )
    return format_html(
        '<form method="post" action="{}" class="inline-form" hx-post="{}" hx-target="{}" '
        'hx-swap="outerHTML" hx-disabled-elt="find button">{}'
        '<button type="submit" class="{}"{}>{}{}</button></form>',
        action.url,
        action.url,
        action_ctx.target(lead),
        _hidden_fields(context, action_ctx),
        css,
        attrs,
        action.label,
        kbd,
    )


def _hidden_fields(context, action_ctx) -> SafeString:
    """The CSRF token and where the action came from: the same for every one-click form of a
    page, so escaped once per render."""
    cache = context.render_context
    key = ("lead_action_hidden", action_ctx)
    if key not in cache:
        token = context.get("csrf_token")
        cache[key] = format_html(
            '<input type="hidden" name="csrfmiddlewaretoken" value="{}">'
            '<input type="hidden" name="ctx" value="{}">'
            '<input type="hidden" name="tab" value="{}">'
            '<input type="hidden" name="next" value="{}">',
            "" if token in (None, "NOTPROVIDED") else token,
            action_ctx.page,
            action_ctx.tab,
            action_ctx.next,
        )
    return cache[key]


@register.simple_tag(takes_context=True)
def queue_row(context, row, tab, action_ctx):
    """One open lead in the queue: who, kind, stage, temperature, score, campaign, the clock,
    the owner (pool tab) and the actions. The ``row`` partial of queue.html draws the rest."""
    lead, handoff = row.lead, row.handoff
    company = lead.company or "—"
    if lead.title:
        company = f"{company} · {lead.title}"
    campaign = (
        format_html("{}", lead.source_campaign.name)
        if lead.source_campaign_id
        else mark_safe('<span class="muted">—</span>')
    )
    owner = ""
    if tab == "pool":
        owner = (
            format_html(
                '<td class="nowrap">{}</td>',
                handoff.owner.get_full_name() or handoff.owner.username,
            )
            if handoff.owner_id
            else format_html(
                '<td class="nowrap"><span class="muted">Unclaimed · {}</span></td>', row.waiting
            )
        )
    return format_html(
        '<tr id="lead-row-{}" data-row{}>\n'
        '  <td><a href="{}">{}</a><div class="muted text-sm">{}</div>{}{}{}</td>\n'
        '  <td><span class="badge badge-stage-{}">{}</span></td>\n'
        '  <td><span class="badge badge-stage-{}">{}</span></td>\n'
        '  <td><span class="badge badge-temp-{}">{}</span></td>\n'
        '  <td class="num">{}</td>\n'
        "  <td>{}</td>\n"
        '  <td class="nowrap">{}</td>{}\n'
        '  <td class="actions">{}</td>\n'
        "</tr>",
        lead.pk,
        mark_safe(' class="is-selected"') if row.selected else "",
        row.url,
        row.name,
        company,
        format_html('<div class="form-errors mb-0" role="alert">{}</div>', row.error)
        if row.error
        else "",
        format_html('<p class="text-success text-sm" role="status">✓ {}</p>', row.notice)
        if row.notice
        else "",
        _rating_prompt(context, row, action_ctx) if row.rate_url else "",
        handoff.kind,
        row.kind_label,
        lead.stage,
        row.stage_label,
        lead.temperature,
        row.temperature_label,
        lead.score,
        campaign,
        first_touch_clock(row.clock),
        owner,
        queue_row_actions(context, row, action_ctx),
    )


def _rating_prompt(context, row, action_ctx) -> SafeString:
    """Right after a one-click accept: rate the lead's quality with one more click."""
    return format_html(
        '<form method="post" action="{}" class="rate-prompt inline-form" hx-post="{}" '
        'hx-target="{}" hx-swap="outerHTML" hx-disabled-elt="find button">{}'
        '<span class="text-sm">Lead quality?</span> '
        '<button type="submit" name="rating" value="good" class="btn btn-sm btn-ghost">'
        "Good fit</button> "
        '<button type="submit" name="rating" value="poor" class="btn btn-sm btn-ghost">'
        "Poor fit</button></form>",
        row.rate_url,
        row.rate_url,
        action_ctx.target(row.lead),
        _hidden_fields(context, action_ctx),
    )


@register.simple_tag(takes_context=True)
def queue_row_actions(context, row, action_ctx):
    """A queue row's actions: the next step, claim and log touch as buttons, the rest in a
    "More" menu."""
    lead = row.lead
    buttons = [lead_action(context, a, lead, action_ctx, small=True) for a in row.actions]
    if row.more:
        items = format_html_join(
            "",
            "<li>{}</li>",
            ((lead_action(context, a, lead, action_ctx, menu=True),) for a in row.more),
        )
        buttons.append(
            format_html(
                '<details class="dropdown" data-menu><summary class="btn btn-sm btn-ghost" '
                'aria-label="More actions for {}">More ▾</summary>'
                '<div class="dropdown-panel"><ul>{}</ul></div></details>',
                lead,
                items,
            )
        )
    return format_html_join("\n", "{}", ((button,) for button in buttons))


@register.simple_tag
def first_touch_clock(clock):
    """The first-touch clock: time left, amber under a quarter of the window, red when
    overdue, grey once touched. A business clock counts the agreement's working hours and says
    so; static/js/queue.js ticks a clock while it runs (data-clock-due) and leaves a business
    clock alone outside working hours."""
    if not clock:
        return ""
    title = f"First touch due {_when(clock.due_at)}"
    if clock.basis:
        title += f", counting business hours of {clock.calendar}"
    if clock.touched_at:
        title += f"; touched {_when(clock.touched_at)}"
    ticking = (
        format_html(
            ' data-clock-due="{}" data-clock-start="{}"',
            _iso(clock.tick_due),
            _iso(clock.tick_start),
        )
        if clock.tick_due
        else ""
    )
    return format_html(
        '<time class="{}" datetime="{}" title="{}"{}{}>{}</time>{}',
        clock.css,
        _iso(clock.due_at),
        title,
        ticking,
        mark_safe(" data-clock-done") if clock.touched_at else "",
        clock.text,
        mark_safe(' <span class="muted text-sm">(business)</span>') if clock.basis else "",
    )


def _iso(value) -> str:
    """``value|date:"c"``: the instant in the current time zone, ISO 8601."""
    return timezone.localtime(value).isoformat()


def _when(value) -> str:
    """``value|date:"D j M, H:i"`` without the general formatter (three per row cost more
    than the rest of the row)."""
    local = timezone.localtime(value)
    return f"{_DAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]}, {local:%H:%M}"


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
