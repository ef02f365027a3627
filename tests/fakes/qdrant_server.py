"""A fake Qdrant server (REST, in memory) — Qdrant is a system we do not own, and no real one can run here.

It speaks the subset of the Qdrant HTTP API that the installed ``qdrant-client`` sends for what
:mod:`services.suggestions.similar` does, with the paths, query parameters and shapes of
``qdrant_client/http/api/*.py`` (request bodies are parsed with the client's own pydantic models)::

    GET  /                                  version info (the installed client's; no key, as on a real server)
    GET  /collections/{name}/exists
    PUT  /collections/{name}                one unnamed dense vector, Cosine or Dot
    PUT  /collections/{name}/index          payload index: recorded in ``Collection.indexes``
    PUT  /collections/{name}/points         upsert a list of points
    POST /collections/{name}/points/query   nearest to a dense vector: filter, score_threshold, offset, limit
    POST /collections/{name}/points/count
    POST /collections/{name}/points/delete  by ids or by filter
    POST /collections/{name}/points/scroll  in id order; ``offset`` is the first id of the page

Filters: ``must`` / ``should`` / ``must_not`` of ``match.value`` / ``match.any`` field conditions (a list value
matches when one element does), ``has_id`` and nested filters. Anything else answers 400 rather than a wrong
result. Answers are ``{"result": ..., "status": "ok", "time": ...}``; errors ``{"status": {"error": ...}}`` with
Qdrant's codes (404 missing collection, 400 bad input, 409 exists). Writes apply at once whatever ``wait`` says;
every write's ``wait`` is kept in ``FakeQdrant.writes`` so a test can check it; ``FakeQdrant.before`` lets a test
slip another client's change in just before a request. Started with an ``api_key``, every request but ``GET /``
needs it in the ``api-key`` header (or ``Authorization: Bearer``), else 401 ``Invalid API key or JWT``.
"""

from __future__ import annotations

import importlib.metadata
import math
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import TypeAdapter, ValidationError
from qdrant_client.http import models

#: the server version the fake claims: the installed client's, so its compatibility check passes
VERSION = ".".join(importlib.metadata.version("qdrant-client").split(".")[:2]) + ".0"
PointId = int | str


class QdrantError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class Point:
    vector: list[float]
    payload: dict[str, Any]
    version: int


@dataclass
class Collection:
    size: int
    distance: models.Distance
    points: dict[PointId, Point] = field(default_factory=dict)
    indexes: dict[str, str] = field(default_factory=dict)  # field name -> schema


@dataclass
class FakeQdrant:
    api_key: str | None = None
    url: str = ""
    collections: dict[str, Collection] = field(default_factory=dict)
    writes: list[tuple[str, bool]] = field(default_factory=list)  # (path, wait) of every update
    #: one-shot actions run just before a (method, path) request is handled: what another client did meanwhile
    before: dict[tuple[str, str], Callable[[], None]] = field(default_factory=dict)
    operations: int = 0

    def collection(self, name: str) -> Collection:
        if name not in self.collections:
            raise QdrantError(404, f"Not found: Collection `{name}` doesn't exist!")
        return self.collections[name]

    def updated(self, request: Request) -> dict[str, Any]:
        wait = request.query_params.get("wait", "false") == "true"
        self.writes.append((request.url.path, wait))
        self.operations += 1
        return {"operation_id": self.operations, "status": "completed" if wait else "acknowledged"}


def ok(result: Any) -> dict[str, Any]:
    return {"result": result, "status": "ok", "time": 0.0}


async def parse(request: Request, schema: Any) -> Any:
    try:
        return TypeAdapter(schema).validate_python(await request.json())
    except (ValueError, ValidationError) as err:
        raise QdrantError(400, f"Format error in JSON body: {err}") from err


def point_id(raw: PointId) -> PointId:
    if isinstance(raw, int) and raw >= 0:
        return raw
    try:
        return str(uuid.UUID(str(raw)))
    except ValueError as err:
        raise QdrantError(400, f"Unable to parse UUID: {raw}") from err


def id_order(pid: PointId) -> tuple[int, int]:
    return (0, pid) if isinstance(pid, int) else (1, uuid.UUID(pid).int)


