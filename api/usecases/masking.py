"""PII masking: the one place that decides what of a customer record leaves unmasked.

Built-in PII columns (`graph.model.PII_COLUMNS`: name, phone, id_number) are always masked
below admin. Any other input column can be declared PII as well, by the operator
(``GUANXI_PII_COLUMNS``, `api.settings.Settings.pii_columns`) or by the data owner when
loading (``guanxi load --pii-columns``, kept by the store as ``declared_pii_columns()``); a
declared column is masked wherever it shows, whether it is a contract column (``city``) or an
extra input column kept in the JSON ``attributes`` and shown as ``attr.<name>``.

Every surface goes through `public_attributes` (one record: the customer profile of the API,
the CLI and the demo) or `mask_frame` (columns: CSV exports), so that a declaration masks
everywhere at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pandas as pd

from graph.model import PII_COLUMNS
from graph.store import GraphStore

#: Prefix under which extra input columns (the JSON ``attributes``) are shown.
ATTR_PREFIX = "attr."


def mask_phone(v: str | None) -> str | None:
    """138****5678: the operator keeps the carrier prefix and the last four digits."""
    if v is None or len(v) < 7:
        return None if v is None else "*" * len(v)
    return v[:3] + "*" * (len(v) - 7) + v[-4:]


def mask_name(v: str | None) -> str | None:
    """张** : the surname stays so a call-centre agent can address the customer."""
    if not v:
        return v
    return v[0] + "*" * max(1, len(v) - 1)


def mask_id_number(v: str | None) -> str | None:
    """310101********1234: region and check digits only; the birth date is hidden."""
    if v is None or len(v) < 10:
        return None if v is None else "*" * len(v)
    return v[:6] + "*" * (len(v) - 10) + v[-4:]


def mask_declared(v: str | None) -> str | None:
    """``****``: a declared column's meaning is unknown, so none of its characters stay.

    The length is kept, as it is by the built-in maskers, so a masked value still shows that
    a value is present and roughly how long it is.
    """
    if v is None:
        return None
    return "*" * max(1, len(v))


_MASKERS: dict[str, Callable[[str], str | None]] = {
    "name": mask_name,
    "phone": mask_phone,
    "id_number": mask_id_number,
}


def _column_name(name: str) -> str:
    name = name.strip()
    return name[len(ATTR_PREFIX) :] if name.startswith(ATTR_PREFIX) else name


def pii_columns(*declared: Iterable[str] | None) -> tuple[str, ...]:
    """The built-in PII columns followed by every declared one, without duplicates.

    Parameters
    ----------
    *declared
        Column-name lists (settings, the store's declaration); ``None`` is skipped. Names are
        input column names; a leading ``attr.`` (how extra columns are shown) is accepted and
        dropped, blanks are ignored.

    Examples
    --------
    >>> pii_columns(["email", " attr.passport "], None, ["name"])
    ('name', 'phone', 'id_number', 'email', 'passport')
    """
    out = list(PII_COLUMNS)
    for names in declared:
        for name in names or ():
            col = _column_name(str(name))
            if col and col not in out:
                out.append(col)
    return tuple(out)


def served_pii_columns(store: GraphStore, configured: Iterable[str] = ()) -> tuple[str, ...]:
    """The PII columns of what `store` serves: built-in, `configured` (settings) and the
    store's own declaration (``guanxi load --pii-columns``).

    Raises
    ------
    StoreError
        The store cannot be read.
    """
    return pii_columns(configured, store.declared_pii_columns())


def mask_value(column: str, value: Any) -> str | None:
    """`value` of `column` masked: a built-in masker, else `mask_declared`."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    return _MASKERS.get(column, mask_declared)(str(value))


def _pii_key(key: str, columns: tuple[str, ...]) -> str | None:
    """The PII column a record key shows (``phone``, ``attr.email`` -> ``email``), or None."""
    if key in columns:
        return key
    if key.startswith(ATTR_PREFIX) and key[len(ATTR_PREFIX) :] in columns:
        return key[len(ATTR_PREFIX) :]
    return None


def mask_record(
    record: Mapping, *, unmasked: bool = False, columns: tuple[str, ...] = PII_COLUMNS
) -> dict:
    """A copy of `record` with every key showing a column of `columns` masked.

    Keys are contract column names or ``attr.<name>`` for extra input columns; both match a
    declared ``<name>``. With `unmasked` (admin) the record is returned as is.
    """
    out = dict(record)
    if unmasked:
        return out
    for key, value in out.items():
        col = _pii_key(str(key), columns)
        if col is not None and value is not None:
            out[key] = mask_value(col, value)
    return out


def public_attributes(
    record: Mapping, *, unmasked: bool = False, columns: tuple[str, ...] = PII_COLUMNS
) -> dict:
    """A stored customer row as shown to a caller: extra columns flattened, PII masked.

    The JSON ``attributes`` column (every input column the contract does not name) becomes
    ``attr.<name>`` keys, so a declared extra column is masked like a built-in one. An
    ``attributes`` value that is not a JSON object cannot be told apart column by column; it
    is kept as is only when no extra column is declared (or for admin), else masked whole.

    Parameters
    ----------
    record
        One customer as the store returns it (`GraphStore.get_customer`).
    unmasked
        The caller may see PII in clear (admin).
    columns
        The PII columns (`pii_columns`).
    """
    attrs = dict(record)
    extra = attrs.pop("attributes", None)
    if extra:
        try:
            parsed = json.loads(extra) if isinstance(extra, str) else extra
            attrs.update({f"{ATTR_PREFIX}{k}": v for k, v in dict(parsed).items()})
        except (TypeError, ValueError):
            declared_extra = set(columns) - set(PII_COLUMNS)
            attrs["attributes"] = (
                mask_declared(str(extra)) if declared_extra and not unmasked else extra
            )
    return mask_record(attrs, unmasked=unmasked, columns=columns)


def mask_frame(
    df: pd.DataFrame, *, unmasked: bool = False, columns: tuple[str, ...] = PII_COLUMNS
) -> pd.DataFrame:
    """`df` with every column of `columns` it holds masked (a copy; `df` is left alone)."""
    if unmasked:
        return df
    df = df.copy()
    for key in df.columns:
        col = _pii_key(str(key), columns)
        if col is not None:
            df[key] = df[key].map(lambda v, c=col: None if pd.isna(v) else mask_value(c, v))
    return df


__all__ = [
    "ATTR_PREFIX",
    "mask_declared",
    "mask_frame",
    "mask_id_number",
    "mask_name",
    "mask_phone",
    "mask_record",
    "mask_value",
    "pii_columns",
    "public_attributes",
    "served_pii_columns",
]
