"""Whether the tests run under CI, where nothing they need may be missing."""

from __future__ import annotations

import os


def in_ci() -> bool:
    """True for any non-empty ``CI`` other than ``false`` / ``0`` (how CI services set it)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "false", "0")


IN_CI = in_ci()
