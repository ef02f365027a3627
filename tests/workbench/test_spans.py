"""Span labelling in a real browser on Chinese, emoji (a surrogate pair and a ZWJ family) and mixed text: the
labeller selects text with the mouse and presses a label's key; the stored offsets are Unicode code points
(Python str indices) of exactly the selected words, and the spans render back on the same characters."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.common.roles import Role

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package (.ci/run does)", allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402 - only once the browser is known to exist

LABELS = [
    {"name": "product", "hotkey": "p"},
    {"name": "budget", "hotkey": "b"},
    {"name": "time", "hotkey": "t"},
    {"name": "mood", "hotkey": "m"},
]
TEXTS = [
    "我们想比较价格😀然后再决定，预算是五万元🎉",
    "Need a quote for 3 台服务器 👩‍👩‍👧 before Friday 🚀 thanks",
]
# (substring, label, how it is selected): "drag" = a real mouse drag, "range" = a DOM selection (emoji are too
# narrow to hit reliably with a mouse, and the selection is what the browser hands the page either way).
SPANS = {
    "预算": [("五万元", "budget", "drag"), ("😀", "mood", "range")],
    "quote": [("台服务器", "product", "drag"), ("👩‍👩‍👧", "mood", "range"), ("Friday", "time", "drag")],
}

# Locate `sub` in #item-text by UTF-16 index across text nodes (marks split them) and return a DOM Range.
FIND_RANGE = """
sub => {
  const root = document.getElementById('item-text');
  const at = root.textContent.indexOf(sub);
  if (at < 0) return null;
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  let pos = 0, started = false;
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const len = node.data.length;
    if (!started && at < pos + len) { range.setStart(node, at - pos); started = true; }
    if (started && at + sub.length <= pos + len) { range.setEnd(node, at + sub.length - pos); break; }
    pos += len;
  }
  return range;
}
"""
SELECT = f"sub => {{ const r = ({FIND_RANGE})(sub); const s = getSelection(); s.removeAllRanges(); s.addRange(r); }}"
RECTS = f"""sub => {{
  const rects = [...({FIND_RANGE})(sub).getClientRects()].filter(r => r.width > 0);
  const first = rects[0], last = rects[rects.length - 1];
  return [first.left, first.top + first.height / 2, last.right, last.top + last.height / 2];
}}"""


def select(page, sub: str, how: str) -> None:
    if how == "range":
        page.evaluate(SELECT, sub)
        return
    x0, y0, x1, y1 = page.evaluate(RECTS, sub)
    page.mouse.move(x0 + 1, y0)
    page.mouse.down()
    page.mouse.move(x1 - 1, y1, steps=8)
    page.mouse.up()
    assert page.evaluate("getSelection().toString()") == sub, "the mouse drag should select exactly the words"


def expected(text: str, spans: list[tuple[str, str, str]]) -> set[tuple[int, int, str]]:
    """Code-point offsets, computed the Python way (independent of the page's UTF-16 conversion)."""
    return {(text.index(sub), text.index(sub) + len(sub), label) for sub, label, _ in spans}


def test_span_offsets_round_trip_on_chinese_and_emoji(gateway, open_workbench) -> None:
    admin = gateway.api(gateway.key(Role.PROJECT_ADMIN, "admin"))
    project = admin.post("/projects", json={"name": "Entities", "kind": "span", "labels": LABELS, "overlap": 1})
    assert project.status_code == 201, project.text
    project_id = project.json()["id"]
    loaded = admin.post(f"/projects/{project_id}/items", json={"texts": [{"text": t} for t in TEXTS]})
    assert loaded.status_code == 200 and loaded.json()["added"] == 2, loaded.text

    token = gateway.key(Role.LABELLER, "labeller")
    tab = open_workbench("span-labeller")
    tab.sign_in(token)
    tab.page.goto(f"{gateway.url}/workbench/#/p/{project_id}/label")
    page = tab.page
    expect(page.locator("#progress")).to_have_text("Item 1 of 2")
    answered: dict[str, str] = {}
    for _ in TEXTS:
        text = tab.item_text()
        word = next(w for w in SPANS if w in text)
        answered[word] = tab.item_id
        if word == "quote":  # a wrong span, then Backspace takes it back
            select(page, "thanks", "drag")
            page.keyboard.press("t")
            expect(page.locator("mark.span")).to_have_count(1)
            page.keyboard.press("Backspace")
            expect(page.locator("mark.span")).to_have_count(0)
        for n, (sub, label, how) in enumerate(SPANS[word], start=1):
            select(page, sub, how)
            page.keyboard.press(tab.hotkey(label))
            expect(page.locator("mark.span")).to_have_count(n)
            expect(page.locator(f"mark.span[data-label='{label}']")).to_have_text(sub)
        tab.shot(f"09-spans-{'zh' if word == '预算' else 'mixed'}")
        tab.press("Enter")
    expect(page.get_by_role("heading", name="Queue empty")).to_be_visible()
    assert not tab.errors()
    assert not tab.page_console()

    labeller = gateway.api(token)
    for word, item_id in answered.items():
        item = labeller.get(f"/projects/{project_id}/items/{item_id}").json()
        stored = {(s["start"], s["end"], s["label"]) for s in item["my_annotation"]["spans"]}
        assert stored == expected(item["text"], SPANS[word]), f"offsets on {word!r}"
        assert {item["text"][s:e] for s, e, _ in stored} == {sub for sub, _, _ in SPANS[word]}

    tab.press("ArrowLeft")  # back to the newest answer: the stored spans render on the same characters
    shown = page.locator("mark.span")
    word = next(w for w in SPANS if w in tab.item_text())
    expect(shown).to_have_count(len(SPANS[word]))
    assert {(shown.nth(i).get_attribute("data-label"), shown.nth(i).inner_text()) for i in range(shown.count())} == {
        (label, sub) for sub, label, _ in SPANS[word]
    }
    tab.shot("10-spans-history")
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: one column, nothing cut off
    tab.shot("11-spans-narrow")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


# What each of two labellers marks in each text: they never agree, so both items are conflicts.
DISAGREEING = {
    TEXTS[0]: [("五万元", "budget"), ("😀", "mood")],
    TEXTS[1]: [("台服务器", "product"), ("👩‍👩‍👧", "mood")],
}


def answer_through_api(gateway, project_id: str) -> dict[str, dict[str, list[dict]]]:
    """Both labellers answer both items; returns {item_id: {covered text: spans}}."""
    answers: dict[str, dict[str, list[dict]]] = {}
    for n in range(2):
        labeller = gateway.api(gateway.key(Role.LABELLER, f"labeller-{n}"))
        for _ in TEXTS:
            item = labeller.get(f"/projects/{project_id}/next").json()["item"]
            sub, label = next(pairs[n] for text, pairs in DISAGREEING.items() if pairs[n][0] in item["text"])
            start = item["text"].index(sub)
            spans = [{"start": start, "end": start + len(sub), "label": label}]
            reply = labeller.put(f"/projects/{project_id}/items/{item['id']}/annotation", json={"spans": spans})
            assert reply.status_code == 200, reply.text
            answers.setdefault(item["id"], {})[sub] = spans
    return answers


def test_admin_resolves_span_conflicts_with_keys_and_makes_gold(gateway, open_workbench) -> None:
    """The project admin walks the conflict list with ↓, takes answers with number keys (one also as gold):
    each resolution holds exactly the chosen answer's code-point spans."""
    admin = gateway.api(gateway.key(Role.PROJECT_ADMIN, "admin"))
    body = {"name": "Entities", "kind": "span", "labels": LABELS, "overlap": 2}
    project_id = admin.post("/projects", json=body).json()["id"]
    assert admin.post(f"/projects/{project_id}/items", json={"texts": [{"text": t} for t in TEXTS]}).status_code == 200
    answers = answer_through_api(gateway, project_id)

    tab = open_workbench("span-resolver")
    tab.sign_in(gateway.key(Role.PROJECT_ADMIN, "resolver"))
    page = tab.page
    page.goto(f"{gateway.url}/workbench/#/p/{project_id}/review")
    expect(page.locator("#conflict-count")).to_have_text("Conflict 1 of 2")
    expect(page.locator(".conflict-list li")).to_have_count(2)
    page.keyboard.press("ArrowDown")
    expect(page.locator("#conflict-count")).to_have_text("Conflict 2 of 2")
    expect(page.locator(".conflict-list [aria-current=true]")).to_have_text(tab.item_text())

    chosen: dict[str, str] = {}
    for key, count in (("2", "Conflict 1 of 1"), ("1", None)):
        columns = page.locator(".answer")
        shown = sorted(columns.nth(i).locator("q").inner_text() for i in range(2))
        assert shown == sorted(answers[tab.item_id]), "each answer lists the text its spans cover"
        chosen[tab.item_id] = columns.nth(int(key) - 1).locator("q").inner_text()
        if key == "2":
            page.locator("#make-gold").check()  # focus stays on the checkbox: the answer keys still work
            tab.shot("14-spans-review")
        tab.press(key)
        if count:
            expect(page.locator("#conflict-count")).to_have_text(count)
    expect(page.get_by_role("heading", name="No open conflicts")).to_be_visible()

    for n, (item_id, sub) in enumerate(chosen.items()):
        stored = admin.get(f"/projects/{project_id}/items/{item_id}").json()
        assert stored["resolution"]["spans"] == answers[item_id][sub]
        if n == 0:
            assert stored["gold"]["spans"] == answers[item_id][sub], "the first one was also made gold"
        else:
            assert not stored["gold"]
