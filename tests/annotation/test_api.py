"""The workbench REST API end to end, on SQLite and PostgreSQL: two labellers with overlap 2, agreement, a
reviewer resolving a conflict, gold accuracy, snapshots and exports, Label Studio round trip, the feedback loop,
roles, tenants and bad input."""

from __future__ import annotations

import hashlib
import json

from fastapi.testclient import TestClient
from sqlalchemy import select

from services.common.storage import Database
from services.common.storage.models import AuditEvent, Suggestion, SuggestionFeedback

from .conftest import auth, key_user

W = "/v1/workbench"
TEXTS = [
    "How much is the enterprise plan? Call me at 13812345678",
    "The export button is broken again",
    "你们的价格太贵了，能便宜点吗",
]


def _project(client: TestClient, token: str, **extra: object) -> dict:
    body = {
        "name": "triage",
        "kind": "single",
        "labels": [{"name": "pricing", "hotkey": "1"}, {"name": "support", "hotkey": "2"}, {"name": "other"}],
        "overlap": 2,
        **extra,
    }
    reply = client.post(f"{W}/projects", json=body, headers=auth(token))
    assert reply.status_code == 201, reply.text
    return reply.json()


def _label(client: TestClient, token: str, project_id: str, answers: dict[str, str]) -> list[str]:
    """Take items from the queue until it is empty, answering by the item's text; returns the order seen."""
    seen = []
    while True:
        reply = client.get(f"{W}/projects/{project_id}/next", headers=auth(token))
        if reply.status_code == 204:
            return seen
        assert reply.status_code == 200, reply.text
        item = reply.json()["item"]
        seen.append(item["id"])
        label = next(v for k, v in answers.items() if k in item["text"])
        put = client.put(
            f"{W}/projects/{project_id}/items/{item['id']}/annotation",
            json={"labels": [label], "seconds": 2.5},
            headers=auth(token),
        )
        assert put.status_code == 200, put.text


