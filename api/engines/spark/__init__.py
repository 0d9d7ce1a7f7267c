"""The ``spark`` analysis engine: Spark SQL for the relational stages, GraphX for the graph.

:func:`start_session` (``session.py``) checks the prerequisites (pyspark importable, Java 17+
on PATH) and starts the one session a run uses. pyspark is an optional extra
(``pip install 'guanxi[spark]'``), so nothing here imports it at module level.
"""

from __future__ import annotations

from api.engines.spark.session import check_prerequisites, start_session

__all__ = ["check_prerequisites", "start_session"]
