"""Bytes to text for CSV exports in other encodings (pure: bytes in, text and bad rows out).

The fast path reads UTF-8 with DuckDB directly; a file in GB18030, GBK or Big5 is first
transcoded to a temporary UTF-8 file one chunk at a time (`readers.transcode_to_utf8`), so a
big file is never held twice in memory. Chunks end at record boundaries: a newline outside
quotes. That is found on the raw bytes, which is sound for every encoding accepted here:
in UTF-8, GB18030, GBK and Big5 the bytes of a newline (0x0A) and of a double quote (0x22)
never occur inside a multi-byte character.

A record whose bytes do not decode is kept in the transcoded file as a placeholder (its
non-ASCII bytes as ``?``), so that every later record keeps its row number and the quote
structure is unchanged; the reader then quarantines it as ``bad_encoding`` with the byte
offset of its first undecodable byte.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "CHUNK_BYTES",
    "UTF8_BOM",
    "BadRecord",
    "complete_records_end",
    "detect_encoding",
    "first_record_end",
    "python_codec",
    "record_ends",
    "transcode_chunk",
]

#: Bytes read per transcoding step (the chunk is extended to the next record boundary).
CHUNK_BYTES = 4 << 20
UTF8_BOM = b"\xef\xbb\xbf"
#: GB18030's byte-order mark (U+FEFF encoded), which Excel may write before a GB18030 header.
GB18030_BOM = b"\x84\x31\x95\x33"
_NEWLINE, _QUOTE = 0x0A, 0x22
# every non-ASCII byte becomes "?": the placeholder of an undecodable record
_ASCII_ONLY = bytes(b if b < 0x80 else 0x3F for b in range(256))
#: The codecs `auto` chooses between for bytes that are not UTF-8.
_CJK = ("gb18030", "big5")


@dataclass(frozen=True)
class BadRecord:
    """A record that does not decode: its row (0 = the header), file offset, raw bytes."""

    row: int
    offset: int
    raw: bytes

    def text(self) -> str:
        """The record as text, undecodable bytes shown as ``\\xNN``, line end dropped."""
        return self.raw.rstrip(b"\r\n").decode("utf-8", errors="backslashreplace")


def python_codec(encoding: str) -> str:
    """The Python codec of a user-facing encoding name (the same names, ``utf-8-sig`` too)."""
    return encoding.replace("-", "_")


def record_ends(chunk: bytes) -> np.ndarray:
    """Indices of the newlines that end a record, for a chunk that starts a record.

    A newline inside a quoted field does not end its record; RFC 4180's doubled quotes keep
    the quote count's parity right, so a newline ends a record when the quotes before it are
    even in number.

    Examples
    --------
    >>> record_ends(b'a,b\\n"x\\ny",z\\nq').tolist()
    [3, 11]
    """
    data = np.frombuffer(chunk, dtype=np.uint8)
    newlines = np.flatnonzero(data == _NEWLINE)
    if chunk.find(b'"') < 0 or len(newlines) == 0:
        return newlines
    parity = np.bitwise_xor.accumulate((data == _QUOTE).view(np.uint8))
    return newlines[parity[newlines] == 0]


def complete_records_end(chunk: bytes) -> int:
    """Length of the longest prefix of `chunk` made of whole records (0 when none ends).

    Examples
    --------
    >>> complete_records_end(b'a\\n"b\\nc')
    2
    """
    if chunk.find(b'"') < 0:
        return chunk.rfind(b"\n") + 1
    ends = record_ends(chunk)
    return int(ends[-1]) + 1 if len(ends) else 0


def first_record_end(chunk: bytes) -> int:
    """Length of the first whole record of `chunk` (0 when no record ends in it).

    Examples
    --------
    >>> first_record_end(b'"a\\nb",c\\nd\\n')
    8
    """
    ends = record_ends(chunk)
    return int(ends[0]) + 1 if len(ends) else 0


def transcode_chunk(
    chunk: bytes, encoding: str, *, first_row: int, offset: int
) -> tuple[str, list[BadRecord], int]:
    """Decode whole records; undecodable ones become placeholders and `BadRecord`s.

    Parameters
    ----------
    chunk
        Whole records (the last one may lack its newline at the end of a file).
    encoding
        A Python codec name.
    first_row
        Row number of the chunk's first record (0 is the header).
    offset
        File offset of the chunk's first byte.

    Returns
    -------
    (text, bad records, number of records in the chunk)

    Notes
    -----
    The whole chunk is decoded at once, at codec speed; only a chunk that fails is split
    into records, so the per-record loop runs for files with bad bytes alone.

    Examples
    --------
    >>> text, bad, n = transcode_chunk("a\\n张\\n".encode("gbk") + b"\\xff\\n", "gbk",
    ...                                first_row=1, offset=10)
    >>> text, [(b.row, b.offset) for b in bad], n
    ('a\\n张\\n?\\n', [(3, 15)], 3)
    """
    ends = record_ends(chunk)
    count = len(ends) + (1 if chunk and not chunk.endswith(b"\n") else 0)
    try:
        return chunk.decode(encoding), [], count
    except UnicodeDecodeError:
        pass
    pieces: list[str] = []
    bad: list[BadRecord] = []
    starts = [0, *(int(e) + 1 for e in ends)]
    stops = [*(int(e) + 1 for e in ends), len(chunk)]
    for i, (a, b) in enumerate(zip(starts, stops, strict=True)):
        record = chunk[a:b]
        if not record:
            continue
        try:
            pieces.append(record.decode(encoding))
        except UnicodeDecodeError as exc:
            bad.append(BadRecord(row=first_row + i, offset=offset + a + exc.start, raw=record))
            pieces.append(record.translate(_ASCII_ONLY).decode("ascii"))
    return "".join(pieces), bad, count


def detect_encoding(sample: bytes) -> str:
    """The encoding `auto` picks for a file, from a sample of whole lines of it.

    In order: a UTF-8 byte-order mark gives ``utf-8-sig``; ASCII or valid UTF-8 gives
    ``utf-8``; otherwise charset-normalizer chooses between GB18030 (the superset of GBK
    and GB2312, so GBK files are read as ``gb18030``) and Big5. Lines that decode in none of
    these are left out of its sample first, so one corrupt row does not defeat detection
    (charset-normalizer rejects a codec on any undecodable byte). When it cannot decide,
    ``gb18030``: bytes that are neither UTF-8 nor Big5 in a Chinese bank's export are most
    likely GB-family, and a wrong guess shows up as ``bad_encoding`` rows and in the report.

    Examples
    --------
    >>> detect_encoding("客户,北京".encode("utf-8")), detect_encoding(b"id,name")
    ('utf-8', 'utf-8')
    >>> detect_encoding(UTF8_BOM + b"id")
    'utf-8-sig'
    """
    if sample.startswith(UTF8_BOM):
        return "utf-8-sig"
    if sample.isascii():
        return "utf-8"

    def decodes(line: bytes, codec: str) -> bool:
        try:
            line.decode(codec)
        except UnicodeDecodeError:
            return False
        return True

    lines = [ln for ln in sample.split(b"\n") if any(decodes(ln, c) for c in ("utf-8", *_CJK))]
    clean = b"\n".join(lines)
    if decodes(clean, "utf-8"):
        return "utf-8"
    from charset_normalizer import from_bytes

    best = from_bytes(clean, cp_isolation=list(_CJK)).best()
    if best is not None and best.encoding in _CJK:
        return best.encoding
    return "gb18030"