def test_full_workflow(client: TestClient, tokens: dict[str, str], migrated_url: str) -> None:
    admin, l1, l2, reviewer = tokens["project_admin"], tokens["labeller"], tokens["labeller2"], tokens["reviewer"]
    project = _project(client, admin)
    pid = project["id"]

    loaded = client.post(f"{W}/projects/{pid}/items", json={"texts": [{"text": t} for t in TEXTS]}, headers=auth(admin))
    assert loaded.status_code == 200, loaded.text
    assert loaded.json()["added"] == 3 and loaded.json()["preannotation"] == "none"
    again = client.post(f"{W}/projects/{pid}/items", json={"texts": [{"text": TEXTS[1]}]}, headers=auth(admin))
    assert again.json() == {**again.json(), "added": 0, "skipped_duplicates": 1}

    first = client.get(f"{W}/projects/{pid}/next", headers=auth(l1)).json()
    assert first["remaining"] == 3
    assert "13812345678" not in first["item"]["text"] and "<PHONE" in first["item"]["text"]  # redacted on load

    # labeller 1 and 2 disagree on the support ticket only
    _label(client, l1, pid, {"enterprise": "pricing", "export": "pricing", "价格": "pricing"})
    _label(client, l2, pid, {"enterprise": "pricing", "export": "support", "价格": "pricing"})
    assert client.get(f"{W}/projects/{pid}/next", headers=auth(tokens["admin"])).status_code == 204  # overlap met

    conflicts = client.get(f"{W}/projects/{pid}/conflicts", headers=auth(reviewer)).json()["items"]
    assert len(conflicts) == 1 and "export" in conflicts[0]["item"]["text"]
    assert sorted(a["labels"][0] for a in conflicts[0]["annotations"]) == ["pricing", "support"]
    ticket = conflicts[0]["item"]["id"]
    stats = client.get(f"{W}/projects/{pid}", headers=auth(l1)).json()["stats"]
    assert stats == {"items": 3, "done": 3, "labelled_by_me": 3, "conflicts": 1}

    resolved = client.put(
        f"{W}/projects/{pid}/items/{ticket}/resolution",
        json={"labels": ["support"], "note": "a bug"},
        headers=auth(reviewer),
    )
    assert resolved.status_code == 200, resolved.text
    assert client.get(f"{W}/projects/{pid}/conflicts", headers=auth(reviewer)).json()["items"] == []

    # gold: the ticket is support (labeller 1 got it wrong), the pricing question is pricing (both right)
    pricing = next(
        i
        for i in client.get(f"{W}/projects/{pid}/history", headers=auth(l1)).json()["items"]
        if "enterprise" in i["text"]
    )
    for item_id, label in ((ticket, "support"), (pricing["id"], "pricing")):
        gold = client.post(f"{W}/projects/{pid}/items/{item_id}/gold", json={"labels": [label]}, headers=auth(admin))
        assert gold.status_code == 200 and gold.json()["gold"]["labels"] == [label], gold.text

    agreement = client.get(f"{W}/projects/{pid}/agreement", headers=auth(tokens["ml_engineer"])).json()
    assert agreement["items_compared"] == 3
    (pair,) = agreement["cohen"]
    assert pair["n"] == 3 and {pair["a"], pair["b"]} == {key_user(l1), key_user(l2)}
    accuracy = {x["labeller"]: x["gold_accuracy"] for x in agreement["labellers"]}
    assert accuracy == {key_user(l1): 0.5, key_user(l2): 1.0}
    assert set(agreement["per_label"]) == {"pricing", "support", "other"}

    snapshot = client.post(f"{W}/projects/{pid}/snapshots", json={"seed": 7}, headers=auth(admin))
    assert snapshot.status_code == 201, snapshot.text
    snap = snapshot.json()
    assert (
        snap["version"] == 1
        and sum(snap["counts"].values()) == 3
        and snap["label_counts"] == {"pricing": 2, "support": 1}
    )

    exported = client.get(f"{W}/snapshots/{snap['id']}/export?format=jsonl", headers=auth(tokens["ml_engineer"]))
    assert exported.status_code == 200
    assert hashlib.sha256(exported.content).hexdigest() == snap["sha256"]
    rows = [json.loads(line) for line in exported.content.decode().splitlines()]
    assert {r["item_id"]: r["label"] for r in rows}[ticket] == "support"  # the resolution wins
    assert all(r["split"] in ("train", "dev", "test") and "13812345678" not in r["text"] for r in rows)

    # Label Studio: export, import into a fresh project, same labels come back
    studio = client.get(f"{W}/snapshots/{snap['id']}/export?format=label-studio", headers=auth(admin)).json()
    copy = _project(client, admin, name="triage copy", overlap=1)
    imported = client.post(f"{W}/projects/{copy['id']}/import/label-studio", json=studio, headers=auth(admin))
    assert imported.status_code == 200, imported.text
    assert imported.json()["added"] == 3 and imported.json()["annotations"] == 3
    snap2 = client.post(f"{W}/projects/{copy['id']}/snapshots", json={"seed": 7}, headers=auth(admin)).json()
    assert snap2["label_counts"] == snap["label_counts"]

    # every label change is audited, with label names only
    db = Database(migrated_url)
    with db.session() as s:
        events = list(s.scalars(select(AuditEvent).where(AuditEvent.action.like("workbench.%"))))
    db.dispose()
    creates = [e for e in events if e.action == "workbench.annotation.create"]
    assert len(creates) == 6 and {e.actor for e in creates} == {key_user(l1), key_user(l2)}
    assert any(e.action == "workbench.resolution.set" and e.target_id == ticket for e in events)
    assert not any("enterprise" in e.reason or "13812345678" in e.reason for e in events)


