"""The bank-export dialect corpus: one folder per variant under tests/loaders/corpus/dialects/.

Each variant is a complete load folder (customers and relations with data, transactions and
events header-only) that differs from the contract's UTF-8 with commas in one way only, and
`VARIANTS` says how it is loaded and what must come out. The files are committed so they can
be opened by hand; `write_corpus` regenerates them, and a test checks the two agree.

Run ``python -m tests.loaders.dialect_corpus`` to rewrite the committed files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).parent / "corpus" / "dialects"

#: Customers of the simplified-Chinese variants: (id, name, phone, city, note).
SIMPLIFIED = [
    ("C01", "张伟", "13800138001", "北京", "开户网点：朝阳支行"),
    ("C02", "王芳", "13800138002", "上海", "VIP 客户"),
    ("C03", "李娜", "13800138003", "广州", "代发工资"),
    ("C04", "刘洋", "13800138004", "深圳", "理财经理推荐"),
    ("C05", "陈静", "13800138005", "杭州", "信用卡分期"),
    ("C06", "杨磊", "13800138006", "成都", "房贷客户"),
]
#: The Big5 variant's customers: traditional characters (Big5 has no simplified ones).
TRADITIONAL = [
    ("C01", "陳大文", "0912000001", "臺北", "開戶分行：信義"),
    ("C02", "林美華", "0912000002", "高雄", "貴賓客戶"),
    ("C03", "黃志明", "0912000003", "臺中", "薪轉戶"),
    ("C04", "張淑芬", "0912000004", "臺南", "理財專員推薦"),
    ("C05", "李建國", "0912000005", "新竹", "信用卡分期"),
    ("C06", "王麗娟", "0912000006", "桃園", "房貸客戶"),
]
#: A character GB18030 has and GBK lacks (CJK Extension B), for the GB18030 variant.
BEYOND_GBK = "𠀾"
RELATIONS = [
    ("C01", "C02", "transfer", "2024-03-01T09:00:00"),
    ("C02", "C03", "referral", "2024-03-02T10:30:00"),
    ("C03", "C04", "family", "2024-03-03T11:00:00"),
    ("C04", "C05", "message", "2024-03-04T12:00:00"),
    ("C05", "C06", "colleague", "2024-03-05T13:15:00"),
]
CUSTOMER_HEADER = ("customer_id", "name", "phone", "city", "note")
HEADERS = {
    "relations": ("src_id", "dst_id", "type", "occurred_at"),
    "transactions": ("customer_id", "occurred_at", "amount"),
    "events": ("customer_id", "occurred_at", "event_type"),
}


@dataclass(frozen=True)
class Variant:
    """One corpus folder: how it is written, how it is loaded, and what must come out."""

    name: str
    what: str
    encoding: str = "utf-8"  # how the files are written
    delimiter: str = ","
    newline: str = "\n"
    bom: bytes = b""
    customers: list = field(default_factory=lambda: list(SIMPLIFIED))
    # how it is loaded: command-line options and an optional guanxi-load.toml
    options: dict = field(default_factory=dict)
    toml: str | None = None
    # customer rows written as raw bytes instead of encoded text: {row number: bytes}
    raw_rows: dict = field(default_factory=dict)
    raw_header: bytes | None = None
    # expectations
    loaded: int = 6
    quarantined: dict = field(default_factory=dict)  # {row: reason}
    read_as: tuple[str, bool] = ("utf-8", True)  # (encoding, detected) of customers
    relations_loaded: int = len(RELATIONS)
    relations_quarantined: dict = field(default_factory=dict)  # {reason: count}
    fails: str | None = None  # a substring of the UnreadableFile message

    def customer_lines(self) -> list[list[str]]:
        return [list(r) for r in self.customers]


def _field(value: str, delimiter: str) -> str:
    if any(c in value for c in (delimiter, '"', "\n", "\r")):
        return '"' + value.replace('"', '""') + '"'
    return value


def _line(values, delimiter: str, newline: str) -> str:
    return delimiter.join(_field(v, delimiter) for v in values) + newline


_GBK_BAD = b"C07,\xff\xfe\xfd,13800138007,\xff\xff,x\n"
_UTF8_BAD = b"C07,\xe5\xbc,13800138007,\xc3\x28,x\n"

VARIANTS: list[Variant] = [
    Variant("utf8", "UTF-8, comma (the contract)"),
    Variant(
        "utf8_bom", "UTF-8 with a byte-order mark", bom=b"\xef\xbb\xbf", read_as=("utf-8-sig", True)
    ),
    Variant("gbk", "GBK, detected", encoding="gbk", read_as=("gb18030", True)),
    Variant(
        "gbk_named",
        "GBK, named with --encoding gbk",
        encoding="gbk",
        options={"encoding": "gbk"},
        read_as=("gbk", False),
    ),
    Variant(
        "gb18030",
        "GB18030 with a character GBK lacks",
        encoding="gb18030",
        customers=[*SIMPLIFIED[:5], ("C06", "杨" + BEYOND_GBK, "13800138006", "成都", "房贷客户")],
        read_as=("gb18030", True),
    ),
    Variant(
        "big5",
        "Big5, detected",
        encoding="big5",
        customers=list(TRADITIONAL),
        read_as=("big5", True),
    ),
    Variant("pipe", "pipe-delimited, --delimiter '|'", delimiter="|", options={"delimiter": "|"}),
    Variant(
        "tab",
        'tab-delimited, guanxi-load.toml delimiter = "tab"',
        delimiter="\t",
        toml='delimiter = "tab"\n',
    ),
    Variant(
        "semicolon_gbk_toml",
        "semicolon and GBK for customers only, in guanxi-load.toml sections",
        encoding="gbk",
        delimiter=";",
        toml='[customers]\nencoding = "gbk"\ndelimiter = ";"\n',
        read_as=("gbk", False),
    ),
    Variant("crlf", "CRLF line ends", newline="\r\n"),
    Variant(
        "quoted_newline",
        "quoted newlines and doubled quotes in a field",
        customers=[
            *SIMPLIFIED[:4],
            ("C05", "陈静", "13800138005", "杭州", '地址：文三路\n"西溪"小区'),
            ("C06", "杨磊", "13800138006", "成都", "第一行\r\n第二行"),
        ],
    ),
    Variant(
        "gbk_bad_row",
        "GBK with one row of invalid bytes",
        encoding="gbk",
        raw_rows={7: _GBK_BAD},
        quarantined={7: "bad_encoding"},
        read_as=("gb18030", True),
    ),
    Variant(
        "utf8_bad_row",
        "UTF-8 with one row of invalid bytes",
        raw_rows={7: _UTF8_BAD},
        quarantined={7: "bad_encoding"},
    ),
    Variant(
        "gbk_read_as_utf8",
        "GBK named as UTF-8 (the wrong encoding)",
        encoding="gbk",
        options={"encoding": "utf-8"},
        loaded=0,
        quarantined={r: "bad_encoding" for r in range(1, 7)},
        read_as=("utf-8", False),
        relations_loaded=0,
        relations_quarantined={"unknown_customer": len(RELATIONS)},
    ),
    Variant(
        "bad_header",
        "a header that does not decode",
        encoding="gbk",
        raw_header="customer_id,姓名,phone,city,note\n".encode("gbk").replace(b"\xd0", b"\xff"),
        options={"encoding": "gbk"},
        loaded=0,
        fails="header does not decode as gbk at byte offset 12",
    ),
]


def variant_bytes(v: Variant) -> dict[str, bytes]:
    """The files of a variant, by file name."""
    files: dict[str, bytes] = {}
    header = v.raw_header or _line(CUSTOMER_HEADER, v.delimiter, v.newline).encode(v.encoding)
    body = b""
    for i, row in enumerate(v.customer_lines(), start=1):
        body += _line(row, v.delimiter, v.newline).encode(v.encoding)
        if i + 1 in v.raw_rows:
            body += v.raw_rows[i + 1]
    files["customers.csv"] = v.bom + header + body
    # the other tables use the variant's delimiter unless a toml section names customers only
    others = "," if v.toml and v.toml.startswith("[customers]") else v.delimiter
    rel = _line(HEADERS["relations"], others, v.newline)
    rel += "".join(_line(r, others, v.newline) for r in RELATIONS)
    files["relations.csv"] = v.bom + rel.encode("utf-8")
    for name in ("transactions", "events"):
        files[f"{name}.csv"] = _line(HEADERS[name], others, v.newline).encode("utf-8")
    if v.toml is not None:
        files["guanxi-load.toml"] = v.toml.encode("utf-8")
    return files


def write_corpus(root: Path = ROOT) -> None:
    for v in VARIANTS:
        folder = root / v.name
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in variant_bytes(v).items():
            (folder / name).write_bytes(data)


if __name__ == "__main__":
    write_corpus()
