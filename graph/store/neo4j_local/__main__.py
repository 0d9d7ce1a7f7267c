"""The command line of the local Neo4j server: ``python -m graph.store.neo4j_local``.

What it holds: the ``build``, ``start``, ``stop`` and ``status`` sub-commands CI (``.ci/run``)
and people use; each prints JSON (never the password) or one line, and exits 1 with one
``error:`` line on a configuration or availability problem.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from graph.errors import ConfigError, StoreUnavailable
from graph.store.neo4j_local.config import DEFAULT_DIR, DEFAULT_HEAP, DEFAULT_PAGECACHE
from graph.store.neo4j_local.maven import build
from graph.store.neo4j_local.server import start, status, stop


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m graph.store.neo4j_local", description="Local Neo4j 5.26 server."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("build", "start", "stop", "status"):
        p = sub.add_parser(name)
        if name != "build":
            p.add_argument("--dir", type=Path, default=DEFAULT_DIR)
        if name in ("build", "start"):
            p.add_argument("--gds", action="store_true")
        if name == "start":
            p.add_argument("--bolt-port", type=int, default=7687)
            p.add_argument("--http-port", type=int, default=7474)
            p.add_argument("--timeout", type=float, default=180)
            p.add_argument("--heap", default=DEFAULT_HEAP, help="JVM -Xmx, e.g. 1g")
            p.add_argument(
                "--pagecache",
                default=DEFAULT_PAGECACHE,
                help="e.g. 512m, or auto (sized to the database)",
            )
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            print(json.dumps({"build_seconds": round(build(gds=args.gds), 1)}))
        elif args.command == "start":
            info = start(
                args.dir,
                bolt_port=args.bolt_port,
                http_port=args.http_port,
                gds=args.gds,
                heap=args.heap,
                pagecache=args.pagecache,
                timeout=args.timeout,
            )
            print(json.dumps({k: v for k, v in info.items() if k != "password"}, indent=2))
        elif args.command == "stop":
            print("stopped" if stop(args.dir) else "not running")
        else:
            info = status(args.dir)
            info.pop("password", None)
            print(json.dumps(info, indent=2))
    except (ConfigError, StoreUnavailable) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main())
