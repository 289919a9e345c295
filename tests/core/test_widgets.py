"""QuickSelect draws the same select as Django's own widget, only faster."""

from django import forms

from core.widgets import QuickSelect

CHOICES = [("", "Any"), ("mql", "MQL"), ("7", "Tom & Jerry <b>live</b>")]


class Both(forms.Form):
    quick = forms.ChoiceField(choices=CHOICES, required=False, widget=QuickSelect)
    plain = forms.ChoiceField(choices=CHOICES, required=False)


def normalised(html: str, name: str) -> str:
    return " ".join(str(html).replace(f'"{name}"', '"X"').replace(f"id_{name}", "id_X").split())


def test_it_renders_what_djangos_select_renders_with_the_value_selected():
    # given a bound form choosing the escaped label's value
    form = Both({"quick": "7", "plain": "7"})
    # when both fields render, then the markup matches, selection and escaping included
    quick, plain = normalised(form["quick"], "quick"), normalised(form["plain"], "plain")
    assert '<option value="7" selected>Tom &amp; Jerry &lt;b&gt;live&lt;/b&gt;</option>' in quick
    assert quick.replace("><", "> <") == plain.replace("><", "> <")


def test_with_no_value_the_empty_choice_is_selected():
    # given an unbound form, when it renders, then "Any" is the chosen option
    assert '<option value="" selected>Any</option>' in str(Both()["quick"])
