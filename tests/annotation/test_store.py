"""Store-level rules that the REST tests do not reach: customer erasure and duplicate handling."""

from __future__ import annotations

from sqlalchemy import func, select

from annotation.labelling import Labelling
from annotation.store import Actor, NewItem, ProjectStore, erase_customer_items
from services.common.storage import Database
from services.common.storage.models import Annotation, AnnotationItem, Tenant


def test_erasing_a_customer_removes_their_items_and_answers(migrated_url: str) -> None:
    db = Database(migrated_url)
    with db.session() as s:
        s.add(Tenant(id="acme", name="acme"))
    who = Actor("acme", "key:k1", "project_admin")
    store = ProjectStore(db)
    project = store.create(who, {"name": "p", "kind": "single", "labels": [{"name": "a"}, {"name": "b"}]})
    items = [
        NewItem("from c9", "interaction", customer_id="c9"),
        NewItem("also from c9", "feedback", customer_id="c9"),
        NewItem("from c10", "interaction", customer_id="c10"),
        NewItem("uploaded", "upload"),
        NewItem("uploaded", "upload"),  # the same text twice in one load
    ]
    assert store.add_items(who, project.id, items) == (4, 1)
    labelling = Labelling(db)
    while (found := labelling.next_item(who, project.id)) is not None:
        labelling.annotate(who, project.id, found[0]["id"], {"labels": ["a"]})
    with db.session() as s:
        assert erase_customer_items(s, "acme", "") == 0
        assert erase_customer_items(s, "globex", "c9") == 0
        assert erase_customer_items(s, "acme", "c9") == 2
    with db.session() as s:
        texts = sorted(s.scalars(select(AnnotationItem.text)))
        answers = s.scalar(select(func.count()).select_from(Annotation))
    assert texts == ["from c10", "uploaded"] and answers == 2
    db.dispose()
