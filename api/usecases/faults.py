"""Fault injection for the crash-safety tests: arm the failpoint the settings name."""

from __future__ import annotations

from graph import failpoints


def arm_failpoint(name: str | None) -> None:
    """Arm `graph.failpoints` at `name` (None disarms) for this process.

    Raises
    ------
    ConfigError
        `name` is not a known failpoint.
    """
    failpoints.arm(name)
