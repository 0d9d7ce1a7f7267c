"""The Cypher label / relationship-type whitelist holds with and without ``python -O``.

Why: labels and relationship types cannot be Cypher parameters, so `Statement.render` is the
only thing between a caller's string and the query text. It used to be an ``assert``, which
``python -O`` strips: an injected label then went straight into Cypher. The check runs in a
fresh interpreter per mode, because ``-O`` is a property of the interpreter, not of a test.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from graph.errors import GuanxiError, UnsafeIdentifier
from graph.store.neo4j.statements import REL_TYPES, TAG_LABELS, stmt

INJECTED = "Customer) DETACH DELETE (x"

PROBE = """
import json, sys
from graph.errors import UnsafeIdentifier
from graph.store.neo4j.statements import stmt
out = {"optimize": sys.flags.optimize, "raised": [], "rendered": []}
for value in (sys.argv[1], "Bridge`) MATCH (n", "", None):
    for name in ("labels.set", "relations.upsert", "counts.customers"):
        s = stmt(name)
        if s.placeholder is None and value is None:
            continue
        try:
            text = s.render(value)
        except UnsafeIdentifier as exc:
            out["raised"].append([name, repr(value), exc.value == value, exc.where])
        else:
            out["rendered"].append([name, repr(value), text])
print(json.dumps(out))
"""


@pytest.mark.parametrize("flags", [[], ["-O"], ["-OO"]], ids=["plain", "-O", "-OO"])
def test_injected_identifier_raises_under_every_optimisation_level(flags):
    proc = subprocess.run(
        [sys.executable, *flags, "-c", PROBE, INJECTED],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    out = json.loads(proc.stdout)
    assert out["optimize"] == {(): 0, ("-O",): 1, ("-OO",): 2}[tuple(flags)]
    # nothing that is not whitelisted was ever turned into query text
    assert out["rendered"] == []
    raised = {(name, value) for name, value, same, _ in out["raised"] if same}
    for name in ("labels.set", "relations.upsert"):
        for value in (INJECTED, "Bridge`) MATCH (n", "", None):
            assert (name, repr(value)) in raised, (name, value)
    # a statement without a placeholder refuses any value too
    for value in (INJECTED, "Bridge`) MATCH (n", ""):
        assert ("counts.customers", repr(value)) in raised


def test_whitelisted_values_render_and_the_error_is_typed():
    labels_set = stmt("labels.set")
    for label in TAG_LABELS.values():
        assert f"SET c:{label}" in labels_set.render(label)
    for rel in REL_TYPES.values():
        assert f"[r:{rel} " in stmt("relations.upsert").render(rel)
    with pytest.raises(UnsafeIdentifier) as info:
        labels_set.render("Bridge:Admin")
    err = info.value
    assert isinstance(err, GuanxiError)
    assert err.value == "Bridge:Admin"
    assert err.allowed == tuple(TAG_LABELS.values())
    assert "labels.set" in str(err) and "'Bridge:Admin'" in str(err)
