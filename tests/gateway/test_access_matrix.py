"""Every REST operation × every role: the policy below is the contract, written independently of the code.
A new operation must be added here (the test fails until it is), denied roles get 403, allowed ones get past
authorisation (whatever the backing service then answers)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from services.common.roles import Role

from .conftest import auth

ALL = {r.value for r in Role}
CRM = {"crm_backend", "admin"}
READERS = {"crm_backend", "sales_rep", "admin"}
MODELS = {"ml_engineer", "admin"}
JOBS = {"ml_engineer", "admin"}
WB_READ = {"labeller", "reviewer", "project_admin", "ml_engineer", "admin"}
WB_MEMBER = {"labeller", "reviewer", "project_admin", "admin"}
WB_LABEL = {"labeller", "reviewer", "admin"}
WB_REVIEW = {"reviewer", "project_admin", "admin"}
WB_AGREE = {"reviewer", "project_admin", "ml_engineer", "admin"}
WB_ADMIN = {"project_admin", "admin"}
WB_DATA = {"project_admin", "ml_engineer", "admin"}
WB = "/v1/workbench/projects/{project_id}"
POLICY: dict[tuple[str, str], set[str]] = {
    ("POST", "/v1/interactions"): CRM,
    ("GET", "/v1/interactions/{interaction_id}"): READERS,
    ("POST", "/v1/interactions/{interaction_id}/reveal"): {"admin"},
    ("GET", "/v1/customers/{customer_id}/export"): CRM,
    ("DELETE", "/v1/customers/{customer_id}"): CRM,
    ("POST", "/v1/redact"): ALL,
    ("POST", "/v1/classify"): READERS,
    ("POST", "/v1/analyze"): CRM,
    ("GET", "/v1/models"): MODELS,
    ("POST", "/v1/models/{task}/versions/{version}/load"): MODELS,
    ("POST", "/v1/models/{task}/versions/{version}/unload"): MODELS,
    ("POST", "/v1/models/{task}/versions/{version}/promote"): MODELS,
    ("GET", "/v1/models/{task}/traffic"): MODELS,
    ("PUT", "/v1/models/{task}/traffic"): MODELS,
    ("POST", "/v1/models/{task}/rollback"): MODELS,
    ("POST", "/v1/jobs"): JOBS | {"project_admin"},
    ("GET", "/v1/jobs"): JOBS,
    ("GET", "/v1/jobs/{job_id}"): JOBS,
    ("POST", "/v1/jobs/{job_id}/cancel"): JOBS,
    ("POST", "/v1/jobs/{job_id}/resume"): JOBS,
    ("GET", "/v1/jobs/{job_id}/events"): JOBS,
    ("GET", "/v1/jobs/{job_id}/report"): JOBS,
    ("POST", "/v1/workbench/projects/draft"): WB_ADMIN,
    ("POST", "/v1/workbench/projects"): WB_ADMIN,
    ("GET", "/v1/workbench/projects"): WB_READ,
    ("GET", WB): WB_READ,
    ("PATCH", WB): WB_ADMIN,
    ("POST", WB + "/items"): WB_ADMIN,
    ("POST", WB + "/items/upload"): WB_ADMIN,
    ("POST", WB + "/items/from-feedback"): WB_ADMIN,
    ("POST", WB + "/items/{item_id}/gold"): WB_ADMIN,
    ("GET", WB + "/next"): WB_LABEL,
    ("GET", WB + "/items/{item_id}"): WB_MEMBER,
    ("PUT", WB + "/items/{item_id}/annotation"): WB_LABEL,
    ("POST", WB + "/items/{item_id}/comments"): WB_MEMBER,
    ("GET", WB + "/history"): WB_MEMBER,
    ("GET", WB + "/conflicts"): WB_REVIEW,
    ("PUT", WB + "/items/{item_id}/resolution"): WB_REVIEW,
    ("GET", WB + "/agreement"): WB_AGREE,
    ("POST", WB + "/snapshots"): WB_ADMIN,
    ("GET", WB + "/snapshots"): WB_DATA,
    ("GET", "/v1/workbench/snapshots/{snapshot_id}/export"): WB_DATA,
    ("POST", "/v1/workbench/snapshots/{snapshot_id}/train"): WB_DATA,
    ("GET", "/v1/workbench/me"): WB_READ,
    ("POST", WB + "/import/label-studio"): WB_ADMIN,
    ("PUT", "/v1/leads/{lead_id}"): CRM,
    ("POST", "/v1/leads/{lead_id}/outcome"): CRM,
    ("GET", "/v1/leads/{lead_id}/score"): READERS,
    ("GET", "/v1/leads/{lead_id}/suggestions"): READERS,
    ("POST", "/v1/suggestions/{suggestion_id}/feedback"): READERS,
    ("POST", "/v1/callbacks/{channel}"): set(),  # no role: the channel's signature is the authentication
}
#: operations authenticated by a request signature instead of an API key: every key, of any role, gets 401
SIGNED = {("POST", "/v1/callbacks/{channel}")}
BODIES = {
    "/v1/interactions": {"external_id": "matrix-1", "text": "hello"},
    "/v1/interactions/{interaction_id}/reveal": {"reason": "access matrix test"},
    "/v1/redact": {"text": "hello"},
    "/v1/classify": {"texts": ["hello"]},
    "/v1/analyze": {"external_id": "matrix-2", "text": "hello"},
    "/v1/models/{task}/versions/{version}/promote": {},
    "/v1/models/{task}/traffic": {},
    "/v1/jobs": {"task": "intent", "dataset_path": "matrix.jsonl"},
    "/v1/leads/{lead_id}": {"stage": "qualified"},
    "/v1/leads/{lead_id}/outcome": {"outcome": "won"},
    "/v1/suggestions/{suggestion_id}/feedback": {"decision": "accepted"},
}
PARAMS = {
    "interaction_id": "i0000000000000000000000000000000",
    "customer_id": "c1",
    "task": "intent",
    "version": "v1",
    "project_id": "p1",
    "item_id": "i1",
    "snapshot_id": "s1",
    "job_id": "0" * 32,
    "lead_id": "lead-1",
    "suggestion_id": "s" * 32,
    "channel": "slack",
}


def test_every_operation_has_a_declared_policy(client: TestClient) -> None:
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    operations = {(m.upper(), p) for p, ops in paths.items() if p.startswith("/v1") for m in ops}
    assert operations == set(POLICY)


@pytest.mark.parametrize("role", sorted(ALL))
def test_each_role_gets_exactly_what_the_policy_allows(client: TestClient, tokens: dict[str, str], role: str) -> None:
    for (method, path), allowed in POLICY.items():
        concrete = path.format(**{k: v for k, v in PARAMS.items() if "{" + k + "}" in path})
        body = BODIES.get(path) if method in ("POST", "PUT", "PATCH") else None
        reply = client.request(method, concrete, json=body, headers=auth(tokens[role]))
        if (method, path) in SIGNED:
            assert reply.status_code == 401, (role, method, path, reply.status_code)
        elif role in allowed:
            assert reply.status_code not in (401, 403), (role, method, path, reply.text[:200])
        else:
            assert reply.status_code == 403, (role, method, path, reply.status_code)
            assert reply.json()["error"]["reason"] == "permission_denied"


def test_no_key_is_401_everywhere(client: TestClient) -> None:
    for method, path in POLICY:
        concrete = path.format(**{k: v for k, v in PARAMS.items() if "{" + k + "}" in path})
        assert client.request(method, concrete, json={}).status_code == 401, (method, path)


#: operations on something a tenant owns: an allowed role of ANOTHER tenant gets 404 (never 403, which would
#: confirm the id exists), and the owner's data is untouched afterwards
OWNED = [
    ("GET", "/v1/interactions/{interaction_id}", "globex_crm"),
    ("POST", "/v1/interactions/{interaction_id}/reveal", "globex_admin"),
]


def test_another_tenants_resources_are_404(client: TestClient, tokens: dict[str, str]) -> None:
    created = client.post(
        "/v1/interactions",
        json={"external_id": "tenant-axis-1", "text": "合同下周签，电话13812345678", "customer_id": "cust-9"},
        headers=auth(tokens["crm_backend"]),
    )
    assert created.status_code == 201
    interaction_id = created.json()["interaction"]["id"]
    for method, path, token in OWNED:
        concrete = path.format(interaction_id=interaction_id)
        body = BODIES.get(path) if method == "POST" else None
        reply = client.request(method, concrete, json=body, headers=auth(tokens[token]))
        assert reply.status_code == 404, (method, path, reply.status_code)
    # a customer id is a tenant's own namespace: another tenant's export finds nothing, its erase erases nothing
    exported = client.get("/v1/customers/cust-9/export", headers=auth(tokens["globex_crm"]))
    assert exported.status_code == 200 and exported.json()["interactions"] == []
    erased = client.delete("/v1/customers/cust-9", headers=auth(tokens["globex_crm"]))
    assert erased.status_code == 200 and erased.json()["interactions_erased"] == 0
    mine = client.get(f"/v1/interactions/{interaction_id}", headers=auth(tokens["crm_backend"]))
    assert mine.status_code == 200 and "<PHONE" in mine.json()["redacted_text"]
