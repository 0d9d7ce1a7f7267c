"""Quarantine files mask PII by default; ``--quarantine-raw`` writes it for the data owner.

Why: whoever fixes the rejected rows is often not cleared to see customers' names, phones
and id numbers, and a rejected raw line holds every column. Sentinel strings are planted in
the built-in PII columns, in a column the load declares (``--pii-columns``) and in one the
store had declared before, inside rows that are rejected for every reason that can show a
value or a raw line; no sentinel may appear in a quarantine file by default, every one must
appear with ``quarantine_raw``. Declaring also persists in the store, on both stores.
"""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from api.cli import app
from loaders.ingest import load_folder

S = {
    "name": "SENTNAMEqz1",
    "phone": "SENTPHONEqz2",
    "id_number": "SENTIDNUMqz3",
    "email": "SENTMAILqz4",  # declared by this load
    "birth_date": "SENTBDATEqz5",  # declared by this load; a bad date
    "aum": "SENTAUMqz6",  # declared in the store before; a bad number
}
HEADER = "customer_id,name,phone,id_number,email,birth_date,aum\n"


def _folder(root: Path) -> Path:
    folder = root / "in"
    folder.mkdir()
    rows = [
        "C1,张伟,13800138001,310101199001011234,a@b.cn,1990-01-01,100\n",
        # malformed_row: one column too many, the raw line holds the name and the phone
        f"C2,{S['name']},{S['phone']},x,y,1990-01-01,1,extra\n",
        # bad_date in a declared column
        f"C3,n,p,i,e,{S['birth_date']},1\n",
        # bad_number in a column the store declared before
        f"C4,n,p,i,e,1990-01-01,{S['aum']}\n",
        # duplicate_customer_conflict: shows the id only, never the conflicting values
        f"C1,{S['name']},p,i,e,1990-01-01,100\n",
    ]
    data = HEADER.encode() + "".join(rows).encode()
    # bad_encoding: an invalid UTF-8 byte in a row holding the id number and the e-mail
    data += f"C5,n,p,{S['id_number']},{S['email']},".encode() + b"\xff,1\n"
    (folder / "customers.csv").write_bytes(data)
    (folder / "relations.csv").write_text("src_id,dst_id,type,occurred_at\n")
    (folder / "transactions.csv").write_text("customer_id,occurred_at,amount\n")
    (folder / "events.csv").write_text("customer_id,occurred_at,event_type\n")
    return folder


def _quarantine_text(q: Path) -> str:
    return "".join(p.read_text(encoding="utf-8") for p in sorted(q.glob("*.csv")))


def test_quarantine_masks_pii_by_default_and_raw_shows_it(store, tmp_path) -> None:
    folder = _folder(tmp_path)
    store.declare_pii_columns(["aum"])
    report = load_folder(
        store, folder, quarantine_dir=tmp_path / "q", pii_columns=["email", "birth_date"]
    )
    assert report.reasons["customers"] == {
        "malformed_row": 1,
        "bad_date": 1,
        "bad_number": 1,
        "duplicate_customer_conflict": 1,
        "bad_encoding": 1,
    }
    assert store.declared_pii_columns() == ("aum", "birth_date", "email")
    masked = _quarantine_text(tmp_path / "q")
    probes = {k: v in masked for k, v in S.items()}
    assert probes == dict.fromkeys(S, False), probes
    # what is masked still says where and why: rows, reasons, and the shape of a raw line
    assert "row 3: birth_date '************' is not a date" in masked
    assert "**,***********,************,*,*,**********,*,*****" in masked

    raw = load_folder(
        store, folder, quarantine_dir=tmp_path / "raw", quarantine_raw=True
    ).quarantine_raw
    assert raw is True
    shown = _quarantine_text(tmp_path / "raw")
    assert {k: v in shown for k, v in S.items()} == dict.fromkeys(S, True)


def test_cli_pii_columns_and_quarantine_raw(tmp_path) -> None:
    folder = _folder(tmp_path)
    uri = f"duckdb:///{tmp_path / 'g.duckdb'}"
    run = CliRunner().invoke
    res = run(
        app,
        [
            "load",
            str(folder),
            "--store",
            uri,
            "--pii-columns",
            "email, birth_date,aum",
            "--quarantine-dir",
            str(tmp_path / "q"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert not any(v in _quarantine_text(tmp_path / "q") for v in S.values())
    assert "PII unmasked" not in res.output
    res = run(
        app,
        [
            "load",
            str(folder),
            "--store",
            uri,
            "--quarantine-raw",
            "--quarantine-dir",
            str(tmp_path / "raw"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "PII unmasked" in res.output
    assert all(v in _quarantine_text(tmp_path / "raw") for v in S.values())
    from graph.store import open_store

    with open_store(uri) as st:
        assert st.declared_pii_columns() == ("aum", "birth_date", "email")
    help_text = " ".join(run(app, ["load", "--help"]).output.split())
    assert "--quarantine-raw" in help_text and "data owners" in help_text
    assert "--pii-columns" in help_text
