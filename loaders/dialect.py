"""How a CSV export is written: its encoding and delimiter, per table (pure: no file opened).

Bank exports are rarely the contract's UTF-8 with commas: Excel and many core-banking
systems in China write GBK (or GB18030), Taiwanese and Hong Kong systems Big5, and core-system
dumps are often pipe- or tab-separated. The dialect of each table comes, most specific first,
from its own section of ``DIR/guanxi-load.toml``, the command line (``--encoding``,
``--delimiter``), the file's top-level keys, and the defaults (``auto``, comma)::

    encoding = "auto"          # every table
    delimiter = "|"
    [customers]
    encoding = "gbk"           # this table only
    delimiter = "tab"

Unknown keys and values fail the load before any file is read, naming the file and the key.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass

from graph.errors import ConfigError
from graph.model import TABLES

__all__ = [
    "CONFIG_FILE",
    "DELIMITERS",
    "ENCODINGS",
    "Dialect",
    "FileDialect",
    "dialects_for",
    "parse_config",
]

#: The optional per-folder file naming each table's dialect.
CONFIG_FILE = "guanxi-load.toml"

#: Encodings a user may name; ``auto`` detects one of the others per file.
ENCODINGS: tuple[str, ...] = ("auto", "utf-8", "utf-8-sig", "gb18030", "gbk", "big5")

#: Delimiter names a user may give, and the character each stands for.
DELIMITERS: dict[str, str] = {",": ",", "|": "|", "tab": "\t", ";": ";"}

_KEYS = ("encoding", "delimiter")


@dataclass(frozen=True)
class Dialect:
    """The encoding (possibly ``auto``) and delimiter character asked for one table."""

    encoding: str = "auto"
    delimiter: str = ","

    @property
    def delimiter_name(self) -> str:
        """The delimiter as a user writes it (``tab`` rather than a tab character)."""
        return next(k for k, v in DELIMITERS.items() if v == self.delimiter)


@dataclass(frozen=True)
class FileDialect:
    """How one input was actually read, for the load report.

    ``encoding`` is the one used (``auto`` resolved; ``detected`` says it was detected);
    Parquet files and DataFrames have neither encoding nor delimiter.
    """

    format: str  # "csv", "parquet" or "frame"
    encoding: str | None = None
    delimiter: str | None = None
    detected: bool = False

    def as_dict(self) -> dict:
        delim = Dialect(delimiter=self.delimiter).delimiter_name if self.delimiter else None
        return {
            "format": self.format,
            "encoding": self.encoding,
            "delimiter": delim,
            "detected": self.detected,
        }

    def describe(self) -> str:
        """One short phrase for the human report: ``gb18030 (detected), '|'``."""
        if self.format != "csv":
            return self.format
        enc = f"{self.encoding} (detected)" if self.detected else str(self.encoding)
        return f"{enc}, {self.as_dict()['delimiter']!r}"


def checked_encoding(value: object, *, where: str) -> str:
    """A user's encoding name, lower-cased, or ConfigError naming `where` and the choices.

    Raises
    ------
    ConfigError
    """
    name = value.strip().lower().replace("_", "-") if isinstance(value, str) else value
    if name not in ENCODINGS:
        raise ConfigError(f"{where}: encoding {value!r} is not one of {', '.join(ENCODINGS)}")
    return name


def checked_delimiter(value: object, *, where: str) -> str:
    """The delimiter character a user's name stands for (``tab`` or a tab character → tab).

    Raises
    ------
    ConfigError
    """
    if value == "\t":
        return "\t"
    name = value.strip().lower() if isinstance(value, str) else value
    if name not in DELIMITERS:
        names = ", ".join(repr(k) for k in DELIMITERS)
        raise ConfigError(f"{where}: delimiter {value!r} is not one of {names}")
    return DELIMITERS[name]


def parse_config(text: str, *, source: str) -> dict[str, dict[str, str]]:
    """Parse ``guanxi-load.toml``: ``{"": top-level keys, table: its keys}``, values checked.

    Parameters
    ----------
    text
        The file's content.
    source
        Its path, named in every error.

    Raises
    ------
    ConfigError
        Not TOML, an unknown key or table, or a value outside the choices.

    Examples
    --------
    >>> parse_config('encoding = "GBK"\\n[relations]\\ndelimiter = "tab"', source="x.toml")
    {'': {'encoding': 'gbk'}, 'relations': {'delimiter': '\\t'}}
    """
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    out: dict[str, dict[str, str]] = {"": {}}
    for key, value in doc.items():
        if key in TABLES:
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: [{key}] must be a table of encoding/delimiter")
            out[key] = _section(value, source=source, prefix=f"{key}.")
        elif key in _KEYS:
            out[""].update(_section({key: value}, source=source, prefix=""))
        else:
            allowed = ", ".join([*_KEYS, *(f"[{t}]" for t in TABLES)])
            raise ConfigError(f"{source}: unknown key {key!r}; allowed: {allowed}")
    return out


def _section(values: Mapping[str, object], *, source: str, prefix: str) -> dict[str, str]:
    out = {}
    for key, value in values.items():
        where = f"{source}: key {prefix}{key}"
        if key == "encoding":
            out[key] = checked_encoding(value, where=where)
        elif key == "delimiter":
            out[key] = checked_delimiter(value, where=where)
        else:
            raise ConfigError(f"{where} is unknown; a table takes encoding and delimiter")
    return out


def dialects_for(
    config: Mapping[str, Mapping[str, str]] | None = None,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
) -> dict[str, Dialect]:
    """The dialect of each table: its section, then the command line, then the file's top.

    `encoding` and `delimiter` are the command line's values (None when not given), checked
    here too so that a Python caller gets the same errors.

    Raises
    ------
    ConfigError

    Examples
    --------
    >>> d = dialects_for({"": {"delimiter": "|"}, "events": {"encoding": "big5"}},
    ...                  encoding="gbk")
    >>> d["customers"], d["events"]
    (Dialect(encoding='gbk', delimiter='|'), Dialect(encoding='big5', delimiter='|'))
    """
    config = config or {}
    top = dict(config.get("", {}))
    if encoding is not None:
        top["encoding"] = checked_encoding(encoding, where="--encoding")
    if delimiter is not None:
        top["delimiter"] = checked_delimiter(delimiter, where="--delimiter")
    return {name: Dialect(**{**top, **config.get(name, {})}) for name in TABLES}
