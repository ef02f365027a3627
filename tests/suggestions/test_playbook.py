"""Playbook loading: the shipped file is valid, and every kind of mistake gets an error that says where and what."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from services.common.errors import InvalidArgument
from services.suggestions.playbook import DEFAULT_PLAYBOOK, PlaybookError, load_playbook, parse_playbook


def base() -> dict:
    return yaml.safe_load(DEFAULT_PLAYBOOK.read_text(encoding="utf-8"))


def test_the_shipped_playbook_covers_the_issue_situations() -> None:
    playbook = load_playbook()
    rules = {r.id: r for r in playbook.rules}
    assert rules["budget_freeze"].actions == ("pause_quote_pushes", "alert_manager", "offer_case_study")
    assert rules["comparing_options"].actions == ("send_comparison_sheet",)
    assert rules["repeated_price_objection"].params == {"discount_percent": 5}
    assert [r.id for r in playbook.time_based_rules] == ["stale_hot_lead"]
    assert {a.audience for a in playbook.actions.values()} == {"customer", "internal"}


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "playbook.yaml"
    path.write_text("actions:\n  a: {title: [unclosed\nrules: []\n", encoding="utf-8")
    with pytest.raises(PlaybookError, match=r"not valid YAML at line \d+, column \d+") as err:
        load_playbook(path)
    assert isinstance(err.value, InvalidArgument) and err.value.http_status == 422


def test_a_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(PlaybookError, match="cannot read playbook"):
        load_playbook(tmp_path / "nope.yaml")


def test_an_unknown_intent_label_lists_the_valid_ones() -> None:
    data = base()
    data["rules"][0]["when"] = {"last_intent": "budget_frozen"}
    with pytest.raises(PlaybookError) as err:
        parse_playbook(data, source="p.yaml")
    message = err.value.message
    assert "invalid playbook p.yaml" in message
    assert "rules[0].when.last_intent" in message
    assert "unknown intent label 'budget_frozen'" in message and "budget_freeze" in message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["rules"][2]["when"].update(intent_count={"labels": ["price_objection"], "last": 2, "at_least": 3}),
         "at_least (3) cannot exceed last (2)"),
        (lambda d: d["rules"][0].update(when={"risk": "severe"}),
         "rules[0].when.risk.at_least: unknown risk level 'severe'"),
        (lambda d: d["rules"][0].update(when={}), "a rule needs at least one condition"),
        (lambda d: d["rules"][0].update(when={"moon_phase": "full"}), "rules[0].when.moon_phase: Extra inputs"),
        (lambda d: d["rules"][0].update(actions=["send_flowers"]), "unknown action 'send_flowers'"),
        (lambda d: d["rules"][2].update(params={}), "template field(s) ['discount_percent']"),
        (lambda d: d["rules"][1].update(id="budget_freeze"), "rule id 'budget_freeze' is used twice"),
        (lambda d: d["rules"][0].update(strength=1.5), "rules[0].strength: Input should be less than or equal to 1"),
        (lambda d: d["actions"]["alert_manager"]["title"].pop("zh"), "actions.alert_manager.title.zh: Field required"),
    ],
)  # fmt: skip
def test_validation_errors_are_clear(change, expected: str) -> None:
    data = base()
    change(data)
    with pytest.raises(PlaybookError) as err:
        parse_playbook(data)
    assert expected in err.value.message


def test_a_tenant_label_set_replaces_the_shipped_one() -> None:
    data = base()
    data["rules"] = [{"id": "r", "when": {"last_intent": "wants_invoice"}, "actions": ["alert_manager"]}]
    playbook = parse_playbook(data, labels={"intent": ["wants_invoice"]})
    assert playbook.rules[0].when.last_intent.labels == ("wants_invoice",)
    with pytest.raises(PlaybookError, match="unknown intent label 'wants_invoice'"):
        parse_playbook(data)


def test_the_top_level_must_be_a_mapping() -> None:
    with pytest.raises(PlaybookError, match="top level must be a mapping"):
        parse_playbook(["rules"])
