"""The web process's application: webhooks (`bot.web.webhooks`), health checks
(`bot.web.health`) and the coordinator console at `/console` (`bot.web.console`), with one
answer for storage that cannot be reached: 503, so providers deliver again later."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.runtime import Runtime
from bot.web.console.app import console_app
from bot.web.data_copies import add_data_copy_routes
from bot.web.health import add_health_routes
from bot.web.webhooks import add_webhook_routes
from storage.errors import DatabaseUnavailable

log = logging.getLogger(__name__)

UNAVAILABLE = (
    DatabaseUnavailable,
    OperationalError,
    DBAPIError,
    PoolTimeout,  # every pooled connection busy for too long: the database is overwhelmed
    OSError,
    ConnectionError,
    TimeoutError,
)


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(title="Mutuality", docs_url=None, redoc_url=None, openapi_url=None)

    async def unavailable(request: Request, error: Exception) -> Response:
        log.error("%s %s: storage unavailable: %s", request.method, request.url.path, error)
        return JSONResponse({"error": "temporarily unavailable"}, status_code=503)

    for error_type in UNAVAILABLE:
        app.add_exception_handler(error_type, unavailable)
    add_health_routes(app, runtime)
    add_webhook_routes(app, runtime)
    app.mount("/console", console_app(runtime))
    add_data_copy_routes(app, runtime)
    return app