def conditions(value: Any) -> list[Any]:
    return [] if value is None else value if isinstance(value, list) else [value]


def matches(where: models.Filter | None, pid: PointId, payload: dict[str, Any]) -> bool:
    if where is None:
        return True
    if where.min_should is not None:
        raise QdrantError(400, "fake Qdrant: min_should is not implemented")
    should = conditions(where.should)
    return (
        all(holds(c, pid, payload) for c in conditions(where.must))
        and (not should or any(holds(c, pid, payload) for c in should))
        and not any(holds(c, pid, payload) for c in conditions(where.must_not))
    )


def holds(condition: Any, pid: PointId, payload: dict[str, Any]) -> bool:
    if isinstance(condition, models.Filter):
        return matches(condition, pid, payload)
    if isinstance(condition, models.HasIdCondition):
        return pid in {point_id(i) for i in condition.has_id}
    if isinstance(condition, models.FieldCondition) and condition.model_dump(exclude_none=True).keys() == {
        "key",
        "match",
    }:
        value = payload.get(condition.key)
        values = conditions(value)
        if isinstance(condition.match, models.MatchValue):
            return condition.match.value in values
        if isinstance(condition.match, models.MatchAny):
            return any(v in condition.match.any for v in values)
    raise QdrantError(400, f"fake Qdrant: condition not implemented: {condition!r}")


def selected(payload: dict[str, Any], selector: Any, default: bool) -> dict[str, Any] | None:
    selector = default if selector is None else selector
    if isinstance(selector, bool):
        return dict(payload) if selector else None
    if isinstance(selector, list):
        return {k: v for k, v in payload.items() if k in selector}
    if isinstance(selector, models.PayloadSelectorInclude):
        return {k: v for k, v in payload.items() if k in selector.include}
    return {k: v for k, v in payload.items() if k not in selector.exclude}


