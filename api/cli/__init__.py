"""The `guanxi` command line: typer commands that call the use cases and print."""

from api.cli.app import app, main

__all__ = ["app", "main"]
