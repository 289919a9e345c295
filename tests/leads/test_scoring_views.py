"""The scoring pages: the rules editor (validation, versions, rescoring), insights against a
hand-built set of outcomes, the threshold what-if, the definitions page, the lead page's
explanation and the manual adjustment; fixed query counts for each page."""

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from leads.models import (
    EventKind,
    FitRule,
    Lead,
    LeadStageChange,
    ScoringModel,
    Stage,
)
from leads.scoring_services import scores_refresh_all
from slas.models import Agreement, ResponseTarget, WorkingCalendar
from tests.factories import UserFactory
from tests.leads.factories import EngagementEventFactory, LeadFactory, scoring_version

pytestmark = pytest.mark.django_db
VP = {"field": "title", "operator": "contains", "value": "VP", "points": 15}
PRICING = {"kind": EventKind.PRICING_VIEW, "points": 30, "half_life_days": 7, "cap": 40}
KINDS = EventKind.values


def _post_data(*, warm=40, hot=70, mql=60, fit=(), engagement=None, based_on=0, note=""):
    data = {
        "warm": warm,
        "hot": hot,
        "mql": mql,
        "note": note,
        "based_on": based_on,
        "fit-TOTAL_FORMS": len(fit),
        "fit-INITIAL_FORMS": 0,
        "fit-MIN_NUM_FORMS": 0,
        "fit-MAX_NUM_FORMS": 50,
        "engagement-TOTAL_FORMS": len(KINDS),
        "engagement-INITIAL_FORMS": len(KINDS),
        "engagement-MIN_NUM_FORMS": 0,
        "engagement-MAX_NUM_FORMS": len(KINDS),
    }
    for i, rule in enumerate(fit):
        for key, value in rule.items():
            data[f"fit-{i}-{key}"] = value
    engagement = engagement or {}
    for i, kind in enumerate(KINDS):
        data[f"engagement-{i}-kind"] = kind
        for key, value in engagement.get(kind, {}).items():
            data[f"engagement-{i}-{key}"] = value
    return data


# --- the rules editor ----------------------------------------------------------------------------
def test_only_marketing_and_managers_open_the_rules_editor(client_for, rep, marketer, manager):
    assert client_for(rep).get(reverse("leads:scoring")).status_code == 403
    assert client_for(marketer).get(reverse("leads:scoring")).status_code == 200
    assert client_for(manager).get(reverse("leads:scoring")).status_code == 200