def test_changing_an_answer_is_audited_and_skips_leave_the_item_queued(
    client: TestClient, tokens: dict[str, str], migrated_url: str
) -> None:
    admin, l1 = tokens["project_admin"], tokens["labeller"]
    pid = _project(client, admin, overlap=1)["id"]
    client.post(f"{W}/projects/{pid}/items", json={"texts": [{"text": "a"}, {"text": "b"}]}, headers=auth(admin))
    item = client.get(f"{W}/projects/{pid}/next", headers=auth(l1)).json()["item"]
    skipped_ahead = client.get(f"{W}/projects/{pid}/next", params={"after_item_id": item["id"]}, headers=auth(l1))
    assert skipped_ahead.json()["item"]["id"] != item["id"] and skipped_ahead.json()["item"]["position"] == 2
    comment = {"text": "unclear, ask 13812345678"}
    note = client.post(f"{W}/projects/{pid}/items/{item['id']}/comments", json=comment, headers=auth(l1))
    assert note.status_code == 201 and note.json()["author"] == key_user(l1)
    assert "13812345678" not in note.json()["text"] and note.json()["text"].startswith("unclear, ask <PHONE")
    assert (
        client.post(f"{W}/projects/{pid}/items/{item['id']}/comments", json={"text": " "}, headers=auth(l1)).status_code
        == 422
    )
    url = f"{W}/projects/{pid}/items/{item['id']}/annotation"
    assert client.put(url, json={"labels": ["pricing"]}, headers=auth(l1)).status_code == 200
    assert client.put(url, json={"labels": ["other"]}, headers=auth(l1)).json()["labels"] == ["other"]
    after = client.get(f"{W}/projects/{pid}/items/{item['id']}", headers=auth(l1)).json()
    assert after["my_annotation"]["labels"] == ["other"] and after["annotations"] is None  # labellers see only theirs
    assert [c["id"] for c in after["comments"]] == [note.json()["id"]]
    client.post(f"{W}/projects/{pid}/items/{item['id']}/gold", json={"labels": ["other"]}, headers=auth(admin))
    assert client.get(f"{W}/projects/{pid}/items/{item['id']}", headers=auth(l1)).json()["gold"] is None  # no peeking
    full = client.get(f"{W}/projects/{pid}/items/{item['id']}", headers=auth(tokens["reviewer"])).json()
    assert full["gold"]["labels"] == ["other"] and [a["labels"] for a in full["annotations"]] == [["other"]]

    other = client.get(f"{W}/projects/{pid}/next", headers=auth(l1)).json()["item"]
    skip = client.put(f"{W}/projects/{pid}/items/{other['id']}/annotation", json={"skipped": True}, headers=auth(l1))
    assert skip.status_code == 200 and skip.json()["skipped"] is True
    assert client.get(f"{W}/projects/{pid}/next", headers=auth(l1)).status_code == 204
    # a skip does not count toward the overlap: another labeller still gets the item
    assert client.get(f"{W}/projects/{pid}/next", headers=auth(tokens["labeller2"])).json()["item"]["id"] == other["id"]

    db = Database(migrated_url)
    with db.session() as s:
        actions = [e.action for e in s.scalars(select(AuditEvent).where(AuditEvent.target_id == item["id"]))]
    db.dispose()
    assert sorted(actions) == ["workbench.annotation.create", "workbench.annotation.update", "workbench.gold.set"]


def test_span_project_with_chinese_and_emoji(client: TestClient, tokens: dict[str, str]) -> None:
    admin, l1 = tokens["project_admin"], tokens["labeller"]
    labels = [{"name": "product"}, {"name": "emotion"}]
    pid = client.post(
        f"{W}/projects", json={"name": "ner", "kind": "span", "labels": labels}, headers=auth(admin)
    ).json()["id"]
    text = "我想买企业版👨‍👩‍👧 很开心😀"
    client.post(f"{W}/projects/{pid}/items", json={"texts": [{"text": text}]}, headers=auth(admin))
    item = client.get(f"{W}/projects/{pid}/next", headers=auth(l1)).json()["item"]
    assert item["text"] == text
    start = text.index("企业版")
    spans = [
        {"start": start, "end": start + 3, "label": "product"},
        {"start": len(text) - 1, "end": len(text), "label": "emotion"},
    ]
    url = f"{W}/projects/{pid}/items/{item['id']}/annotation"
    saved = client.put(url, json={"spans": spans}, headers=auth(l1))
    assert saved.status_code == 200, saved.text
    assert saved.json()["labels"] == ["emotion", "product"]
    bad = client.put(url, json={"spans": [{"start": 0, "end": len(text) + 1, "label": "product"}]}, headers=auth(l1))
    assert bad.status_code == 422 and "code points" in bad.json()["error"]["message"]
    snap = client.post(f"{W}/projects/{pid}/snapshots", json={}, headers=auth(admin)).json()
    row = json.loads(client.get(f"{W}/snapshots/{snap['id']}/export", headers=auth(admin)).content)
    assert [row["text"][s["start"] : s["end"]] for s in row["spans"]] == ["企业版", "😀"]


