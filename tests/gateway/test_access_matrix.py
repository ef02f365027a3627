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
}
BODIES = {
    "/v1/interactions": {"external_id": "matrix-1", "text": "hello"},
    "/v1/interactions/{interaction_id}/reveal": {"reason": "access matrix test"},
    "/v1/redact": {"text": "hello"},
    "/v1/classify": {"texts": ["hello"]},
    "/v1/analyze": {"external_id": "matrix-2", "text": "hello"},
    "/v1/models/{task}/versions/{version}/promote": {},
    "/v1/models/{task}/traffic": {},
}
PARAMS = {"interaction_id": "i0000000000000000000000000000000", "customer_id": "c1", "task": "intent", "version": "v1"}


def test_every_operation_has_a_declared_policy(client: TestClient) -> None:
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    operations = {(m.upper(), p) for p, ops in paths.items() if p.startswith("/v1") for m in ops}
    assert operations == set(POLICY)


@pytest.mark.parametrize("role", sorted(ALL))
def test_each_role_gets_exactly_what_the_policy_allows(client: TestClient, tokens: dict[str, str], role: str) -> None:
    for (method, path), allowed in POLICY.items():
        concrete = path.format(**{k: v for k, v in PARAMS.items() if "{" + k + "}" in path})
        body = BODIES.get(path) if method in ("POST", "PUT") else None
        reply = client.request(method, concrete, json=body, headers=auth(tokens[role]))
        if role in allowed:
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