def test_saving_rules_creates_a_version_and_rescores_every_lead(
    client_for, marketer, django_capture_on_commit_callbacks
):
    # given a lead and no rules
    lead = LeadFactory(title="VP Marketing", company_size=250)
    # when a marketer saves a first rule set
    data = _post_data(
        fit=[
            {"field": "title", "operator": "contains", "value": "VP", "points": "15"},
            {"field": "company_size", "operator": "gte", "value": "200", "points": "10"},
        ],
        engagement={EventKind.PRICING_VIEW: {"points": 30, "half_life_days": 7, "cap": 40}},
        note="Launch rules",
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(marketer).post(reverse("leads:scoring"), data)
    # then version 1 holds them, the lead was rescored with it, and the page says so
    assert response.status_code == 302
    version = ScoringModel.objects.get()
    assert (version.number, version.created_by, version.note) == (1, marketer, "Launch rules")
    assert list(version.fit_rules.values_list("field", "value", "points")) == [
        ("title", "VP", 15),
        ("company_size", 200, 10),
    ]
    assert list(version.engagement_rules.values_list("kind", "cap")) == [("pricing_view", 40)]
    lead.refresh_from_db()
    assert (lead.score, lead.score_version) == (25, version)
    page = client_for(marketer).get(reverse("leads:scoring")).content.decode()
    assert "Saved version 1" in page
    assert "Version 1, saved" in page
    assert "Every lead was rescored with it" in page


def test_the_editor_shows_field_level_errors_and_saves_nothing(client_for, marketer):
    data = _post_data(
        warm=70,
        hot=40,
        fit=[
            {"field": "company_size", "operator": "contains", "value": "big", "points": "5"},
            {"field": "country", "operator": "in", "value": "US, Narnia", "points": "5"},
            {"field": "title", "operator": "equals", "value": "", "points": "5"},
        ],
        engagement={
            EventKind.PRICING_VIEW: {"points": 30, "half_life_days": 7, "cap": 10},
            EventKind.DEMO_REQUEST: {"points": 30, "half_life_days": 0, "cap": 30},
            EventKind.PAGE_VIEW: {"points": 2},
        },
    )
    response = client_for(marketer).post(reverse("leads:scoring"), data)
    assert response.status_code == 200
    errors = {
        "thresholds": response.context["thresholds"].errors,
        "fit": [f.errors for f in response.context["fit"].forms],
        "engagement": {
            f.cleaned_data.get("kind"): f.errors
            for f in response.context["engagement"].forms
            if f.errors
        },
    }
    assert errors["thresholds"] == {"hot": ["Hot must be above warm."]}
    assert "can be tested with" in errors["fit"][0]["operator"][0]
    assert errors["fit"][1]["value"] == [
        "Unknown country code NARNIA: use ISO 3166 codes such as US, GB, DE."
    ]
    assert errors["fit"][2]["value"] == ["Enter a value."]
    assert errors["engagement"]["pricing_view"]["cap"] == [
        "The cap must be at least the points of one event (30)."
    ]
    assert "half_life_days" in errors["engagement"]["demo_request"]
    assert "half_life_days" in errors["engagement"]["page_view"]
    assert "Please correct the highlighted fields" in response.content.decode()
    assert not ScoringModel.objects.exists()


def test_a_save_based_on_an_old_version_is_refused(client_for, marketer, manager):
    scoring_version(created_by=manager)  # someone saved version 1 meanwhile
    response = client_for(marketer).post(reverse("leads:scoring"), _post_data(based_on=0))
    assert response.status_code == 200
    assert "The rules changed while you edited them (version 1" in response.content.decode()
    assert ScoringModel.objects.count() == 1


def test_the_editor_starts_from_the_active_version(client_for, marketer):
    scoring_version(fit=[VP], engagement=[PRICING], warm=11, hot=22, mql=33)
    response = client_for(marketer).get(reverse("leads:scoring"))
    assert response.context["thresholds"].initial["based_on"] == 1
    fit = response.context["fit"]
    assert fit.forms[0].initial == {
        "field": "title",
        "operator": "contains",
        "value": "VP",
        "points": 15,
    }
    assert len(fit.forms) == 3  # the rule and two empty rows
    engagement = {f.initial["kind"]: f.initial for f in response.context["engagement"].forms}
    assert engagement["pricing_view"]["cap"] == 40
    assert "points" not in engagement["demo_request"]


@pytest.mark.parametrize("versions", [1, 6])
def test_the_rules_editor_takes_a_fixed_number_of_queries(
    client_for, marketer, django_assert_num_queries, versions
):
    for _ in range(versions):
        scoring_version(fit=[VP, {**VP, "value": "CEO"}], engagement=[PRICING])
    client = client_for(marketer)
    client.get(reverse("leads:scoring"))
    # session, user, roles, the active version + its 2 rule lists, the history, the bell
    with django_assert_num_queries(8):
        assert client.get(reverse("leads:scoring")).status_code == 200


# --- past versions -------------------------------------------------------------------------------
def test_a_past_version_shows_who_saved_it_and_its_rules_read_only(client_for, marketer, rep):
    # given version 1 saved by Maya, then version 2 replacing it
    maya = UserFactory(username="maya", first_name="Maya", last_name="Lindqvist", role="Marketer")
    first = scoring_version(
        fit=[VP, {"field": "country", "operator": "in", "value": ["US", "CA"], "points": 5}],
        engagement=[PRICING],
        warm=35,
        hot=65,
        mql=55,
        created_by=maya,
    )
    ScoringModel.objects.filter(pk=first.pk).update(note="Launch rules")
    scoring_version(fit=[{**VP, "points": 20}])
    # when a marketer follows the link from the rules page's history
    rules_page = client_for(marketer).get(reverse("leads:scoring")).content.decode()
    url = reverse("leads:scoring_version", args=[1])
    assert f'href="{url}"' in rules_page
    response = client_for(marketer).get(url)
    # then the page shows who saved it, when, its thresholds and its rules, and no form
    assert response.status_code == 200
    page = response.content.decode()
    assert "Maya Lindqvist" in page and "Launch rules" in page
    assert f"{first.created_at:%-d %b %Y}" in page
    assert "Title contains “VP”" in page and "Country is one of US, CA" in page
    assert "Pricing page view" in page
    assert [r.label for r in response.context["rules"].fit] == [
        "Title contains “VP”",
        "Country is one of US, CA",
    ]
    assert (response.context["rules"].warm, response.context["rules"].mql) == (35, 55)
    assert f'action="{reverse("leads:scoring")}"' not in page
    # and reps may not read it, an unknown number is a 404
    assert client_for(rep).get(url).status_code == 403
    missing = reverse("leads:scoring_version", args=[99])
    assert client_for(marketer).get(missing).status_code == 404


def test_every_version_is_listed_newest_first(client_for, marketer, rep):
    for _ in range(3):
        scoring_version(fit=[VP])
    response = client_for(marketer).get(reverse("leads:scoring_versions"))
    assert response.status_code == 200
    assert [v.number for v in response.context["versions"]] == [3, 2, 1]
    assert client_for(rep).get(reverse("leads:scoring_versions")).status_code == 403


@pytest.mark.parametrize("rules", [1, 8])
def test_a_past_version_takes_a_fixed_number_of_queries(
    client_for, marketer, django_assert_num_queries, rules
):
    scoring_version(fit=[{**VP, "value": f"VP{i}"} for i in range(rules)], engagement=[PRICING])
    client = client_for(marketer)
    url = reverse("leads:scoring_version", args=[1])
    client.get(url)
    # session, user, roles, the version + its 2 rule lists, the bell
    with django_assert_num_queries(7):
        assert client.get(url).status_code == 200


# --- insights and what-if ------------------------------------------------------------------------
def _reached_sql(lead):
    now = timezone.now()
    LeadStageChange.objects.create(
        lead=lead, from_stage=Stage.SAL, to_stage=Stage.SQL, created_at=now, stage_entered_at=now
    )


@pytest.fixture
def outcomes():
    """10 leads: 4 VPs (2 reached SQL, 1 won), 6 others (1 reached SQL); 3 requested a demo,
    2 of whom reached SQL."""
    scoring_version(
        fit=[VP],
        engagement=[{"kind": "demo_request", "points": 20, "half_life_days": 30, "cap": 20}],
        mql=60,
    )
    vps = [LeadFactory(title="VP Sales") for _ in range(4)]
    others = [LeadFactory(title="Analyst") for _ in range(6)]
    for lead in vps[:2] + others[:1]:
        _reached_sql(lead)
    Lead.objects.filter(pk=vps[0].pk).update(stage=Stage.WON)
    for lead in [vps[0], others[0], others[1]]:
        EngagementEventFactory(lead=lead, kind="demo_request")
    return vps, others


def test_insights_measure_each_rule_against_outcomes(client_for, marketer, outcomes):
    response = client_for(marketer).get(reverse("leads:scoring_insights"))
    assert response.status_code == 200
    overall = response.context["overall"]
    assert (overall.leads, overall.sql, overall.won) == (10, 3, 1)
    vp, demo = response.context["insights"]
    # VP fires on 4 leads: 2/4 reached SQL against 1/6 without, lift 3.0; 1/4 won vs 0/6
    assert (vp.fires.leads, vp.fires.sql, vp.rest.leads, vp.rest.sql) == (4, 2, 6, 1)
    assert (vp.sql_pct, vp.rest_sql_pct, vp.sql_lift) == (50.0, 16.7, 3.0)
    assert (vp.won_pct, vp.rest_won_pct, vp.won_lift) == (25.0, 0.0, None)
    # smoothed: (2 + 3) / 14 vs (1 + 3) / 16 → lift 1.43 → 60 / 4 * log2(1.43) = 7.7 → 8
    assert vp.suggested == 8
    # demo fires on 3: 2/3 vs 1/7 → lift 4.67; smoothed (2+3)/13 vs (1+3)/17 → 15 * 0.71 → 11
    assert (demo.fires.leads, demo.fires.sql, demo.sql_lift, demo.suggested) == (3, 2, 4.67, 11)
    page = response.content.decode()
    assert "How these figures are computed" in page and "3.0×" in page


def test_a_rule_that_fires_on_no_lead_shows_a_dash_not_a_rate(client_for, marketer):
    # given a rule no lead meets
    scoring_version(fit=[VP], mql=60)
    LeadFactory(title="Analyst")
    # when the insights page shows it
    page = client_for(marketer).get(reverse("leads:scoring_insights")).content.decode()
    # then its rate among the leads it fires on is a plain dash, not "—%"
    assert "—%" not in page
    assert "— / 0.0%" in page


def test_the_what_if_counts_leads_for_other_thresholds(client_for, marketer):
    scoring_version(warm=40, hot=70, mql=60)
    for score, stage in [
        (30, Stage.NEW),
        (50, Stage.NEW),
        (65, Stage.RECYCLED),
        (75, Stage.SAL),
        (90, Stage.WON),
    ]:
        LeadFactory(score=score, stage=stage)
    response = client_for(marketer).get(
        reverse("leads:scoring_insights"),
        {"warm": 20, "hot": 50, "mql": 45},
        headers={"HX-Request": "true", "HX-Target": "what-if"},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert page.lstrip().startswith('<section class="card" id="what-if"')
    assert "With 20 / 50 / 45" in page
    rows = [
        [cell.split(">")[-1] for cell in row.split("</td>")[:-1]]
        for row in page.split("<tbody>")[1].split("</tr>")[:-1]
    ]
    # open leads: 30, 50, 65, 75 (the won one is closed); marketing holds 30, 50, 65
    assert "Hot (of 4 open leads)" in page and "(of 3 leads marketing holds)" in page
    assert rows == [["1", "3"], ["2", "1"], ["1", "2"]]  # hot, warm, at or above MQL


def test_an_invalid_what_if_falls_back_to_the_current_thresholds(client_for, marketer):
    scoring_version(warm=40, hot=70, mql=60)
    response = client_for(marketer).get(
        reverse("leads:scoring_insights"), {"warm": 80, "hot": 50, "mql": 45}
    )
    assert response.context["chosen"] == {"warm": 40, "hot": 70, "mql": 60}
    assert "Hot must be above warm." in response.content.decode()


@pytest.mark.parametrize("extra_leads", [0, 12])
def test_insights_take_a_fixed_number_of_queries(
    client_for, marketer, outcomes, django_assert_num_queries, extra_leads
):
    for _ in range(extra_leads):
        EngagementEventFactory(lead=LeadFactory(title="VP"), kind="demo_request")
    client = client_for(marketer)
    client.get(reverse("leads:scoring_insights"))
    # session, user, roles, the version + 2 rule lists, the what-if and insights aggregates,
    # the notification bell
    with django_assert_num_queries(9):
        client.get(reverse("leads:scoring_insights"))


# --- definitions ---------------------------------------------------------------------------------
def _agreement():
    calendar = WorkingCalendar.objects.create(name="Berlin", working_days=[0, 1, 2, 3, 4])
    agreement = Agreement.objects.create(
        name="FY27 SLA",
        starts_on=date.today() - timedelta(days=30),
        ends_on=date.today() + timedelta(days=300),
        calendar=calendar,
        mqls_per_month=120,
        min_acceptance_rate=70,
    )
    ResponseTarget.objects.create(agreement=agreement, kind="cql", temperature="", hours=1)
    ResponseTarget.objects.create(agreement=agreement, kind="mql", temperature="hot", hours=4)
    ResponseTarget.objects.create(agreement=agreement, kind="mql", temperature="", hours=24)
    return agreement


def test_definitions_are_written_from_the_live_rules_and_the_sla(client_for, rep):
    # given rules saved by a marketer and an agreement in force
    maya = UserFactory(username="maya", first_name="Maya", last_name="Lindqvist", role="Marketer")
    scoring_version(
        fit=[VP, {"field": "company_size", "operator": "lte", "value": 10, "points": -20}],
        engagement=[PRICING],
        warm=40,
        hot=70,
        mql=60,
        created_by=maya,
    )
    _agreement()
    # when a rep opens the definitions page
    response = client_for(rep).get(reverse("leads:definitions"))
    # then it spells out what counts, the thresholds, the commitments and who changed the rules
    assert response.status_code == 200
    page = response.content.decode().replace("&quot;", '"')
    assert "becomes an MQL as soon as its score reaches 60 points" in page
    assert "Adds 15 points when the title contains “VP”." in page
    assert "Takes away 20 points when the company size (employees) is at most 10." in page
    assert (
        "Each pricing page view adds 30 points, worth half as much after 7 days; "
        "at most 40 points from pricing page views." in page
    )
    assert "<strong>warm</strong> from 40 and <strong>hot</strong> from 70" in page
    assert "last changed on" in page and "by Maya Lindqvist" in page
    assert (
        "Sales commits to a first touch within 4 business hours when the lead is hot, and "
        "within 24 business hours otherwise, counted from the handoff." in page
    )
    assert "first touch within 1 business hour, counted from the handoff." in page
    assert "Marketing delivers 120 qualified leads a month" in page


def test_definitions_without_rules_say_so(client_for, marketer):
    page = client_for(marketer).get(reverse("leads:definitions")).content.decode()
    assert "No scoring rules are set yet" in page


def test_definitions_change_when_the_rules_change(client_for, rep):
    scoring_version(mql=60)
    client = client_for(rep)
    assert "reaches 60 points" in client.get(reverse("leads:definitions")).content.decode()
    scoring_version(mql=75)
    assert "reaches 75 points" in client.get(reverse("leads:definitions")).content.decode()


def test_definitions_take_a_fixed_number_of_queries(client_for, rep, django_assert_num_queries):
    scoring_version(fit=[VP, {**VP, "value": "CEO"}], engagement=[PRICING])
    _agreement()
    client = client_for(rep)
    client.get(reverse("leads:definitions"))
    # session, user, roles, the version + 2 rule lists, the agreement, its targets, the bell
    with django_assert_num_queries(9):
        client.get(reverse("leads:definitions"))


def test_every_role_sees_definitions_in_the_navigation(client_for, rep, marketer, manager):
    for user in (rep, marketer, manager):
        page = client_for(user).get(reverse("leads:definitions")).content.decode()
        nav = page.split('aria-label="Main"', 1)[1].split("</nav>", 1)[0]
        assert reverse("leads:definitions") in nav


# --- the lead page and the manual adjustment -----------------------------------------------------
def test_the_lead_page_explains_the_score(client_for, marketer):
    scoring_version(fit=[VP], engagement=[PRICING], mql=500)
    lead = LeadFactory(title="VP Sales")
    for _ in range(3):
        EngagementEventFactory(lead=lead, kind="pricing_view")
    scores_refresh_all()
    page = client_for(marketer).get(lead.get_absolute_url()).content.decode()
    assert "Why it scores 55" in page
    assert "<strong>+15</strong> Title contains “VP”" in page
    assert "<strong>+40</strong> Pricing page view ×3" in page
    assert "capped at 40, 90 before decay" in page
    assert reverse("leads:score_adjust", args=[lead.pk]) in page


def test_a_marketer_pins_a_manual_adjustment_with_a_reason(client_for, marketer, rep):
    scoring_version(fit=[VP], mql=500)
    lead = LeadFactory(title="VP Sales")
    url = reverse("leads:score_adjust", args=[lead.pk])
    assert client_for(rep).get(url).status_code == 403
    client = client_for(marketer)
    assert "Enter a whole number" in client.post(url, {"points": "x"}).content.decode()
    response = client.post(url, {"points": 10, "reason": ""})
    assert "Say why the score is adjusted." in response.content.decode()
    response = client.post(url, {"points": 10, "reason": "Met at the booth"})
    assert response.status_code == 302
    lead.refresh_from_db()
    assert (lead.score, lead.score_manual_reason) == (25, "Met at the booth")
    assert FitRule.objects.count() == 1