def test_feedback_loop_puts_rejected_suggestions_first(
    client: TestClient, tokens: dict[str, str], migrated_url: str
) -> None:
    admin = tokens["project_admin"]
    pid = _project(client, admin, overlap=1)["id"]
    client.post(f"{W}/projects/{pid}/items", json={"texts": [{"text": "older item"}]}, headers=auth(admin))
    stored = client.post(
        "/v1/interactions",
        json={"external_id": "fb-1", "text": "we will not renew"},
        headers=auth(tokens["crm_backend"]),
    ).json()["interaction"]
    db = Database(migrated_url)
    with db.session() as s:
        s.add(
            Suggestion(
                id="s1",
                tenant_id="acme",
                rule="churn",
                action="call",
                title="Call",
                confidence=0.9,
                language="en",
                evidence={"interaction_ids": [stored["id"]]},
            )
        )
        s.flush()
        s.add(SuggestionFeedback(tenant_id="acme", suggestion_id="s1", decision="rejected"))
        s.add(SuggestionFeedback(tenant_id="acme", suggestion_id="s1", decision="accepted"))
    db.dispose()
    pulled = client.post(f"{W}/projects/{pid}/items/from-feedback", headers=auth(admin))
    assert pulled.status_code == 200, pulled.text
    assert pulled.json() == {"added": 1, "skipped_duplicates": 0, "feedback_seen": 1}
    top = client.get(f"{W}/projects/{pid}/next", headers=auth(tokens["labeller"])).json()["item"]
    assert top["text"] == "we will not renew" and top["source"] == "feedback"
    assert client.post(f"{W}/projects/{pid}/items/from-feedback", headers=auth(admin)).json()["feedback_seen"] == 0


def test_interactions_and_uploads(client: TestClient, tokens: dict[str, str]) -> None:
    admin = tokens["project_admin"]
    pid = _project(client, admin, task="intent")["id"]
    stored = client.post(
        "/v1/interactions", json={"external_id": "x-1", "text": "price please"}, headers=auth(tokens["crm_backend"])
    ).json()["interaction"]
    loaded = client.post(f"{W}/projects/{pid}/items", json={"interaction_ids": [stored["id"]]}, headers=auth(admin))
    assert loaded.status_code == 200, loaded.text
    assert loaded.json()["added"] == 1 and loaded.json()["preannotation"] == "unavailable"  # inference is down
    missing = client.post(f"{W}/projects/{pid}/items", json={"interaction_ids": ["nope"]}, headers=auth(admin))
    assert missing.status_code == 404

    csv_file = ("items.csv", "text,external_id\nhello there,c1\n邮箱 a@b.com 联系我,c2\n".encode(), "text/csv")
    up = client.post(f"{W}/projects/{pid}/items/upload", files={"file": csv_file}, headers=auth(admin))
    assert up.status_code == 200 and up.json()["added"] == 2, up.text
    jsonl = ("items.jsonl", b'{"text": "fine"}\nnot json\n{"nope": 1}\n', "application/x-ndjson")
    bad = client.post(f"{W}/projects/{pid}/items/upload", files={"file": jsonl}, headers=auth(admin))
    assert (
        bad.status_code == 422
        and "line 2" in bad.json()["error"]["message"]
        and "line 3" in bad.json()["error"]["message"]
    )
    assert client.get(f"{W}/projects/{pid}", headers=auth(admin)).json()["stats"]["items"] == 3  # nothing half-loaded
    texts = client.get(f"{W}/projects/{pid}/history", headers=auth(admin))
    assert texts.status_code == 200


