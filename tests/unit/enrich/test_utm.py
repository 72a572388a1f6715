"""Campaign tags and ad click ids from landing-page query strings."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from footfall.enrich.utm import Campaign, extract_campaign


def test_all_utm_fields() -> None:
    campaign = extract_campaign(
        "utm_source=newsletter&utm_medium=email&utm_campaign=nov%20sale"
        "&utm_content=cta+button&utm_term=running%20shoes"
    )
    assert campaign == Campaign(
        utm_source="newsletter",
        utm_medium="email",
        utm_campaign="nov sale",
        utm_content="cta button",
        utm_term="running shoes",
    )


def test_names_are_case_insensitive_and_first_value_wins() -> None:
    campaign = extract_campaign("UTM_Source=first&utm_source=second&Utm_Medium=cpc")
    assert (campaign.utm_source, campaign.utm_medium) == ("first", "cpc")


def test_leading_question_mark_or_whole_url_accepted() -> None:
    assert extract_campaign("?utm_source=a").utm_source == "a"
    assert extract_campaign("https://example.com/p?utm_source=b#utm_source=c").utm_source == "b"


@pytest.mark.parametrize(
    ("query", "kind"),
    [
        ("gclid=abc", "gclid"),
        ("gbraid=abc", "gbraid"),
        ("wbraid=abc", "wbraid"),
        ("msclkid=abc", "msclkid"),
        ("fbclid=abc", "fbclid"),
        ("ttclid=abc", "ttclid"),
        ("li_fat_id=abc", "li_fat_id"),
        ("twclid=abc", "twclid"),
        ("ScCid=abc", "sccid"),
        ("yclid=abc", "yclid"),
        ("fbclid=x&gclid=y", "gclid"),
        ("gclid=", ""),
        ("q=1", ""),
    ],
)
def test_click_ids(query: str, kind: str) -> None:
    assert extract_campaign(query).click_id_kind == kind


def test_ref_and_source_name_a_source_apart_from_utm_source() -> None:
    assert extract_campaign("ref=producthunt").ref_source == "producthunt"
    assert extract_campaign("source=twitter").ref_source == "twitter"
    tagged = extract_campaign("ref=producthunt&utm_source=newsletter")
    assert tagged.utm_source == "newsletter"
    assert tagged.tagged_source == "newsletter"
    assert extract_campaign("ref=hn").tagged_source == "hn"


def test_blank_values_are_absent_and_long_values_cut() -> None:
    campaign = extract_campaign("utm_source=%20%20&utm_campaign=" + "x" * 500)
    assert campaign.utm_source == ""
    assert campaign.utm_campaign == "x" * 300


def test_is_tagged() -> None:
    assert not extract_campaign("").is_tagged
    assert not extract_campaign("gclid=1").is_tagged
    assert extract_campaign("utm_campaign=spring").is_tagged
    assert extract_campaign("ref=x").is_tagged


@given(st.text(max_size=500))
def test_never_raises(query: str) -> None:
    assert isinstance(extract_campaign(query), Campaign)
