"""How a command fails: one line on stderr, exit 1 for the user's errors, 2 (and a log) for ours.

A GuanxiError is the user's to fix (a bad file, an unknown id) and its message says how.
Anything else is a bug: the user sees one line naming the command, the files it was given and
where the traceback went, never the traceback itself, which goes to a crash log to attach to a
bug report.
"""

from __future__ import annotations

import os
import tempfile
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import click
import typer

from api.cli.render import err
from graph.errors import GuanxiError


@contextmanager
def errors() -> Iterator[None]:
    """Translate errors into one line on stderr: exit 1 for a GuanxiError, 2 for a bug."""
    try:
        yield
    except GuanxiError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except (click.exceptions.Exit, click.Abort, click.ClickException):
        raise  # typer's own ways out: exit codes and usage errors
    except Exception as exc:
        command, arguments = _failing_command(exc)
        report_crash(command, _files_named(arguments, exc), exc)
        raise typer.Exit(2) from None


def report_crash(command: str, where: str, exc: BaseException) -> None:
    """Write `exc`'s traceback to a crash log and print the one line that points to it."""
    log = _write_crash_log(command, exc)
    err.print(
        f"[red]internal error[/red] in `{command}`"
        + (f" on {where}" if where else "")
        + f": {type(exc).__name__}: {_one_line(exc)}; traceback written to {log}",
        highlight=False,
        soft_wrap=True,
    )


def _one_line(exc: BaseException, width: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _failing_command(exc: BaseException) -> tuple[str, dict]:
    """The command whose body raised `exc` (as typed, e.g. ``guanxi tags diff``) and its
    arguments, read from the command function's frame in the traceback."""
    paths = _command_paths()
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code in paths:
            return paths[code], dict(tb.tb_frame.f_locals)
        tb = tb.tb_next
    return "guanxi", {}


def _command_paths() -> dict:
    """Code object of every command and group callback -> the words that invoke it."""
    from api.cli.app import app  # the commands import this module: resolve the tree late

    found = {}

    def walk(typer_app: typer.Typer, words: list[str]) -> None:
        if typer_app.registered_callback is not None:
            found[typer_app.registered_callback.callback.__code__] = " ".join(words)
        for cmd in typer_app.registered_commands:
            name = cmd.name or cmd.callback.__name__.replace("_", "-")
            found[cmd.callback.__code__] = " ".join([*words, name])
        for group in typer_app.registered_groups:
            walk(group.typer_instance, [*words, group.name])

    walk(app, ["guanxi"])
    return found


def _files_named(arguments: dict, exc: BaseException) -> str:
    """The files the failing command was working on: its path arguments and store, plus any
    file an inner layer attached to the exception as a note ("file: ...")."""
    names = [
        str(value)
        for name, value in arguments.items()
        if isinstance(value, Path) or (name == "store" and isinstance(value, str))
    ]
    for note in getattr(exc, "__notes__", ()):
        if note.startswith("file: "):
            names.append(note[len("file: ") :])
    return ", ".join(dict.fromkeys(names))


def _write_crash_log(command: str, exc: BaseException) -> Path:
    """Write the traceback to a fresh log file and return its path.

    In the settings' crash log folder (``GUANXI_LOG_DIR``, else
    ``$XDG_STATE_HOME/guanxi/logs``, else ``~/.local/state/guanxi/logs``), or the temporary
    folder when that is not writable.
    """
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    text = f"{command}\n" + "".join(traceback.format_exception(exc))
    for folder in (_log_dir(), Path(tempfile.gettempdir()) / "guanxi-logs"):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"crash-{stamp}-{os.getpid()}.log"
            path.write_text(text, encoding="utf-8")
            return path
        except OSError:
            continue
    return Path("(no writable log folder)")


def _log_dir() -> Path:
    """The settings' crash log folder; the default one when the settings themselves fail."""
    from api.settings import Settings, get_settings

    try:
        return get_settings().crash_log_dir
    except GuanxiError:
        return Settings.model_construct(log_dir=None, state_home=None).crash_log_dir
