"""A planner's own seed list, judged: its reach, the IMM plan for the same budget, the bound.

The use case behind ``guanxi evaluate-seeds`` and ``POST /campaigns/evaluate``. Planners
bring lists (last quarter's brand ambassadors, a branch manager's picks) and ask how good
they are. The answer puts the list on the same footing as the planner's own plan: the same
run, influence model, target segment and simulated worlds, so "IMM reaches x more" is a
paired comparison, and OPIM-C's upper bound on the optimum for that many seeds says how
far any list, the plan's included, can be from the best.

Every id of the list must be a customer of the run's graph: an unknown id fails the
evaluation naming its line (a silently dropped seed would flatter or sink the list). A
repeated id counts once and its lines are reported. Customers the bank may not contact (no
consent, an excluded risk tag) are evaluated all the same, since the list is the planner's,
and reported with the reason.
"""

from __future__ import annotations

import csv
import io
import time
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from api.usecases.campaign_setup import CampaignContext, CampaignParams, prepare_campaign
from api.usecases.campaigns import Progress, build_plan, plan_report, reach_by_community
from api.usecases.runs import resolve_run
from graph.campaign import evaluate_seed_set
from graph.errors import ConfigError, LoaderError, UnreadableFile
from tagging import parse_segment

__all__ = ["SeedList", "evaluate_seeds", "read_seed_file", "seed_list"]

# An error lists this many unknown ids; the rest are counted.
_SHOW_UNKNOWN = 5


@dataclass(frozen=True)
class SeedList:
    """Customer ids in the order given, with where each came from.

    Attributes
    ----------
    ids
        The ids, trimmed of surrounding spaces as the loader trims stored ids.
    lines
        1-based line (file) or position (request) of each id, for error messages.
    source
        The file's path, or ``"request"``.
    """

    ids: tuple[str, ...]
    lines: tuple[int, ...]
    source: str


def seed_list(ids: list[str], *, source: str = "request") -> SeedList:
    """A :class:`SeedList` from ids given directly (positions count from 1).

    Raises
    ------
    ConfigError
        No ids, or an id that is blank.
    """
    trimmed = tuple(_trim(str(i)) for i in ids)
    for pos, cid in enumerate(trimmed, start=1):
        if not cid:
            raise ConfigError(f"{source} seed {pos}: a customer id is blank")
    if not trimmed:
        raise ConfigError(f"{source}: the seed list is empty; give at least one customer id")
    return SeedList(trimmed, tuple(range(1, len(trimmed) + 1)), source)


