"""Transcoding and detection: record boundaries, chunking, memory, and the detector's choices.

References are independent of the code under test: Python's `csv` module for where records
end, a whole-file ``bytes.decode`` for what the chunked transcoder must write, and the known
encoding each sample was written in.
"""

from __future__ import annotations

import csv
import io
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import loaders.readers as readers
from graph.errors import UnreadableFile
from loaders.encoding import complete_records_end, detect_encoding, record_ends, transcode_chunk
from tests.loaders.dialect_corpus import SIMPLIFIED, TRADITIONAL

FIELD = st.text(alphabet=st.sampled_from(list('ab,"\n\r张|')), max_size=6)
RECORDS = st.lists(st.lists(FIELD, min_size=1, max_size=4), min_size=1, max_size=8)


def _csv_bytes(records: list[list[str]]) -> bytes:
    """RFC 4180 text: a field is quoted when it holds a delimiter, quote or line break."""

    def field(v: str) -> str:
        return '"' + v.replace('"', '""') + '"' if any(c in v for c in ',"\n\r') else v

    return "".join(",".join(field(v) for v in r) + "\n" for r in records).encode("utf-8")


@settings(max_examples=200, deadline=None)
@given(RECORDS)
def test_record_ends_agree_with_the_csv_module(records) -> None:
    data = _csv_bytes(records)
    ends = record_ends(data)
    assert len(ends) == len(records)
    starts = [0, *(int(e) + 1 for e in ends[:-1])]
    pieces = [data[a : int(b) + 1] for a, b in zip(starts, ends, strict=True)]
    parsed = [next(csv.reader(io.StringIO(p.decode(), newline=""))) for p in pieces]
    assert parsed == [[] if r == [""] else r for r in records]  # a blank line reads as []
    assert complete_records_end(data + b'x,"open\n') == len(data)


@settings(max_examples=60, deadline=None)
@given(RECORDS, st.integers(min_value=1, max_value=40))
def test_chunked_transcoding_writes_what_a_whole_decode_gives(
    tmp_path_factory, records, chunk
) -> None:
    text = _csv_bytes([["id", "name"], *records]).decode()
    src = tmp_path_factory.mktemp("t") / "in.csv"
    src.write_bytes(text.encode("gb18030"))
    dst = src.with_suffix(".utf8")
    old = readers.CHUNK_BYTES
    readers.CHUNK_BYTES = chunk  # tiny chunks: every boundary case is met
    try:
        bad = readers.transcode_to_utf8(src, dst, "gb18030")
    finally:
        readers.CHUNK_BYTES = old
    assert bad == {}
    assert dst.read_bytes().decode("utf-8") == text


def test_bad_rows_keep_later_rows_numbered_and_point_at_the_byte(tmp_path) -> None:
    good = [f"{i},{n}\n".encode("gbk") for i, (_, n, *_rest) in enumerate(SIMPLIFIED)]
    data = b"id,name\n" + good[0] + b"1,\x81\xff\n" + good[1] + b'2,"x\n\xff"\n' + good[2]
    src = tmp_path / "in.csv"
    src.write_bytes(data)
    bad = readers.transcode_to_utf8(src, tmp_path / "out.csv", "gbk")
    assert sorted(bad) == [2, 4]
    assert bad[2].offset == data.index(b"\x81\xff")
    assert bad[4].offset == data.index(b"\xff", data.index(b'"x'))
    out = (tmp_path / "out.csv").read_text(encoding="utf-8").split("\n")
    # placeholders keep the record count and the quotes: rows after them keep their numbers
    assert out[0] == "id,name" and out[3] == good[1].decode("gbk").strip()
    assert out[6] == good[2].decode("gbk").strip()


def test_header_that_does_not_decode_names_the_offset(tmp_path) -> None:
    src = tmp_path / "customers.csv"
    src.write_bytes(b"customer_id,\xff\xfe\n1,2\n")
    with pytest.raises(UnreadableFile, match="byte offset 12"):
        readers.transcode_to_utf8(src, tmp_path / "o.csv", "big5")
    with pytest.raises(UnreadableFile, match=r"customers.csv: the header does not decode"):
        readers.read_header(src, readers.FileDialect("csv", "gbk", ","))


def _transcode_peak(tmp_path, megabytes: int) -> tuple[int, int]:
    """(peak Python allocation while transcoding, file size) for a GBK file of that size."""
    line = "C0000001,张伟,13800138001,北京,开户网点：朝阳支行\n".encode("gbk")
    src = tmp_path / f"big{megabytes}.csv"
    with src.open("wb") as fh:
        fh.write(b"customer_id,name,phone,city,note\n")
        block = line * 10_000
        while fh.tell() < megabytes << 20:
            fh.write(block)
    tracemalloc.start()
    try:
        readers.transcode_to_utf8(src, src.with_suffix(".utf8"), "gbk")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    size = src.stat().st_size
    assert src.with_suffix(".utf8").stat().st_size > size
    src.unlink()
    src.with_suffix(".utf8").unlink()
    return peak, size


def test_transcoding_memory_does_not_grow_with_the_file(tmp_path) -> None:
    """Memory is bounded by the chunk, not the file: four times the file, the same peak."""
    small, _ = _transcode_peak(tmp_path, 12)
    big, size = _transcode_peak(tmp_path, 48)
    assert big < small * 1.25 + (1 << 20), (small, big)
    assert big < size, f"peak {big:,} bytes for a {size:,}-byte file"


def _sample(rows, encoding: str) -> bytes:
    return "".join(",".join(r) + "\n" for r in rows).encode(encoding)


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        (_sample(SIMPLIFIED, "utf-8"), "utf-8"),
        (b"\xef\xbb\xbf" + _sample(SIMPLIFIED, "utf-8"), "utf-8-sig"),
        (b"customer_id,amount\nC1,3\n", "utf-8"),
        (_sample(SIMPLIFIED, "gbk"), "gb18030"),
        (_sample(SIMPLIFIED, "gb18030"), "gb18030"),
        (_sample(TRADITIONAL, "big5"), "big5"),
        # one corrupt line does not defeat detection
        (_sample(TRADITIONAL, "big5") + b"C9,\xff\xff\n", "big5"),
        (_sample(SIMPLIFIED, "gbk") + b"C9,\xff\xff\n", "gb18030"),
        (_sample(SIMPLIFIED, "utf-8") + b"C9,\xc3\x28\n", "utf-8"),
        # a line no candidate decodes is left out: what remains is ASCII
        (b"id,name\n1,\xff\xfe\xff\n", "utf-8"),
        # GB18030 bytes charset-normalizer cannot place (it answers None): the fallback
        (b"id,name\n1,\x81\x30\x81\x30\n", "gb18030"),
    ],
)
def test_detection(sample, expected) -> None:
    assert detect_encoding(sample) == expected


def test_detection_looks_past_an_ascii_start(tmp_path) -> None:
    """Ids and numbers first, names far below: the sample is taken where the bytes are."""
    src = tmp_path / "c.csv"
    ascii_part = b"customer_id,name\n" + b"C0000001,x\n" * 200_000
    src.write_bytes(ascii_part + _sample(TRADITIONAL, "big5"))
    d = readers.resolve_dialect(src, readers.Dialect())
    assert (d.encoding, d.detected) == ("big5", True)


def test_transcode_chunk_counts_a_last_record_without_newline() -> None:
    text, bad, n = transcode_chunk("a\n张".encode("gbk"), "gbk", first_row=0, offset=0)
    assert (text, bad, n) == ("a\n张", [], 2)