def test_roles_tenants_and_bad_input(client: TestClient, tokens: dict[str, str]) -> None:
    admin = tokens["project_admin"]
    project = _project(client, admin)
    pid = project["id"]
    client.post(f"{W}/projects/{pid}/items", json={"texts": [{"text": "one"}]}, headers=auth(admin))
    item = client.get(f"{W}/projects/{pid}/next", headers=auth(tokens["labeller"])).json()["item"]
    denied = [
        ("POST", f"{W}/projects", "labeller"),
        ("GET", f"{W}/projects/{pid}/next", "project_admin"),
        ("PUT", f"{W}/projects/{pid}/items/{item['id']}/annotation", "ml_engineer"),
        ("GET", f"{W}/projects/{pid}/conflicts", "labeller"),
        ("POST", f"{W}/projects/{pid}/snapshots", "reviewer"),
        ("GET", f"{W}/projects", "crm_backend"),
    ]
    for method, url, role in denied:
        assert client.request(method, url, json={}, headers=auth(tokens[role])).status_code == 403, (method, url, role)

    other = tokens["globex_admin"]
    assert client.get(f"{W}/projects/{pid}", headers=auth(other)).status_code == 404
    assert (
        client.post(f"{W}/projects/{pid}/items", json={"texts": [{"text": "x"}]}, headers=auth(other)).status_code
        == 404
    )
    assert client.get(f"{W}/projects", headers=auth(other)).json()["projects"] == []
    snap = client.post(f"{W}/projects/{pid}/snapshots", json={}, headers=auth(admin)).json()
    assert client.get(f"{W}/snapshots/{snap['id']}/export", headers=auth(other)).status_code == 404

    url = f"{W}/projects/{pid}/items/{item['id']}/annotation"
    for body, needle in (
        ({"labels": ["pricing", "support"]}, "exactly one"),
        ({"labels": ["nonsense"]}, "not in this project"),
        ({"labels": ["pricing"], "spans": [{"start": 0, "end": 1, "label": "pricing"}]}, "span projects"),
    ):
        reply = client.put(url, json=body, headers=auth(tokens["labeller"]))
        assert reply.status_code == 422 and needle in reply.json()["error"]["message"], reply.text
    assert (
        client.put(
            url, content=b"{nope", headers={**auth(tokens["labeller"]), "Content-Type": "application/json"}
        ).status_code
        == 400
    )
    too_many = {"texts": [{"text": f"t{i}"} for i in range(51)]}  # the test gateway allows 50 per load
    assert (
        "at most 50"
        in client.post(f"{W}/projects/{pid}/items", json=too_many, headers=auth(admin)).json()["error"]["message"]
    )
    both = {"texts": [{"text": "x"}], "interaction_ids": ["i"]}
    assert client.post(f"{W}/projects/{pid}/items", json=both, headers=auth(admin)).status_code == 422
    bad_project = {"name": "x", "kind": "single", "labels": [{"name": "a"}], "overlap": 9}
    assert client.post(f"{W}/projects", json=bad_project, headers=auth(admin)).status_code == 422
    dupes = {"name": "y", "kind": "single", "labels": [{"name": "a", "hotkey": "1"}, {"name": "b", "hotkey": "1"}]}
    assert "hotkeys" in client.post(f"{W}/projects", json=dupes, headers=auth(admin)).json()["error"]["message"]
    assert (
        client.post(
            f"{W}/projects", json={**dupes, "name": "triage", "labels": [{"name": "a"}]}, headers=auth(admin)
        ).status_code
        == 409
    )

    assert client.put(url, json={"labels": ["pricing"]}, headers=auth(tokens["labeller"])).status_code == 200
    remove = client.patch(
        f"{W}/projects/{pid}", json={"labels": [{"name": "support"}, {"name": "other"}]}, headers=auth(admin)
    )
    assert remove.status_code == 409 and "pricing" in remove.json()["error"]["message"]
    renamed = client.patch(
        f"{W}/projects/{pid}", json={"overlap": 3, "labels": [*project["labels"], {"name": "new"}]}, headers=auth(admin)
    )
    assert renamed.status_code == 200 and renamed.json()["overlap"] == 3 and len(renamed.json()["labels"]) == 4

    draft = client.post(f"{W}/projects/draft", json={"description": "预测客户是否会在30天内成交"}, headers=auth(admin))
    assert draft.status_code == 200 and [x["name"] for x in draft.json()["labels"]] == [
        "会在30天内成交",
        "不会在30天内成交",
    ]
    assert client.post(f"{W}/projects/draft", json={"description": "hmm"}, headers=auth(admin)).status_code == 422


