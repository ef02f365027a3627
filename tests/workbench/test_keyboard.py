"""Keyboard details on a multi-label project: label keys toggle, a schema hotkey the workbench reserves (S = skip)
is moved to a free key, Enter with nothing chosen saves nothing, keys typed into the comment box stay text."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.common.roles import Role
from services.common.storage import Database
from services.common.storage.models import AnnotationItem

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package (.ci/run does)", allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402 - only once the browser is known to exist

LABELS = [{"name": "pricing", "hotkey": "s"}, {"name": "demo", "hotkey": "d"}, {"name": "legal"}]


def pre_annotate(url: str, text: str, label: str, confidence: float) -> None:
    """What a load through a serving model stores (the inference service itself is not started here)."""
    db = Database(url)
    with db.session() as s:
        s.query(AnnotationItem).filter_by(text=text).one().prediction_label = label
        s.query(AnnotationItem).filter_by(text=text).one().prediction_confidence = confidence
    db.dispose()


def test_multi_label_keys(gateway, open_workbench, migrated_url: str) -> None:
    admin = gateway.api(gateway.key(Role.PROJECT_ADMIN, "admin"))
    project = admin.post("/projects", json={"name": "Topics", "kind": "multi", "labels": LABELS, "overlap": 1})
    assert project.status_code == 201, project.text
    project_id = project.json()["id"]
    texts = [{"text": "Can we get a demo and the price list?"}, {"text": "Please send the NDA."}]
    assert admin.post(f"/projects/{project_id}/items", json={"texts": texts}).status_code == 200
    pre_annotate(migrated_url, texts[0]["text"], "demo", 0.834)

    token = gateway.key(Role.LABELLER, "labeller")
    tab = open_workbench("multi")
    tab.sign_in(token)
    page = tab.page
    page.goto(f"{gateway.url}/workbench/#/p/{project_id}/label")
    expect(page.locator("#progress")).to_have_text("Item 1 of 2")
    assert [tab.hotkey(x["name"]) for x in LABELS] == ["1", "d", "2"], "S is skip: pricing gets the first free key"
    expect(page.locator(".prediction")).to_have_text("Model suggests demo 83% confident")
    expect(page.locator(".label-button.suggested")).to_have_attribute("data-label", "demo")
    pressed = page.locator(".label-button[aria-pressed=true]")
    expect(pressed).to_have_count(0)  # a suggestion is shown, never pre-chosen: the labeller decides
    first = tab.item_id

    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_contain_text("Choose a label first")
    assert tab.item_id == first

    page.keyboard.press("c")
    page.keyboard.type("sd12")
    page.keyboard.press("Escape")
    expect(page.locator("#comment-text")).to_have_count(0)
    expect(pressed).to_have_count(0)

    for key in ("d", "1", "2", "d"):
        page.keyboard.press(key)
    expect(pressed).to_have_count(2)
    tab.shot("12-multi-label")
    page.emulate_media(color_scheme="dark", reduced_motion="reduce")  # no colour transition mid-shot
    tab.shot("13-multi-label-dark")
    tab.press("Enter")
    expect(page.locator("#progress")).to_have_text("Item 2 of 2")
    tab.press("s")
    expect(page.get_by_role("heading", name="Queue empty")).to_be_visible()

    labeller = gateway.api(token)
    history = labeller.get(f"/projects/{project_id}/history").json()["items"]
    answers = {item["text"]: item["my_annotation"] for item in history}
    assert answers[texts[0]["text"]]["labels"] == ["legal", "pricing"]
    assert answers[texts[1]["text"]]["skipped"] is True
    assert not labeller.get(f"/projects/{project_id}/items/{first}").json()["comments"], "Esc saved no comment"
