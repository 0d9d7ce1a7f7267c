"""The tag catalog: tags, tag families, exclusive groups and tunable parameters, from TOML.

The catalog shipped with the package (``tagging/catalog.toml``) defines every tag of the
product brief. A user file has the same shape and is merged over it with `merge_catalogs`:

- ``[params]`` entries replace thresholds of the same name (the value kind must match);
- a ``[[tag]]`` whose ``id`` exists overrides only the fields it gives (``when``, ``score``,
  ``enabled = false``, ...); a new ``id`` must give ``name_zh``, ``name_en``, ``category``
  and ``when``;
- ``[[family]]`` and ``[groups.<id>]`` work the same way.

Everything is checked when the file is parsed: TOML syntax, unknown keys, duplicate ids,
rule syntax (with the position in the expression), unknown features or parameters and
operand kinds. A `RuleError` names the tag id and the field; nothing is evaluated before the
whole catalog is valid.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from graph.errors import RuleError
from tagging.feature_catalog import FEATURES
from tagging.reasons import Template, parse_template
from tagging.rule_check import check_expr
from tagging.rule_parser import parse_expr
from tagging.rule_tokens import KEYWORDS
from tagging.rule_tree import FUNCTIONS, Expr, Kind

CATEGORIES: tuple[str, ...] = (
    "basic",
    "behavior",
    "consumption",
    "value",
    "interest",
    "lifecycle",
    "social",
    "risk",
)
GROUP_MODES = ("exactly_one", "at_most_one")
FAMILY_KINDS = ("share", "value")
#: Rule-local names inside a ``kind = "share"`` family rule.
SHARE_NAMES: dict[str, Kind] = {"share": "num", "count": "num"}

_ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_TAG_KEYS = {
    "id", "name_zh", "name_en", "category", "when", "score", "reason", "group", "priority",
    "description", "enabled",
}  # fmt: skip
_FAMILY_KEYS = {
    "id", "name_zh", "name_en", "category", "source", "kind", "when", "score", "reason",
    "description", "enabled",
}  # fmt: skip
_GROUP_KEYS = {"mode", "fallback", "description"}
_REQUIRED_TAG = ("name_zh", "name_en", "category", "when")
_REQUIRED_FAMILY = ("name_zh", "name_en", "category", "source", "when")


@dataclass(frozen=True)
class TagRule:
    """One tag: names, category, the ``when`` condition and how to score and explain it."""

    id: str
    name_zh: str
    name_en: str
    category: str
    when: Expr
    score: Expr | None = None
    reason: Template | None = None
    group: str | None = None
    priority: int = 100
    description: str = ""
    enabled: bool = True


@dataclass(frozen=True)
class TagFamily:
    """A family of tags generated from the data, one per value: ``<id>:<value>``.

    ``kind = "share"`` reads the feature columns ``<source>_share:<v>`` and
    ``<source>_count:<v>`` (bound to ``share`` and ``count`` in the rule); ``kind = "value"``
    makes one tag per distinct value of the string feature ``source`` (e.g. ``community_id``).
    ``name_zh`` / ``name_en`` may contain ``{value}``.
    """

    id: str
    name_zh: str
    name_en: str
    category: str
    source: str
    when: Expr
    kind: Literal["share", "value"] = "share"
    score: Expr | None = None
    reason: Template | None = None
    description: str = ""
    enabled: bool = True


@dataclass(frozen=True)
class Group:
    """Mutually exclusive tags; the lowest ``priority`` that matches wins.

    ``exactly_one``: every customer gets one (``fallback`` when none matches);
    ``at_most_one``: a customer gets one or none.
    """

    id: str
    mode: Literal["exactly_one", "at_most_one"] = "at_most_one"
    fallback: str | None = None
    description: str = ""


@dataclass(frozen=True)
class Catalog:
    """Tags, families, groups and params; ``patches`` are overrides not yet merged."""

    tags: tuple[TagRule, ...] = ()
    families: tuple[TagFamily, ...] = ()
    groups: Mapping[str, Group] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    patches: tuple[tuple[str, str, Mapping[str, Any]], ...] = ()  # (kind, id, fields)

    def tag(self, tag_id: str) -> TagRule:
        for t in self.tags:
            if t.id == tag_id:
                return t
        raise KeyError(tag_id)

    @property
    def tag_ids(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.tags)


# --------------------------------------------------------------------------- parsing


def parse_rules(text: str, *, base: Catalog | None = None) -> Catalog:
    """Parse and check a catalog or a user override file (pure).

    Parameters
    ----------
    text
        TOML text.
    base
        The catalog the file will be merged into; its params may be referenced by the
        file's rules. Defaults to the shipped catalog.

    Raises
    ------
    RuleError
        Invalid TOML (with line and column), unknown keys, duplicate ids, a rule that does
        not parse (tag id and position), unknown features or params.
    """
    if base is None:
        base = default_catalog()
    return _parse(text, base=base, source="<text>")


def load_rules(path: str | Path, *, base: Catalog | None = None) -> Catalog:
    """Read a TOML tag file and parse it with `parse_rules`.

    Raises
    ------
    RuleError
        The file cannot be read, or any error `parse_rules` raises (message prefixed by
        the path).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise RuleError(f"{p}: cannot read tag file ({exc.strerror}); check the path") from exc
    try:
        return parse_rules(text, base=base)
    except RuleError as exc:
        raise RuleError(
            f"{p}: {exc.detail}", rule_id=exc.rule_id, position=exc.position, field=exc.field
        ) from None


