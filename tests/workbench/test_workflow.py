"""The whole workbench in a real browser: an admin creates a project and loads items, two labellers answer the
same items with the keyboard only, agreement shows, a reviewer resolves the conflict, the admin cuts a snapshot
and its JSONL export holds the resolved labels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.common.roles import Role

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package (.ci/run does)", allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402 - only once the browser is known to exist

PHONE = "+1 415 555 0100"
ITEMS = [
    {"text": "We are very interested, please send the contract today.", "external_id": "a"},
    {"text": f"Not interested at all, stop calling me at {PHONE}.", "external_id": "b"},
    {"text": "Maybe later, we review vendors again next quarter.", "external_id": "c"},
    {"text": "asdf qwer zxcv", "external_id": "d"},
]
# What each labeller answers, by a word of the item; None = skip. They disagree on "quarter" only.
ANSWERS = {
    "labeller-1": {"contract": "interested", "stop calling": "not_interested", "quarter": "interested", "asdf": None},
    "labeller-2": {
        "contract": "interested",
        "stop calling": "not_interested",
        "quarter": "not_interested",
        "asdf": None,
    },
}
LABELS = [
    {"name": "interested", "description": "wants to go on"},
    {"name": "not_interested", "description": "declines"},
]
EXPECTED_KAPPA = "0.400"  # p_o = 2/3, p_e = 2/3·1/3 + 1/3·2/3 = 4/9 → κ = (2/3 − 4/9) / (1 − 4/9) = 0.4


def create_project(admin) -> str:
    """Draft a schema from a description, edit it, create the project; returns its id."""
    page = admin.page
    page.get_by_role("link", name="New project").click()
    page.locator("#description").fill("When a customer replies to an offer, predict whether they are interested")
    page.get_by_role("button", name="Draft schema from description").click()
    expect(page.locator("#status")).to_contain_text("Drafted")
    assert page.locator("#project-name").input_value(), "the draft should name the project"
    assert page.locator(".label-row").count() >= 1, "the draft should propose labels"
    admin.shot("01-admin-draft")
    page.locator("#project-name").fill("Reply interest")
    page.locator("#project-kind").select_option("single")
    page.locator("#project-overlap").fill("2")
    page.locator("#project-task").fill("")
    while page.locator(".label-row").count():
        page.locator(".label-row").first.get_by_role("button", name="Remove this label").click()
    for name, description in [(x["name"], x["description"]) for x in LABELS]:
        page.get_by_role("button", name="Add label").click()
        row = page.locator(".label-row").last
        row.locator("[name=label-name]").fill(name)
        row.locator("[name=label-description]").fill(description)
    page.get_by_role("button", name="Create project").click()
    expect(page.locator("#project-summary")).to_be_visible()
    page.get_by_text("Edit project and labels").click()  # then edit it: instructions and a label description
    page.locator("#instructions").fill("Interested = they want the next step now.")
    page.locator(".label-row [name=label-description]").first.fill("wants the next step")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#status")).to_have_text("Project saved.")
    return page.url.split("#/p/")[1].split("/")[0]


def upload_items(admin) -> None:
    """A file with a bad line is refused as a whole, with the line named; the fixed file then loads."""
    page = admin.page
    bad = b'{"text": "fine"}\n{"txt": "no text field"}\n'
    page.locator("#upload-file").set_input_files(
        {"name": "bad.jsonl", "mimeType": "application/x-ndjson", "buffer": bad}
    )
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator("#error")).to_contain_text("bad.jsonl")
    expect(page.locator("#error")).to_contain_text("line 2")
    expect(page.locator("#stat-items")).to_have_text("0")
    admin.shot("02-admin-upload-error")
    payload = "\n".join(json.dumps(item) for item in ITEMS).encode()
    page.locator("#upload-file").set_input_files(
        {"name": "items.jsonl", "mimeType": "application/x-ndjson", "buffer": payload}
    )
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator("#status")).to_contain_text("Added 4 items")
    expect(page.locator("#stat-items")).to_have_text("4")
    admin.shot("02-admin-items-loaded")


def label_with_keyboard(tab, answers: dict[str, str | None]) -> list[str]:
    """Open the project with Tab + Enter and answer every queued item with hotkeys; returns the texts seen."""
    page = tab.page
    expect(page.get_by_role("link", name="Label", exact=True)).to_be_visible()
    tab.idle()
    tab.shot(f"03-{tab.who}-projects")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused == "Label", f"Tab from the page should reach the project's Label link, got {focused!r}"
    page.keyboard.press("Enter")
    expect(page.locator("#progress")).to_have_text("Item 1 of 4")
    seen = []
    for n in range(len(answers)):
        text = tab.item_text()
        seen.append(text)
        label = next(value for word, value in answers.items() if word in text)
        if label is None:
            tab.press("s")
            continue
        page.keyboard.press(tab.hotkey(label))
        expect(page.locator(f".label-button[data-label='{label}']")).to_have_attribute("aria-pressed", "true")
        if n == 0:
            tab.shot(f"03-{tab.who}-labelling")
        tab.press("Enter")
    expect(page.get_by_role("heading", name="Queue empty")).to_be_visible()
    return seen


def check_history_and_comment(tab) -> None:
    """← shows the last answer with its label pressed, C adds a comment, → returns to the (empty) queue, ? helps."""
    page = tab.page
    tab.press("ArrowLeft")  # the newest answer: the skipped item
    expect(page.locator(".badge.warn")).to_have_text("earlier item · skipped")
    assert page.locator(".label-button[aria-pressed=true]").count() == 0
    tab.press("ArrowLeft")
    expect(page.locator(".badge.warn")).to_have_text("earlier answer")
    expect(page.locator(".label-button[aria-pressed=true]")).to_have_count(1)
    expect(page.locator("#progress")).to_have_text("Your answer 3 of 4")
    page.keyboard.press("c")
    expect(page.locator("#comment-text")).to_be_focused()
    page.keyboard.type("unsure about this one")
    page.keyboard.press("Enter")
    expect(page.locator(".comment-list")).to_contain_text("unsure about this one")
    page.keyboard.press("?")
    expect(page.locator("#help")).to_be_visible()
    expect(page.locator("#help")).to_contain_text("skip this item")
    tab.shot(f"04-{tab.who}-help")
    page.keyboard.press("Escape")
    expect(page.locator("#help")).to_be_hidden()
    tab.press("ArrowRight")
    tab.press("ArrowRight")
    expect(page.get_by_role("heading", name="Queue empty")).to_be_visible()


def resolve_conflict(reviewer, label: str) -> None:
    page = reviewer.page
    page.get_by_role("link", name="Review (1)").click()
    expect(page.locator("#conflict-count")).to_have_text("Conflict 1 of 1")
    assert "quarter" in reviewer.item_text()
    answers = page.locator(".answer")
    assert answers.count() == 2
    number = next(n for n in range(2) if label in answers.nth(n).locator(".chips").inner_text().split())
    assert page.locator("#make-gold").count() == 0, "gold items are the project admin's"
    reviewer.shot("06-reviewer-conflict")
    page.keyboard.press(str(number + 1))
    expect(page.get_by_role("heading", name="No open conflicts")).to_be_visible()
    expect(page.locator("#status")).to_contain_text(f"Resolved as {label}")
    reviewer.shot("07-reviewer-resolved")


def snapshot_and_export(admin) -> list[dict]:
    page = admin.page
    page.get_by_role("button", name="Cut snapshot").click()
    expect(page.locator("#status")).to_contain_text("Snapshot v1 cut")
    admin.shot("08-admin-snapshot")
    with page.expect_download() as download:
        page.locator("button[data-export=jsonl][data-version='1']").click()
    path = download.value.path()
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def label_studio_round_trip(admin, gateway, token: str) -> None:
    """The snapshot's Label Studio export, uploaded into a fresh project, brings its items and answers along."""
    page = admin.page
    with page.expect_download() as download:
        page.locator("button[data-export=label-studio][data-version='1']").click()
    exported = Path(download.value.path()).read_bytes()
    copy = gateway.api(token).post("/projects", json={"name": "Copy", "kind": "single", "labels": LABELS})
    assert copy.status_code == 201, copy.text
    page.goto(f"{gateway.url}/workbench/#/p/{copy.json()['id']}/manage")
    page.locator("#upload-file").set_input_files(
        {"name": "export.json", "mimeType": "application/json", "buffer": exported}
    )
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator("#status")).to_contain_text("Added 3 items, with 3 answers")
    expect(page.locator("#stat-items")).to_have_text("3")


