"""The UI adapts to the caller's role: each role signs in and sees exactly the screens and actions it may use
(the gateway still checks every call; this is about not offering what would be refused)."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.common.roles import Role

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package (.ci/run does)", allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402 - only once the browser is known to exist

# role -> (project card links, manage-page sections)
EXPECTED = {
    Role.LABELLER: (["Label"], None),
    Role.REVIEWER: (["Label", "Review", "Agreement"], ["Agreement"]),
    Role.ML_ENGINEER: (["Agreement & snapshots"], ["Agreement", "Dataset snapshots"]),
    Role.PROJECT_ADMIN: (
        ["Review", "Manage"],
        ["Edit project and labels", "Load items", "Agreement", "Dataset snapshots"],
    ),
    Role.ADMIN: (
        ["Label", "Review", "Manage"],
        ["Edit project and labels", "Load items", "Agreement", "Dataset snapshots"],
    ),
}


def test_each_role_sees_its_screens(gateway, open_workbench) -> None:
    admin = gateway.api(gateway.key(Role.PROJECT_ADMIN, "setup"))
    labels = [{"name": "yes"}, {"name": "no"}]
    project_id = admin.post("/projects", json={"name": "Roles", "kind": "single", "labels": labels}).json()["id"]
    for role, (links, sections) in EXPECTED.items():
        tab = open_workbench(role.value)
        tab.sign_in(gateway.key(role, role.value))
        page = tab.page
        expect(page.locator("#who-role")).to_have_text(role.value.replace("_", " "))
        card = page.locator(f"[data-project-id='{project_id}'] .actions a")
        expect(card).to_have_text(links)
        assert (page.get_by_role("link", name="New project").count() == 1) == (role in (Role.PROJECT_ADMIN, Role.ADMIN))
        if sections is None:
            continue
        page.goto(f"{gateway.url}/workbench/#/p/{project_id}/manage")
        expect(page.locator("#project-summary")).to_be_visible()
        expect(page.locator("main section h2, main details summary h2")).to_have_text(sections)
        can_cut = role in (Role.PROJECT_ADMIN, Role.ADMIN)
        assert page.get_by_role("button", name="Cut snapshot").count() == int(can_cut)
        assert not tab.errors() and not tab.page_console()
