"""FastAPI dependencies, as ``Annotated`` aliases so route signatures read like prose."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from gateway.auth import Caller, KeyStore
from gateway.backends import Backends
from services.common.errors import PermissionDenied, Unauthenticated
from services.common.logging import request_id_var
from services.common.roles import Role
from services.common.storage import Database

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer sai_...`")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="or `X-API-Key: sai_...`")


def get_backends(request: Request) -> Backends:
    return request.app.state.backends  # type: ignore[no-any-return]


def get_keys(request: Request) -> KeyStore:
    return request.app.state.keys  # type: ignore[no-any-return]


def authenticate(
    request: Request,
    keys: Annotated[KeyStore, Depends(get_keys)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header: Annotated[str | None, Depends(_header)],
) -> Caller:
    token = bearer.credentials if bearer else header
    if not token:
        raise Unauthenticated("missing API key: send `Authorization: Bearer <key>` or `X-API-Key: <key>`")
    caller = keys.verify(token)
    request.app.state.limiter.check(caller.key_id)
    return caller


def require(*roles: Role) -> Callable[[Caller], Caller]:
    """A dependency that lets only ``roles`` through (403 otherwise)."""

    def check(caller: Annotated[Caller, Depends(authenticate)]) -> Caller:
        if caller.role not in roles:
            raise PermissionDenied(f"role {caller.role.value!r} may not call this endpoint")
        return caller

    return check


def request_id() -> str:
    return request_id_var.get()


BackendsDep = Annotated[Backends, Depends(get_backends)]
AnyCaller = Annotated[Caller, Depends(authenticate)]
CrmCaller = Annotated[Caller, Depends(require(Role.CRM_BACKEND, Role.ADMIN))]
ReaderCaller = Annotated[Caller, Depends(require(Role.CRM_BACKEND, Role.SALES_REP, Role.ADMIN))]
RequestId = Annotated[str, Depends(request_id)]
ModelCaller = Annotated[Caller, Depends(require(Role.ML_ENGINEER, Role.ADMIN))]
JobCaller = Annotated[Caller, Depends(require(Role.ML_ENGINEER, Role.ADMIN))]
JobSubmitter = Annotated[Caller, Depends(require(Role.ML_ENGINEER, Role.ADMIN, Role.PROJECT_ADMIN))]


def get_db(request: Request) -> Database:
    return request.app.state.db  # type: ignore[no-any-return]


DatabaseDep = Annotated[Database, Depends(get_db)]
# The annotation workbench (annotation/README.md has the role table).
_LABEL, _REVIEW, _PADMIN, _ML = Role.LABELLER, Role.REVIEWER, Role.PROJECT_ADMIN, Role.ML_ENGINEER
WorkbenchReader = Annotated[Caller, Depends(require(_LABEL, _REVIEW, _PADMIN, _ML, Role.ADMIN))]
WorkbenchMember = Annotated[Caller, Depends(require(_LABEL, _REVIEW, _PADMIN, Role.ADMIN))]
LabellingCaller = Annotated[Caller, Depends(require(_LABEL, _REVIEW, Role.ADMIN))]
ReviewCaller = Annotated[Caller, Depends(require(_REVIEW, _PADMIN, Role.ADMIN))]
AgreementCaller = Annotated[Caller, Depends(require(_REVIEW, _PADMIN, _ML, Role.ADMIN))]
ProjectAdminCaller = Annotated[Caller, Depends(require(_PADMIN, Role.ADMIN))]
DatasetCaller = Annotated[Caller, Depends(require(_PADMIN, _ML, Role.ADMIN))]
