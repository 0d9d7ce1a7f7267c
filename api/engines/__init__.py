"""Analysis engines: the pipeline's stages behind one protocol, chosen by name.

``local`` (igraph and pandas in this process and its forked workers, reading the store;
option ``workers``) and ``spark`` (Spark SQL and
GraphX, reading its own input: ``source``, ``master``, ``conf``, ``out_dir`` ... as options;
see :class:`api.engines.spark.engine.SparkEngine`). An engine registers here and the use
cases, the CLI and the HTTP layer need no change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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


def _local(**options: Any) -> Engine:
    from api.engines.local import LocalEngine

    unknown = sorted(set(options) - {"workers"})
    if unknown:
        raise ConfigError(f"the local engine takes only the option workers; got {unknown}")
    return LocalEngine(**options)


def _spark(**options: Any) -> Engine:
    from api.engines.spark.engine import SparkEngine

    return SparkEngine(**options)


_FACTORIES: dict[str, Callable[..., Engine]] = {"local": _local, "spark": _spark}

#: Names :func:`get_engine` accepts.
ENGINES: tuple[str, ...] = tuple(_FACTORIES)


def get_engine(name: str, **options: Any) -> Engine:
    """The engine registered as ``name``, built with ``options`` (the spark engine's input,
    master, Spark settings, output folder).

    Raises
    ------
    ConfigError
        No engine has that name, or it refuses the options.
    """
    factory = _FACTORIES.get(name)
    if factory is None:
        raise ConfigError(f"analysis engine {name!r} is unknown; use one of {list(ENGINES)}")
    return factory(**options)
