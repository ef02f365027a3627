"""Caller roles. The gateway authenticates a key to one role and one tenant; services check roles."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    CRM_BACKEND = "crm_backend"
    SALES_REP = "sales_rep"
    LABELLER = "labeller"
    REVIEWER = "reviewer"
    PROJECT_ADMIN = "project_admin"
    ML_ENGINEER = "ml_engineer"
    ADMIN = "admin"


def parse_role(value: str) -> Role:
    from services.common.errors import InvalidArgument

    try:
        return Role(value)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise InvalidArgument(f"unknown role {value!r}; expected one of: {allowed}", field="role") from None
