"""`guanxi serve`: the HTTP API under uvicorn, started by import string (the CLI never imports
the HTTP package: each calls the use cases, neither the other)."""

from __future__ import annotations

from typing import Annotated

import typer

from api.cli.errors import errors
from api.cli.options import StoreOpt
from api.settings import overridden_settings
from graph.errors import ConfigError

#: The app factory uvicorn builds the API with, from the process's settings.
APP_FACTORY = "api.http.app:create_app_from_settings"


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    store: StoreOpt = None,
) -> None:
    """Serve the HTTP API (FastAPI on uvicorn, one worker); keys from GUANXI_API_KEYS."""
    import uvicorn

    with errors(), overridden_settings(**({"store": store.strip()} if store else {})) as settings:
        try:
            settings.parsed_api_keys()  # refused here in one line, not in uvicorn's log
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        uvicorn.run(
            APP_FACTORY,
            factory=True,
            host=host,
            port=port,
            workers=1,
            access_log=False,
            log_level="info",
        )