@lru_cache(maxsize=1)
def default_catalog() -> Catalog:
    """The catalog shipped with the package (``tagging/catalog.toml``)."""
    text = resources.files("tagging").joinpath("catalog.toml").read_text(encoding="utf-8")
    cat = _parse(text, base=Catalog(), source="catalog.toml")
    if cat.patches:
        raise RuleError(f"shipped catalog has incomplete tags: {[p[1] for p in cat.patches]}")
    return cat


def _parse(text: str, *, base: Catalog, source: str) -> Catalog:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"{source} is not valid TOML: {exc}") from None
    unknown = set(data) - {"params", "tag", "family", "groups"}
    if unknown:
        raise RuleError(
            f"unknown top-level key(s) {sorted(unknown)}; expected [params], [[tag]], "
            "[[family]], [groups.<id>]"
        )
    params = _parse_params(data.get("params", {}))
    groups: dict[str, Group] = {}
    patches: list[tuple[str, str, Mapping[str, Any]]] = []
    for gid, g in _table(data.get("groups", {}), "groups").items():
        _check_keys(g, _GROUP_KEYS, rule_id=gid, what="group")
        groups[gid] = _build_group(gid, g)

    tags: list[TagRule] = []
    families: list[TagFamily] = []
    seen: set[str] = set()
    for kind, entries, keys, required in (
        ("tag", data.get("tag", []), _TAG_KEYS, _REQUIRED_TAG),
        ("family", data.get("family", []), _FAMILY_KEYS, _REQUIRED_FAMILY),
    ):
        if not isinstance(entries, list):
            raise RuleError(f"'{kind}' must be an array of tables: use [[{kind}]]")
        for i, entry in enumerate(entries):
            tid = entry.get("id") if isinstance(entry, dict) else None
            if not isinstance(tid, str) or not _ID_RE.match(tid):
                raise RuleError(
                    f"[[{kind}]] number {i + 1} needs an 'id' of letters, digits and '_' "
                    f"starting with a letter, got {tid!r}",
                    field="id",
                )
            key = f"{kind}:{tid}"
            if key in seen:
                raise RuleError(f"duplicate {kind} id", rule_id=tid, field="id")
            seen.add(key)
            _check_keys(entry, keys, rule_id=tid, what=kind)
            fields = _parse_fields(entry, tid)
            if all(k in entry for k in required):
                if kind == "tag":
                    tags.append(_build_tag(fields))
                else:
                    families.append(_build_family(fields))
            else:
                patches.append((kind, tid, fields))

    cat = Catalog(tuple(tags), tuple(families), groups, params, tuple(patches))
    _check_catalog(cat, base=base)
    return cat


