"""Health checks for load balancers: `/healthz` (the process answers) and `/readyz` (its database,
and Redis when configured, answer too).

`/readyz` answers anyone, so it says only each dependency's state ("ok" or "unavailable"); why
one is unavailable (which names the database's host, port, name and user) goes to the log."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse

from bot.pipeline.coordination.factory import redis_ready
from bot.runtime import Runtime

log = logging.getLogger(__name__)


def add_health_routes(app: FastAPI, runtime: Runtime) -> None:
    settings = runtime.settings

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> Response:
        checks: dict[str, str] = {}
        try:
            await runtime.database.ping()
            checks["database"] = "ok"
        except Exception as error:
            log.warning("readiness: the database is unavailable: %s", error)
            checks["database"] = "unavailable"
        if settings.redis_url:
            try:
                await redis_ready(settings.redis_url)
                checks["redis"] = "ok"
            except Exception as error:
                log.warning("readiness: Redis is unavailable: %s", error)
                checks["redis"] = "unavailable"
        ready = all(value == "ok" for value in checks.values())
        return JSONResponse(checks, status_code=200 if ready else 503)
