"""Traffic routes: the immutable value a task (of a tenant) is served by, and the saved routes every inference
replica converges to.

The database is the source of truth, so that every replica behind one round_robin channel serves alike: a
task's stable version is its ``production`` row in ``model_versions`` (the registry), its canary, shadow and
rollback target are its ``model_routes`` row. The replica that takes a lifecycle call writes both
(:func:`save_route`); every replica reads them back (:func:`saved_routes`) and converges to them
(:meth:`services.inference.core.InferenceCore.sync`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import select

from services.common.storage import Database
from services.common.storage.models import ModelRoute, ModelVersion

Key = tuple[str, str, str]  # tenant, task, version
RouteKey = tuple[str, str]  # tenant, task


@dataclass(frozen=True)
class Route:
    stable: str | None = None
    canary: str | None = None
    canary_percent: float = 0.0
    shadow: str | None = None
    previous: str | None = None

    def serving(self) -> tuple[str, ...]:
        """The versions that run on live traffic (answer, or are compared): they must be loaded."""
        return tuple(v for v in (self.stable, self.canary, self.shadow) if v)

    def referenced(self) -> tuple[str, ...]:
        """Every version the route names, the rollback target too (kept loaded: rollback is instant)."""
        return self.serving() + ((self.previous,) if self.previous else ())


def activated(route: Route, version: str) -> Route:
    """``route`` with ``version`` made stable: the old stable becomes the rollback target, and ``version``
    leaves the canary or shadow slot it held."""
    changes: dict[str, object] = {"stable": version}
    if route.stable and route.stable != version:
        changes["previous"] = route.stable
    if route.canary == version:
        changes.update(canary=None, canary_percent=0.0)
    if route.shadow == version:
        changes["shadow"] = None
    return replace(route, **changes)  # type: ignore[arg-type]


def _from_row(row: ModelRoute, production: str | None) -> Route:
    route = Route(
        stable=row.stable or None,
        canary=row.canary or None,
        canary_percent=row.canary_percent if row.canary else 0.0,
        shadow=row.shadow or None,
        previous=row.previous or None,
    )
    if production is None or production == route.stable:
        return route
    # The registry names another production version: an activation read between its two writes (stage, then
    # route), or a stage set outside this service. Either way the route is the row's, activated to it.
    return activated(route, production)


def saved_routes(db: Database) -> dict[RouteKey, Route]:
    """Every saved route: the ``model_routes`` rows with the registry's production versions as stable, and a
    plain stable route for each production version without a row (a shipped adapter, a fresh install)."""
    with db.session() as session:
        rows = list(session.scalars(select(ModelRoute)))
        production: dict[RouteKey, str] = {
            (tenant_id, task): version
            for tenant_id, task, version in session.execute(
                select(ModelVersion.tenant_id, ModelVersion.task, ModelVersion.version).where(
                    ModelVersion.stage == "production"
                )
            )
        }
    routes = {(row.tenant_id, row.task): _from_row(row, production.get((row.tenant_id, row.task))) for row in rows}
    for key, version in production.items():
        routes.setdefault(key, Route(stable=version))
    return routes


def save_route(db: Database, key: RouteKey, route: Route) -> None:
    """Write ``route`` as the task's row (the other replicas follow it; a restart serves it again)."""
    tenant_id, task = key
    with db.session() as session, session.begin():
        session.merge(
            ModelRoute(
                tenant_id=tenant_id,
                task=task,
                stable=route.stable or "",
                canary=route.canary or "",
                canary_percent=route.canary_percent,
                shadow=route.shadow or "",
                previous=route.previous or "",
            )
        )