def _table(v: Any, name: str) -> dict:
    if not isinstance(v, dict):
        raise RuleError(f"[{name}] must be a table")
    return v


def _check_keys(entry: Any, allowed: set[str], *, rule_id: str, what: str) -> None:
    if not isinstance(entry, dict):
        raise RuleError(f"{what} entry must be a table", rule_id=rule_id)
    for k in entry:
        if k not in allowed:
            raise RuleError(
                f"unknown key {k!r} in {what}; allowed: {', '.join(sorted(allowed))}",
                rule_id=rule_id,
                field=k,
            )


def _parse_params(raw: Any) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name, value in _table(raw, "params").items():
        if not _ID_RE.match(name) or name.lower() in KEYWORDS or name in FUNCTIONS:
            raise RuleError(f"invalid parameter name {name!r}", field=name)
        if name in FEATURES:
            raise RuleError(f"parameter {name!r} has the name of a feature; rename it", field=name)
        if isinstance(value, list):
            if not all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in value):
                raise RuleError("list parameters hold numbers or strings only", field=name)
        elif not isinstance(value, str | int | float | bool):
            raise RuleError(
                f"parameter must be a number, string, boolean or list, got {value!r}", field=name
            )
        params[name] = value
    return params


def _param_kind(v: Any) -> Kind:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int | float):
        return "num"
    if isinstance(v, str):
        return "str"
    return "list"


def _parse_fields(entry: Mapping[str, Any], tid: str) -> dict[str, Any]:
    """Type-check the given fields and parse the expressions (syntax only)."""
    out: dict[str, Any] = {"id": tid}
    for k, v in entry.items():
        if k == "id":
            continue
        if k in ("when", "score"):
            out[k] = parse_expr(_str(v, tid, k), rule_id=tid, field=k)
        elif k == "reason":
            out[k] = parse_template(_str(v, tid, k), rule_id=tid)
        elif k == "priority":
            if not isinstance(v, int) or isinstance(v, bool):
                raise RuleError(f"priority must be an integer, got {v!r}", rule_id=tid, field=k)
            out[k] = v
        elif k == "enabled":
            if not isinstance(v, bool):
                raise RuleError(f"enabled must be true or false, got {v!r}", rule_id=tid, field=k)
            out[k] = v
        elif k == "kind":
            if v not in FAMILY_KINDS:
                raise RuleError(
                    f"kind must be one of {FAMILY_KINDS}, got {v!r}", rule_id=tid, field=k
                )
            out[k] = v
        else:
            out[k] = _str(v, tid, k)
    cat = out.get("category")
    if cat is not None and not cat.strip():
        raise RuleError("category must not be empty", rule_id=tid, field="category")
    return out


def _str(v: Any, tid: str, k: str) -> str:
    if not isinstance(v, str):
        raise RuleError(f"{k} must be a string, got {v!r}", rule_id=tid, field=k)
    return v


def _build_tag(fields: Mapping[str, Any]) -> TagRule:
    return TagRule(**fields)


def _build_family(fields: Mapping[str, Any]) -> TagFamily:
    return TagFamily(**fields)


def _build_group(gid: str, g: Mapping[str, Any]) -> Group:
    mode = g.get("mode", "at_most_one")
    if mode not in GROUP_MODES:
        raise RuleError(
            f"group mode must be one of {GROUP_MODES}, got {mode!r}", rule_id=gid, field="mode"
        )
    fallback = g.get("fallback")
    if fallback is not None and not isinstance(fallback, str):
        raise RuleError("fallback must be a tag id", rule_id=gid, field="fallback")
    return Group(gid, mode, fallback, str(g.get("description", "")))


# --------------------------------------------------------------------------- checks


