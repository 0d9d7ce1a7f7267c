"""Failpoints: armed by name (from the settings, at the CLI's entry), they SIGKILL the process."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest

from graph import failpoints
from graph.errors import ConfigError


def test_an_armed_point_kills_only_there():
    code = textwrap.dedent(
        """
        from graph import failpoints
        failpoints.arm("load.customers.done")
        failpoints.failpoint("load.customers.batch")
        print("passed another point", flush=True)
        failpoints.failpoint("load.customers.done")
        print("survived the armed point", flush=True)
        """
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == -signal.SIGKILL
    assert res.stdout.splitlines() == ["passed another point"]


def test_disarmed_points_do_nothing():
    failpoints.arm(None)
    for name in failpoints.POINTS:
        failpoints.failpoint(name)  # this test process survives every point


def test_an_unknown_point_is_refused():
    with pytest.raises(ConfigError, match=r"GUANXI_FAILPOINT 'load\.nowhere' is no failpoint"):
        failpoints.arm("load.nowhere")
    failpoints.failpoint("load.customers.done")  # the refused name armed nothing
