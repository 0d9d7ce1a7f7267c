"""PII masking: name, phone and id_number never leave unmasked unless the role allows it."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from graph.model import PII_COLUMNS


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


_MASKERS = {"name": mask_name, "phone": mask_phone, "id_number": mask_id_number}


def mask_record(record: Mapping, *, unmasked: bool = False) -> dict:
    out = dict(record)
    if not unmasked:
        for col in PII_COLUMNS:
            if col in out and out[col] is not None:
                out[col] = _MASKERS[col](str(out[col]))
    return out


def mask_frame(df: pd.DataFrame, *, unmasked: bool = False) -> pd.DataFrame:
    if unmasked:
        return df
    df = df.copy()
    for col in PII_COLUMNS:
        if col in df.columns:
            df[col] = df[col].map(lambda v, f=_MASKERS[col]: None if pd.isna(v) else f(str(v)))
    return df