def normalised(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


def dense(collection: Collection, vector: Any) -> list[float]:
    if isinstance(vector, models.NearestQuery) and vector.mmr is None:
        vector = vector.nearest
    if not isinstance(vector, list) or not all(isinstance(x, int | float) for x in vector):
        raise QdrantError(400, "fake Qdrant: only a plain dense vector is implemented")
    if len(vector) != collection.size:
        raise QdrantError(
            400, f"Wrong input: Vector dimension error: expected dim: {collection.size}, got {len(vector)}"
        )
    return normalised(vector) if collection.distance == models.Distance.COSINE else [float(x) for x in vector]


def create_app(fake: FakeQdrant) -> FastAPI:
    app = FastAPI()

    @app.middleware("http")
    async def check_key(request: Request, call_next: Any) -> Any:
        key = request.headers.get("api-key") or request.headers.get("authorization", "").removeprefix("Bearer ")
        if fake.api_key and request.url.path != "/" and key != fake.api_key:
            return PlainTextResponse("Invalid API key or JWT", status_code=401)
        meanwhile = fake.before.pop((request.method, request.url.path), None)
        if meanwhile is not None:
            meanwhile()
        return await call_next(request)

    @app.exception_handler(QdrantError)
    async def error(_: Request, err: QdrantError) -> JSONResponse:
        return JSONResponse({"status": {"error": err.message}, "time": 0.0}, status_code=err.status)

    @app.get("/")
    async def root() -> dict[str, Any]:
        return {"title": "qdrant - vector search engine (salesai test fake)", "version": VERSION}

    @app.get("/collections/{name}/exists")
    async def exists(name: str) -> dict[str, Any]:
        return ok({"exists": name in fake.collections})

    @app.put("/collections/{name}")
    async def create(name: str, request: Request) -> dict[str, Any]:
        vectors = (await parse(request, models.CreateCollection)).vectors
        if name in fake.collections:
            raise QdrantError(409, f"Wrong input: Collection `{name}` already exists!")
        if not isinstance(vectors, models.VectorParams) or vectors.distance not in (
            models.Distance.COSINE,
            models.Distance.DOT,
        ):
            raise QdrantError(400, "fake Qdrant: only one unnamed Cosine or Dot vector is implemented")
        fake.collections[name] = Collection(vectors.size, vectors.distance)
        return ok(True)

    @app.put("/collections/{name}/index")
    async def index(name: str, request: Request) -> dict[str, Any]:
        body = await parse(request, models.CreateFieldIndex)
        fake.collection(name).indexes[body.field_name] = str(body.field_schema)
        return ok(fake.updated(request))

    @app.put("/collections/{name}/points")
    async def upsert(name: str, request: Request) -> dict[str, Any]:
        collection = fake.collection(name)
        body = await parse(request, models.PointsList)
        if body.update_filter is not None or body.shard_key is not None:
            raise QdrantError(400, "fake Qdrant: update_filter and shard_key are not implemented")
        checked = [(point_id(p.id), dense(collection, p.vector), dict(p.payload or {})) for p in body.points]
        for pid, vector, payload in checked:  # all or nothing, like a real server
            collection.points[pid] = Point(vector, payload, fake.operations + 1)
        return ok(fake.updated(request))

    @app.post("/collections/{name}/points/query")
    async def query(name: str, request: Request) -> dict[str, Any]:
        collection = fake.collection(name)
        body = await parse(request, models.QueryRequest)
        if body.prefetch or body.using or body.lookup_from or body.with_vector:
            raise QdrantError(400, "fake Qdrant: prefetch, using, lookup_from and with_vector are not implemented")
        vector = dense(collection, body.query)
        scored = [
            (sum(a * b for a, b in zip(vector, p.vector, strict=True)), pid, p)
            for pid, p in collection.points.items()
            if matches(body.filter, pid, p.payload)
        ]
        threshold = -math.inf if body.score_threshold is None else body.score_threshold
        scored = sorted((s for s in scored if s[0] >= threshold), key=lambda s: -s[0])
        start = body.offset or 0
        page = scored[start : start + (10 if body.limit is None else body.limit)]
        hits = [
            {"id": pid, "version": p.version, "score": score, "payload": selected(p.payload, body.with_payload, False)}
            for score, pid, p in page
        ]
        return ok({"points": hits})

    @app.post("/collections/{name}/points/count")
    async def count(name: str, request: Request) -> dict[str, Any]:
        collection = fake.collection(name)
        where = (await parse(request, models.CountRequest)).filter
        return ok({"count": sum(matches(where, pid, p.payload) for pid, p in collection.points.items())})

    @app.post("/collections/{name}/points/delete")
    async def delete(name: str, request: Request) -> dict[str, Any]:
        collection = fake.collection(name)
        selector = await parse(request, models.PointsSelector)
        if isinstance(selector, models.PointIdsList):
            doomed = {point_id(i) for i in selector.points}
        else:
            doomed = {pid for pid, p in collection.points.items() if matches(selector.filter, pid, p.payload)}
        for pid in doomed:
            collection.points.pop(pid, None)
        return ok(fake.updated(request))

    @app.post("/collections/{name}/points/scroll")
    async def scroll(name: str, request: Request) -> dict[str, Any]:
        collection = fake.collection(name)
        body = await parse(request, models.ScrollRequest)
        if body.order_by is not None or body.with_vector:
            raise QdrantError(400, "fake Qdrant: order_by and with_vector are not implemented")
        start = (0, 0) if body.offset is None else id_order(point_id(body.offset))
        ids = sorted((i for i in collection.points if id_order(i) >= start), key=id_order)
        ids = [i for i in ids if matches(body.filter, i, collection.points[i].payload)]
        limit = 10 if body.limit is None else body.limit
        records = [{"id": i, "payload": selected(collection.points[i].payload, body.with_payload, True)} for i in ids]
        return ok({"points": records[:limit], "next_page_offset": ids[limit] if len(ids) > limit else None})

    return app


@contextmanager
def serve(api_key: str | None = None) -> Iterator[FakeQdrant]:
    """A fake Qdrant on an ephemeral 127.0.0.1 port, in a background thread, for the ``with`` block."""
    fake = FakeQdrant(api_key=api_key)
    config = uvicorn.Config(create_app(fake), host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="fake-qdrant", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the fake Qdrant server did not start")
        time.sleep(0.01)
    fake.url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    try:
        yield fake
    finally:
        server.should_exit = True
        thread.join(timeout=10)