def _check_catalog(cat: Catalog, *, base: Catalog) -> None:
    """Check names, kinds, groups and fallbacks; ``base`` supplies what an override may use."""
    params = {**base.params, **cat.params}
    groups = {**base.groups, **cat.groups}
    all_tags = {t.id: t for t in (*base.tags, *cat.tags)}
    names: dict[str, Kind] = {n: f.kind for n, f in FEATURES.items()}
    names.update({n: _param_kind(v) for n, v in params.items()})

    def check(tid: str, fields: Mapping[str, Any], local: Mapping[str, Kind]) -> None:
        visible = {**names, **local}
        if fields.get("when") is not None:
            check_expr(fields["when"], names=visible, want="bool", rule_id=tid, field="when")
        if fields.get("score") is not None:
            check_expr(fields["score"], names=visible, want="num", rule_id=tid, field="score")
        tpl = fields.get("reason")
        if tpl is not None:
            offset = 0
            for part in tpl.parts:
                if isinstance(part, str):
                    continue
                expr, _ = part
                start = tpl.text.find("{" + expr.text, offset) + 1
                try:
                    check_expr(expr, names=visible, want=None, rule_id=tid, field="reason")
                except RuleError as exc:
                    raise RuleError(
                        exc.detail,
                        rule_id=tid,
                        field="reason",
                        position=start + (exc.position or 0),
                    ) from None
                offset = start

    for t in cat.tags:
        check(t.id, t.__dict__, {})
        if t.group is not None and t.group not in groups:
            raise RuleError(f"unknown group {t.group!r}", rule_id=t.id, field="group")
    for f in cat.families:
        check(f.id, f.__dict__, _family_locals(f.kind, f.source, f.id))
    for kind, tid, fields in cat.patches:
        local: dict[str, Kind] = {}
        if kind == "family":
            local = dict(SHARE_NAMES)
        check(tid, fields, local)
    patched = {tid for kind, tid, _ in cat.patches if kind == "tag"}
    for g in cat.groups.values():
        if g.fallback is None or g.fallback in patched:
            continue
        if g.fallback not in all_tags:
            raise RuleError(f"fallback {g.fallback!r} is not a tag", rule_id=g.id, field="fallback")
        if all_tags[g.fallback].group != g.id:
            raise RuleError(
                f"fallback {g.fallback!r} is not a tag of this group",
                rule_id=g.id,
                field="fallback",
            )


def _family_locals(kind: str, source: str, fid: str) -> dict[str, Kind]:
    if kind == "share":
        return dict(SHARE_NAMES)
    feat = FEATURES.get(source)
    if feat is None or feat.kind != "str":
        raise RuleError(
            f"a value family needs a text feature as source, got {source!r}",
            rule_id=fid,
            field="source",
        )
    return {}


def merge_catalogs(base: Catalog, override: Catalog) -> Catalog:
    """The base catalog with a user file applied (see the module docstring for the rules).

    Raises
    ------
    RuleError
        A param changes kind, an override names an unknown tag, a new tag lacks a required
        field, or the merged rules no longer check.
    """
    params = dict(base.params)
    for k, v in override.params.items():
        if k in params and _param_kind(params[k]) != _param_kind(v):
            raise RuleError(
                f"parameter is a {_param_kind(params[k])} in the base catalog, got {v!r}",
                field=k,
            )
        params[k] = v
    groups = {**base.groups, **override.groups}
    tags = {t.id: t for t in base.tags}
    families = {f.id: f for f in base.families}
    for t in override.tags:
        tags[t.id] = t
    for f in override.families:
        families[f.id] = f
    for kind, tid, fields in (*base.patches, *override.patches):
        target = tags if kind == "tag" else families
        if tid not in target:
            required = _REQUIRED_TAG if kind == "tag" else _REQUIRED_FAMILY
            missing = [k for k in required if k not in fields]
            raise RuleError(
                f"{kind} {tid!r} is not in the base catalog; a new {kind} needs "
                f"{', '.join(missing)}",
                rule_id=tid,
                field=missing[0],
            )
        target[tid] = replace(target[tid], **{k: v for k, v in fields.items() if k != "id"})
    merged = Catalog(tuple(tags.values()), tuple(families.values()), groups, params, ())
    _check_catalog(merged, base=Catalog())
    return merged
