import pytest

from graph.errors import RuleError
from tagging.rules import (
    CATEGORIES,
    default_catalog,
    load_rules,
    merge_catalogs,
    parse_rules,
)

BRIEF_TAGS = {
    "basic": "young_customer senior_customer high_income gold_member high_net_worth "
    "family_customer",
    "behavior": "active_user dormant_user mobile_preferred",
    "consumption": "high_frequency_buyer low_frequency_buyer big_spender price_sensitive "
    "quality_oriented brand_loyal",
    "value": "rfm_important_value rfm_important_develop rfm_important_retain "
    "rfm_important_recall rfm_general_value rfm_general_develop rfm_general_retain "
    "rfm_general_recall value_high value_medium value_low",
    "lifecycle": "lifecycle_potential lifecycle_new lifecycle_growth lifecycle_mature "
    "lifecycle_decline lifecycle_churned",
    "social": "opinion_leader high_influence community_core bridge super_referrer "
    "socially_active socially_isolated",
    "risk": "credit_risk churn_risk complaint_risk fraud_risk",
}


def test_default_catalog_has_every_brief_tag_in_its_category():
    cat = default_catalog()
    for category, ids in BRIEF_TAGS.items():
        for tid in ids.split():
            tag = cat.tag(tid)
            assert tag.category == category, tid
            assert tag.name_zh and tag.name_en
    fams = {f.id: f for f in cat.families}
    assert fams["prefers"].source == "category" and fams["prefers"].category == "consumption"
    assert fams["interest"].source == "topic" and fams["interest"].category == "interest"
    assert fams["community"].kind == "value"
    assert {t.category for t in cat.tags} <= set(CATEGORIES)
    assert cat.groups["lifecycle"].mode == "exactly_one"
    assert len([t for t in cat.tags if t.group == "rfm"]) == 8


def test_user_file_overrides_params_and_fields_and_adds_tags(tmp_path):
    path = tmp_path / "my_tags.toml"
    path.write_text(
        """
[params]
opinion_leader_pct = 95
center_method = "median"

[[tag]]
id = "senior_customer"
when = "age >= 65"

[[tag]]
id = "bridge"
enabled = false

[[tag]]
id = "vip_investor"
name_zh = "高端投资客户"
name_en = "VIP investor"
category = "value"
when = "aum >= vip_min_aum and opinion_leader_pct > 0"
score = "pct(aum) / 100"

[params.extra]
""".replace("[params.extra]\n", "")
        + "\n",
        encoding="utf-8",
    )
    # vip_min_aum is new: give it in a second params table appended above
    text = path.read_text(encoding="utf-8").replace(
        'center_method = "median"', 'center_method = "median"\nvip_min_aum = 1000000'
    )
    path.write_text(text, encoding="utf-8")
    user = load_rules(path)
    merged = merge_catalogs(default_catalog(), user)
    assert merged.params["opinion_leader_pct"] == 95
    assert merged.params["center_method"] == "median"
    senior = merged.tag("senior_customer")
    assert senior.when.text == "age >= 65" and senior.name_zh == "老年客户"
    assert merged.tag("bridge").enabled is False
    assert merged.tag("vip_investor").category == "value"
    # the base catalog is untouched
    assert default_catalog().params["opinion_leader_pct"] == 99


def test_syntax_error_in_user_file_names_tag_and_position(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(
        '[[tag]]\nid = "whale"\nname_zh = "巨鲸"\nname_en = "Whale"\ncategory = "value"\n'
        'when = "monetary >= 1e6 and and txn_count > 3"\n',
        encoding="utf-8",
    )
    with pytest.raises(RuleError) as exc:
        load_rules(path)
    err = exc.value
    assert err.rule_id == "whale" and err.position == 20 and err.field == "when"
    assert str(path) in str(err) and "position 20" in str(err) and "'whale'" in str(err)


@pytest.mark.parametrize(
    ("text", "rule_id", "field", "fragment"),
    [
        ('[[tag]]\nid = "x"\nwehn = "age > 1"', "x", "wehn", "unknown key"),
        (
            '[[tag]]\nid = "senior_customer"\nwhen = "agee > 1"',
            "senior_customer",
            "when",
            "unknown feature or parameter 'agee'",
        ),
        (
            '[[tag]]\nid = "senior_customer"\nwhen = "age > 1"\n'
            '[[tag]]\nid = "senior_customer"\nwhen = "age > 2"',
            "senior_customer",
            "id",
            "duplicate",
        ),
        (
            '[[tag]]\nid = "senior_customer"\nscore = "age > 1"',
            "senior_customer",
            "score",
            "must be a number",
        ),
        (
            '[[tag]]\nid = "senior_customer"\npriority = "high"',
            "senior_customer",
            "priority",
            "integer",
        ),
        ('[[tag]]\nid = "bad id"\nwhen = "age > 1"', None, "id", "needs an 'id'"),
        ("[params]\nage = 3", None, "age", "name of a feature"),
    ],
)
def test_invalid_user_files(text, rule_id, field, fragment):
    with pytest.raises(RuleError) as exc:
        parse_rules(text)
    assert exc.value.rule_id == rule_id
    assert exc.value.field == field
    assert fragment in str(exc.value)


def test_toml_syntax_error_reports_line():
    with pytest.raises(RuleError, match="line 2"):
        parse_rules("[params]\nx = = 3\n")


def test_merge_rejects_kind_change_and_incomplete_new_tag():
    with pytest.raises(RuleError) as exc:
        merge_catalogs(default_catalog(), parse_rules('[params]\nopinion_leader_pct = "high"'))
    assert exc.value.field == "opinion_leader_pct"
    with pytest.raises(RuleError) as exc:
        merge_catalogs(default_catalog(), parse_rules('[[tag]]\nid = "new_tag"\nwhen = "age > 1"'))
    assert exc.value.rule_id == "new_tag" and "name_zh" in str(exc.value)


def test_unknown_group_and_bad_fallback():
    base = '[[tag]]\nid = "t"\nname_zh = "t"\nname_en = "t"\ncategory = "basic"\nwhen = "age > 1"\n'
    with pytest.raises(RuleError, match="unknown group"):
        parse_rules(base + 'group = "nope"\n')
    with pytest.raises(RuleError, match="fallback"):
        parse_rules('[groups.g]\nmode = "exactly_one"\nfallback = "young_customer"\n')


def test_load_rules_missing_file(tmp_path):
    with pytest.raises(RuleError, match="cannot read"):
        load_rules(tmp_path / "nope.toml")


def test_new_tag_can_join_a_base_group():
    text = (
        '[[tag]]\nid = "lifecycle_vip"\nname_zh = "贵宾期"\nname_en = "VIP stage"\n'
        'category = "lifecycle"\ngroup = "lifecycle"\npriority = 0\nwhen = "aum > 1e7"\n'
    )
    merged = merge_catalogs(default_catalog(), parse_rules(text))
    assert merged.tag("lifecycle_vip").group == "lifecycle"
