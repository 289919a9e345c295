"""Campaign pages: list, detail (with template previews), create, edit, duplicate, archive,
set live, and the follow-up templates and enablement resources of a campaign."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from campaigns.forms import CampaignForm, ResourceForm, TemplateForm, errors_to_form
from campaigns.models import Campaign, EnablementResource, FollowUpTemplate
from campaigns.selectors import (
    CampaignFilters,
    campaign_get,
    campaign_leads,
    campaign_list,
    campaign_owners,
)
from campaigns.services import (
    CampaignInvalid,
    campaign_archive,
    campaign_create,
    campaign_duplicate,
    campaign_restore,
    campaign_set_live,
    campaign_update,
    resource_delete,
    resource_save,
    template_delete,
    template_save,
)
from campaigns.templating import PLACEHOLDERS, placeholder_values, render_email
from campaigns.views.common import param_choice, param_int, run_action
from core.errors import DomainError
from core.roles import Role, has_role, role_required
from leads.models import Lead

PAGE_SIZE = 50
RESOURCE_HEADINGS = {
    EnablementResource.Kind.COLLATERAL: "Collateral",
    EnablementResource.Kind.PERSONA: "Buyer personas",
    EnablementResource.Kind.GUIDELINE: "Guidelines",
}
SAMPLE_LEAD = Lead(
    first_name="Alex",
    last_name="Example",
    email="alex@example.com",
    company="Example Corp",
    title="VP Marketing",
    industry="Software",
    country="US",
)


@role_required(Role.REP, Role.MARKETER)
def campaign_index(request):
    filters = CampaignFilters(
        channel=param_choice(request, "channel", Campaign.Channel.values),
        status=param_choice(request, "status", Campaign.Status.values),
        owner=param_int(request, "owner"),
        search=request.GET.get("q", "").strip()[:100],
        archived=request.GET.get("archived") == "1",
    )
    page = Paginator(campaign_list(filters=filters), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "campaigns/list.html",
        {
            "title": "Campaigns",
            "page": page,
            "filters": filters,
            "channels": Campaign.Channel.choices,
            "statuses": Campaign.Status.choices,
            "owners": campaign_owners(),
            "query": query.urlencode(),
            "can_plan": has_role(request.user, Role.MARKETER),
        },
    )


@role_required(Role.REP, Role.MARKETER)
def campaign_detail(request, pk: int):
    campaign = campaign_get(campaign_id=pk)
    can_plan = has_role(request.user, Role.MARKETER)
    leads = list(campaign_leads(campaign=campaign, user=request.user)[:100])
    lead_id = param_int(request, "lead")
    chosen = next((lead for lead in leads if lead.pk == lead_id), None) or SAMPLE_LEAD
    values = placeholder_values(lead=chosen, campaign=campaign, rep=request.user)
    previews = [
        (template, render_email(subject=template.subject, body=template.body, values=values))
        for template in campaign.templates.all()
    ]
    resources = {kind: [] for kind in EnablementResource.Kind}
    for resource in campaign.resources.all():
        resources[EnablementResource.Kind(resource.kind)].append(resource)
    return render(
        request,
        "campaigns/detail.html",
        {
            "title": campaign.name,
            "campaign": campaign,
            "can_plan": can_plan,
            "previews": previews,
            "preview_leads": leads,
            "preview_lead": chosen,
            "resources": [(RESOURCE_HEADINGS[kind], items) for kind, items in resources.items()],
            "history": campaign.history[:15],
        },
    )


@role_required(Role.MARKETER)
def campaign_new(request):
    form = CampaignForm(request.POST or None, initial={"owner": request.user.pk})
    if request.method == "POST" and form.is_valid():
        try:
            campaign = campaign_create(
                actor=request.user, talking_points=form.talking_points, **form.values
            )
        except CampaignInvalid as error:
            errors_to_form(form, error)
        else:
            messages.success(request, f"Campaign “{campaign.name}” created.")
            return redirect(campaign)
    return render(
        request, "campaigns/form.html", {"title": "New campaign", "form": form, "campaign": None}
    )


@role_required(Role.MARKETER)
def campaign_edit(request, pk: int):
    campaign = campaign_get(campaign_id=pk)
    form = CampaignForm(request.POST or None, campaign=campaign)
    if request.method == "POST" and form.is_valid():
        try:
            campaign_update(
                campaign_id=pk,
                actor=request.user,
                talking_points=form.talking_points,
                **form.values,
            )
        except CampaignInvalid as error:
            errors_to_form(form, error)
        else:
            messages.success(request, "Campaign saved.")
            return redirect(campaign)
    return render(
        request,
        "campaigns/form.html",
        {"title": f"Edit {campaign.name}", "form": form, "campaign": campaign},
    )


@require_POST
@role_required(Role.MARKETER)
def campaign_copy(request, pk: int):
    try:
        copy = campaign_duplicate(campaign_id=pk, actor=request.user)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("campaigns:detail", pk)
    messages.success(request, "Duplicated. Adjust the name and dates of the copy.")
    return redirect("campaigns:edit", copy.pk)


@require_POST
@role_required(Role.MARKETER)
def campaign_archive_view(request, pk: int):
    return run_action(
        request,
        lambda: campaign_archive(campaign_id=pk, actor=request.user),
        success="Archived: hidden from the calendar, feed and enablement library.",
        then=reverse("campaigns:detail", args=[pk]),
    )


@require_POST
@role_required(Role.MARKETER)
def campaign_restore_view(request, pk: int):
    return run_action(
        request,
        lambda: campaign_restore(campaign_id=pk, actor=request.user),
        success="Restored.",
        then=reverse("campaigns:detail", args=[pk]),
    )


@require_POST
@role_required(Role.MARKETER)
def campaign_set_live_view(request, pk: int):
    return run_action(
        request,
        lambda: campaign_set_live(campaign_id=pk, actor=request.user),
        success="The campaign is live; sales has been notified.",
        then=reverse("campaigns:detail", args=[pk]),
    )


# --- templates and resources ---------------------------------------------------------------
def _part_form(request, *, campaign, form, title, save, template_name):
    if request.method == "POST" and form.is_valid():
        try:
            save(form.cleaned_data)
        except CampaignInvalid as error:
            errors_to_form(form, error)
        else:
            messages.success(request, "Saved.")
            return redirect(campaign)
    return render(
        request,
        template_name,
        {"title": title, "form": form, "campaign": campaign, "placeholders": PLACEHOLDERS},
    )


@role_required(Role.MARKETER)
def template_new(request, pk: int):
    campaign = get_object_or_404(Campaign, pk=pk)
    return _part_form(
        request,
        campaign=campaign,
        form=TemplateForm(request.POST or None),
        title="New follow-up template",
        template_name="campaigns/template_form.html",
        save=lambda data: template_save(actor=request.user, campaign_id=pk, **data),
    )


@role_required(Role.MARKETER)
def template_edit(request, pk: int):
    template = get_object_or_404(FollowUpTemplate.objects.select_related("campaign"), pk=pk)
    initial = {"name": template.name, "subject": template.subject, "body": template.body}
    return _part_form(
        request,
        campaign=template.campaign,
        form=TemplateForm(request.POST or None, initial=initial),
        title=f"Edit template “{template.name}”",
        template_name="campaigns/template_form.html",
        save=lambda data: template_save(
            actor=request.user, campaign_id=template.campaign_id, template_id=pk, **data
        ),
    )


@require_POST
@role_required(Role.MARKETER)
def template_remove(request, pk: int):
    template = get_object_or_404(FollowUpTemplate, pk=pk)
    return run_action(
        request,
        lambda: template_delete(actor=request.user, template_id=pk),
        success="Template removed.",
        then=reverse("campaigns:detail", args=[template.campaign_id]),
    )


@role_required(Role.MARKETER)
def resource_new(request, pk: int):
    campaign = get_object_or_404(Campaign, pk=pk)
    kind = param_choice(request, "kind", EnablementResource.Kind.values)
    return _part_form(
        request,
        campaign=campaign,
        form=ResourceForm(request.POST or None, initial={"kind": kind or "collateral"}),
        title="New enablement resource",
        template_name="campaigns/resource_form.html",
        save=lambda data: resource_save(actor=request.user, campaign_id=pk, **data),
    )


@role_required(Role.MARKETER)
def resource_edit(request, pk: int):
    resource = get_object_or_404(EnablementResource.objects.select_related("campaign"), pk=pk)
    initial = {
        "kind": resource.kind,
        "title": resource.title,
        "url": resource.url,
        "description": resource.description,
    }
    return _part_form(
        request,
        campaign=resource.campaign,
        form=ResourceForm(request.POST or None, initial=initial),
        title=f"Edit “{resource.title}”",
        template_name="campaigns/resource_form.html",
        save=lambda data: resource_save(
            actor=request.user, campaign_id=resource.campaign_id, resource_id=pk, **data
        ),
    )


@require_POST
@role_required(Role.MARKETER)
def resource_remove(request, pk: int):
    resource = get_object_or_404(EnablementResource, pk=pk)
    return run_action(
        request,
        lambda: resource_delete(actor=request.user, resource_id=pk),
        success="Resource removed.",
        then=reverse("campaigns:detail", args=[resource.campaign_id]),
    )


urlpatterns = [
    path("", campaign_index, name="list"),
    path("new/", campaign_new, name="new"),
    path("<int:pk>/", campaign_detail, name="detail"),
    path("<int:pk>/edit/", campaign_edit, name="edit"),
    path("<int:pk>/duplicate/", campaign_copy, name="duplicate"),
    path("<int:pk>/archive/", campaign_archive_view, name="archive"),
    path("<int:pk>/restore/", campaign_restore_view, name="restore"),
    path("<int:pk>/set-live/", campaign_set_live_view, name="set_live"),
    path("<int:pk>/templates/new/", template_new, name="template_new"),
    path("templates/<int:pk>/edit/", template_edit, name="template_edit"),
    path("templates/<int:pk>/delete/", template_remove, name="template_delete"),
    path("<int:pk>/resources/new/", resource_new, name="resource_new"),
    path("resources/<int:pk>/edit/", resource_edit, name="resource_edit"),
    path("resources/<int:pk>/delete/", resource_remove, name="resource_delete"),
]
