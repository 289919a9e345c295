from campaigns.templating import render_email, unknown_placeholders


def test_known_placeholders_are_filled_from_the_values():
    # given a template with known placeholders
    # when it is rendered
    email = render_email(
        subject="Hi {first_name}",
        body="{company} and {campaign}",
        values={"first_name": "Ada", "company": "Acme", "campaign": "Webinar"},
    )
    # then every placeholder is filled and nothing is reported
    assert (email.subject, email.body) == ("Hi Ada", "Acme and Webinar")
    assert email.ok and email.unknown == [] and email.empty == []


def test_unknown_placeholder_is_reported_not_raised():
    # given a template with a typo and an attribute lookup str.format would follow
    # when it is rendered
    email = render_email(
        subject="Hi {frist_name}",
        body="{first_name.__class__} {0} {company",
        values={"first_name": "Ada"},
    )
    # then the unknown name is listed, kept visible, and stray braces stay as typed
    assert email.unknown == ["frist_name"]
    assert not email.ok
    assert email.subject == "Hi {frist_name}"
    assert email.body == "{first_name.__class__} {0} {company"


def test_placeholder_without_a_value_on_the_lead_is_listed_as_empty():
    email = render_email(subject="{company}", body="", values={"company": ""})
    assert email.empty == ["company"] and email.ok


def test_unknown_placeholders_lists_each_name_once_in_order():
    assert unknown_placeholders("{b} {a} {b}", "{first_name} {c}") == ["b", "a", "c"]