def read_seed_file(path: Path) -> SeedList:
    """Read one customer id per line, or the ``customer_id`` column of a CSV with a header.

    A plan's CSV (``guanxi plan-referral --csv``) reads back as a list. Blank lines and
    lines starting with ``#`` are skipped. UTF-8 (with or without a byte-order mark) is
    read first; a file that is not UTF-8 is read as GB18030 (GBK's superset), the encoding
    of most Chinese bank exports.

    Raises
    ------
    LoaderError
        The file is missing, empty of ids, or in neither encoding (naming the byte offset).
    """
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise LoaderError(
            f"{path}: cannot read the seed list ({e.strerror})", path=str(path)
        ) from e
    text = _decode(raw, path)
    rows = [
        (n, line)
        for n, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not rows:
        raise LoaderError(f"{path}: no customer ids in the seed list", path=str(path))
    header = next(csv.reader([rows[0][1]]))
    if "customer_id" in [_trim(h) for h in header]:
        col = [_trim(h) for h in header].index("customer_id")
        ids, lines = [], []
        reader = csv.reader(io.StringIO(text))
        for rec in reader:
            n = reader.line_num
            if n <= rows[0][0] or not rec or not "".join(rec).strip():
                continue
            if col >= len(rec) or not _trim(rec[col]):
                raise LoaderError(
                    f"{path} line {n}, column customer_id: the customer id is blank",
                    path=str(path),
                )
            ids.append(_trim(rec[col]))
            lines.append(n)
    else:
        ids = [_trim(line) for _, line in rows]
        lines = [n for n, _ in rows]
    if not ids:
        raise LoaderError(f"{path}: no customer ids under the customer_id header", path=str(path))
    return SeedList(tuple(ids), tuple(lines), str(path))


def evaluate_seeds(
    store,
    seeds: SeedList,
    params: CampaignParams | None = None,
    *,
    run_id: str | None = None,
    context: CampaignContext | None = None,
    progress: Progress | None = None,
) -> dict:
    """Score ``seeds`` beside the IMM plan for as many seeds, under the same campaign.

    Parameters
    ----------
    store
        Store holding the run (read only).
    seeds
        The planner's list (:func:`read_seed_file` or :func:`seed_list`).
    params
        Target, per-community cap, excluded tags, mapping, Monte Carlo worlds and seed of
        the comparison; ``k`` is replaced by the number of distinct ids. Defaults as in
        :class:`CampaignParams`.
    run_id, context, progress
        As in :func:`api.usecases.campaigns.plan_referral`.

    Returns
    -------
    dict
        JSON-ready: ``run_id``, ``source``, ``k``, ``seeds`` (``line``, ``customer_id``,
        ``community_id``, ``contactable``, ``why_not``), ``duplicate_lines``,
        ``expected_reach``, ``reach_ci``, ``reach_per_hop`` (mean customers reached at each
        distance from the nearest seed; index 0 is the seeds), ``reach_per_community``,
        ``plan_reach``, ``plan_reach_ci``, ``plan_uplift`` and ``plan_uplift_ci`` (IMM over
        the list, paired), ``upper_bound`` (no ``k`` eligible seeds reach more, with 95%
        probability), ``share_of_upper_bound``, ``baselines`` and ``plan`` (the IMM plan as
        ``plan_referral`` returns it).

    Raises
    ------
    ConfigError
        An id that is not a customer of the run's graph (naming its line), or a bad
        campaign parameter.
    RuleError
        A target expression that does not parse or names an unknown tag.
    RunNotFound
        No such run (or no run yet).
    """
    t_all = time.perf_counter()
    first: dict[str, int] = {}
    duplicates: list[int] = []
    for cid, line in zip(seeds.ids, seeds.lines, strict=True):
        if cid in first:
            duplicates.append(line)
        else:
            first[cid] = line
    ids = list(first)
    base = params if params is not None else CampaignParams(k=len(ids))
    params = replace(base, k=len(ids))
    if params.target is not None:
        parse_segment(params.target)  # a malformed target fails before any graph work
    if context is None:
        context = prepare_campaign(store, run_id=resolve_run(store, run_id).run_id)
    idx = context.graph.index_of(np.asarray(ids, dtype=object))
    missing = [i for i, v in enumerate(idx) if v < 0]
    if missing:
        unit = "seed" if seeds.source == "request" else "line"
        shown = "; ".join(f"{unit} {first[ids[i]]}: {ids[i]!r}" for i in missing[:_SHOW_UNKNOWN])
        more = len(missing) - _SHOW_UNKNOWN
        raise ConfigError(
            f"{seeds.source}: {len(missing)} id(s) are not customers of run "
            f"{context.run.run_id!r} ({shown}{f'; and {more} more' if more > 0 else ''}); "
            "fix or remove them"
        )
    planned = build_plan(
        store, params, run_id=context.run.run_id, context=context, progress=progress
    )
    ctx, plan = planned.context, planned.plan
    ev = evaluate_seed_set(planned.model, idx, plan, target=planned.target, community=ctx.community)
    report = plan_report(store, params, planned)
    lo, hi = ev.plan_uplift_ci
    reach = ev.reach
    rows = []
    for cid, v in zip(ids, idx, strict=True):
        why = None
        if not ctx.consent[v]:
            why = "no marketing consent"
        elif planned.risky[v]:
            why = "holds an excluded risk tag (" + ", ".join(params.exclude_tags) + ")"
        rows.append(
            {
                "line": first[cid],
                "customer_id": cid,
                "community_id": ctx.community_names[ctx.community[v]],
                "contactable": why is None,
                "why_not": why,
            }
        )
    return {
        "run_id": planned.run.run_id,
        "source": seeds.source,
        "k": len(ids),
        "seeds": rows,
        "duplicate_lines": duplicates,
        "expected_reach": round(reach.mean, 2),
        "reach_ci": [round(reach.ci_low, 2), round(reach.ci_high, 2)],
        "reach_per_hop": [round(float(x), 2) for x in reach.hop_reach],
        "reach_per_community": reach_by_community(reach.community_reach, ctx.community_names),
        "plan_reach": report["expected_reach"],
        "plan_reach_ci": report["reach_ci"],
        "plan_uplift": round(ev.plan_uplift, 2),
        "plan_uplift_ci": [round(lo, 2), round(hi, 2)],
        "upper_bound": report["model"]["upper_bound"],
        "share_of_upper_bound": (
            None if ev.share_of_bound is None else round(ev.share_of_bound, 4)
        ),
        "baselines": report["baselines"],
        "plan": report,
        "timings_s": {"total": round(time.perf_counter() - t_all, 3)},
    }


def _trim(text: str) -> str:
    """Strip surrounding Unicode space separators (and line ends), as the loader trims ids."""
    i, j = 0, len(text)
    while i < j and (unicodedata.category(text[i]) == "Zs" or text[i] in "\r\n"):
        i += 1
    while j > i and (unicodedata.category(text[j - 1]) == "Zs" or text[j - 1] in "\r\n"):
        j -= 1
    return text[i:j]


def _decode(raw: bytes, path: Path) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gb18030")
    except UnicodeDecodeError as e:
        raise UnreadableFile(
            f"{path}: byte {e.start} is neither UTF-8 nor GB18030; save the list as UTF-8",
            path=str(path),
        ) from e