def test_label_studio_import_redacts_and_moves_spans(client: TestClient, tokens: dict[str, str]) -> None:
    admin = tokens["project_admin"]
    labels = [{"name": "product"}, {"name": "phone"}]
    pid = client.post(
        f"{W}/projects", json={"name": "ls", "kind": "span", "labels": labels}, headers=auth(admin)
    ).json()["id"]
    text = "电话13812345678，想买企业版😀"
    start = text.index("企业版")
    result = [
        {"type": "labels", "value": {"start": start, "end": start + 3, "labels": ["product"]}},
        {"type": "labels", "value": {"start": 2, "end": 13, "labels": ["phone"]}},
    ]
    tasks = [
        {
            "id": 7,
            "data": {"text": text},
            "annotations": [{"completed_by": {"id": 3, "email": "x@y.z"}, "result": result}],
        }
    ]
    reply = client.post(f"{W}/projects/{pid}/import/label-studio", json=tasks, headers=auth(admin))
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"added": 1, "skipped_duplicates": 0, "annotations": 1, "spans_dropped": 1}
    snap = client.post(f"{W}/projects/{pid}/snapshots", json={}, headers=auth(admin)).json()
    row = json.loads(client.get(f"{W}/snapshots/{snap['id']}/export", headers=auth(admin)).content)
    assert "13812345678" not in row["text"] and [row["text"][s["start"] : s["end"]] for s in row["spans"]] == ["企业版"]
    bad = [
        {
            "data": {"text": "abc"},
            "annotations": [{"result": [{"value": {"start": 0, "end": 9, "labels": ["product"]}}]}],
        }
    ]
    reply = client.post(f"{W}/projects/{pid}/import/label-studio", json=bad, headers=auth(admin))
    assert reply.status_code == 422 and "task 0 annotation 0" in reply.json()["error"]["message"]
    assert client.get(f"{W}/projects/{pid}", headers=auth(admin)).json()["stats"]["items"] == 1  # nothing half-loaded


def test_who_am_i(client: TestClient, tokens: dict[str, str]) -> None:
    reply = client.get(f"{W}/me", headers=auth(tokens["reviewer"]))
    assert reply.status_code == 200
    assert reply.json() == {"role": "reviewer", "tenant_id": "acme", "user": key_user(tokens["reviewer"])}
    assert client.get(f"{W}/me", headers=auth(tokens["crm_backend"])).status_code == 403


def test_train_from_a_snapshot_checks_it_before_queueing(client: TestClient, tokens: dict[str, str]) -> None:
    admin = tokens["project_admin"]
    pid = _project(client, admin)["id"]
    client.post(f"{W}/projects/{pid}/items", json={"texts": [{"text": "how much?"}]}, headers=auth(admin))
    snap = client.post(f"{W}/projects/{pid}/snapshots", json={}, headers=auth(admin)).json()
    # another tenant's snapshot is unknown to this caller
    other = client.post(f"{W}/snapshots/{snap['id']}/train", json={}, headers=auth(tokens["globex_admin"]))
    assert other.status_code == 404
    bad = client.post(f"{W}/snapshots/{snap['id']}/train", json={"task": "Not A Task"}, headers=auth(admin))
    assert bad.status_code == 422
    # nothing listens on the training service's port here: a clear 503 to retry, never a 500
    down = client.post(f"{W}/snapshots/{snap['id']}/train", json={"deploy": "canary"}, headers=auth(admin))
    assert down.status_code == 503 and down.headers["Retry-After"]

    spans = _project(client, admin, name="entities", kind="span", overlap=1)["id"]
    client.post(f"{W}/projects/{spans}/items", json={"texts": [{"text": "3 servers"}]}, headers=auth(admin))
    span_snap = client.post(f"{W}/projects/{spans}/snapshots", json={}, headers=auth(admin)).json()
    refused = client.post(f"{W}/snapshots/{span_snap['id']}/train", json={}, headers=auth(admin))
    assert refused.status_code == 409 and "span-label snapshot" in refused.json()["error"]["message"]


def test_erasing_a_customer_removes_their_workbench_items(client: TestClient, tokens: dict[str, str]) -> None:
    admin, crm = tokens["project_admin"], tokens["crm_backend"]
    pid = _project(client, admin)["id"]
    ids = [
        client.post(
            "/v1/interactions",
            json={"external_id": f"e-{n}", "customer_id": customer, "text": f"消息 {n}"},
            headers=auth(crm),
        ).json()["interaction"]["id"]
        for n, customer in enumerate(["gone", "gone", "stays"])
    ]
    assert (
        client.post(f"{W}/projects/{pid}/items", json={"interaction_ids": ids}, headers=auth(admin)).json()["added"]
        == 3
    )
    erased = client.delete("/v1/customers/gone", headers=auth(crm))
    assert erased.status_code == 200 and erased.json()["interactions_erased"] == 2
    assert client.get(f"{W}/projects/{pid}", headers=auth(admin)).json()["stats"]["items"] == 1
