"""Analysis engines: the pipeline's stages behind one protocol, chosen by name.

``local`` (igraph and pandas in this process) is the only engine today; a distributed one
registers here and the use cases, the CLI and the HTTP layer need no change.
"""

from __future__ import annotations

from collections.abc import Callable

from api.engines.base import STAGES, Engine, MetricsResult, Projection, TagsResult
from graph.errors import ConfigError

__all__ = [
    "ENGINES",
    "STAGES",
    "Engine",
    "MetricsResult",
    "Projection",
    "TagsResult",
    "get_engine",
]


def _local() -> Engine:
    from api.engines.local import LocalEngine

    return LocalEngine()


_FACTORIES: dict[str, Callable[[], Engine]] = {"local": _local}

#: Names :func:`get_engine` accepts.
ENGINES: tuple[str, ...] = tuple(_FACTORIES)


def get_engine(name: str) -> Engine:
    """The engine registered as ``name``.

    Raises
    ------
    ConfigError
        No engine has that name.
    """
    factory = _FACTORIES.get(name)
    if factory is None:
        raise ConfigError(f"analysis engine {name!r} is unknown; use one of {list(ENGINES)}")
    return factory()