def test_two_labellers_agreement_review_snapshot(gateway, open_workbench) -> None:
    admin = open_workbench("admin")
    admin.sign_in("sai_0000_not-a-real-key", signed_in=False)
    expect(admin.page.locator("#error")).to_contain_text("That API key was not accepted")
    admin_token = gateway.key(Role.PROJECT_ADMIN, "admin")
    admin.sign_in(admin_token)
    expect(admin.page.locator("#who-role")).to_have_text("project admin")
    project_id = create_project(admin)
    upload_items(admin)

    texts: dict[str, list[str]] = {}
    for who in ("labeller-1", "labeller-2"):
        tab = open_workbench(who)
        tab.sign_in(gateway.key(Role.LABELLER, who))
        expect(tab.page.locator("#who-role")).to_have_text("labeller")
        assert tab.page.get_by_role("link", name="Manage").count() == 0, "labellers get no admin screens"
        texts[who] = label_with_keyboard(tab, ANSWERS[who])
        if who == "labeller-1":
            check_history_and_comment(tab)
        assert not tab.errors()
        page_text = tab.page.content()
        assert PHONE not in page_text and "555 0100" not in page_text, "labellers must never see raw PII"
        assert not tab.page_console(), "the page writes nothing to the console (no texts, no errors)"
    assert sorted(texts["labeller-1"]) == sorted(texts["labeller-2"]), "both labellers answer the same items"

    assert admin.page.url.endswith(f"#/p/{project_id}/manage")
    admin.page.reload()  # the admin's tab has been open all along: fresh figures
    expect(admin.page.locator("#items-compared")).to_have_text("3")
    cohen = admin.page.locator("#agreement-body table").first
    expect(cohen.locator("tbody tr")).to_have_count(1)
    expect(cohen.locator("tbody tr td").nth(1)).to_have_text(EXPECTED_KAPPA)
    expect(admin.page.locator("#stat-conflicts")).to_have_text("1")
    admin.shot("05-admin-agreement")

    reviewer = open_workbench("reviewer")
    reviewer.sign_in(gateway.key(Role.REVIEWER, "reviewer"))
    resolve_conflict(reviewer, "not_interested")

    admin.page.reload()
    expect(admin.page.locator("#stat-conflicts")).to_have_text("0")
    rows = snapshot_and_export(admin)
    by_word = {word: row for row in rows for word in ("contract", "stop calling", "quarter") if word in row["text"]}
    assert {w: r["label"] for w, r in by_word.items()} == {
        "contract": "interested",
        "stop calling": "not_interested",
        "quarter": "not_interested",  # the reviewer's resolution of a 1-1 tie
    }
    assert len(rows) == 3, "the item both labellers skipped has no label and stays out"
    assert all(r["split"] in {"train", "dev", "test"} for r in rows)
    assert not any(PHONE in r["text"] for r in rows)
    assert not admin.errors()
    label_studio_round_trip(admin, gateway, admin_token)
    assert not admin.page_console() and not reviewer.page_console()
