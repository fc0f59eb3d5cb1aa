"""How the catalog reads its sentences: strength (力争 / 基本), company scope, export fields.

Each table row quotes the sentence a reading comes from; the catalog-wide rules are checked
against the seed text itself (docs/seeds), not against the catalog's own notes.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from courierwatch.catalog import PolicyTarget, load_catalog
from courierwatch.companies import load_company_lists

_REPO = Path(__file__).resolve().parents[2]
SEEDS = _REPO / "docs" / "seeds"
CATALOG = load_catalog()
IDS = [t.id for t in CATALOG.targets]
MAJOR = load_company_lists()["major_brands"]
# The words of the seeds that restrict a sentence to some companies (docs/policies.md).
COMPANY_WORDS = ("主要快递品牌企业", "重点快递企业")


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _context(t: PolicyTarget) -> tuple[str, str, str]:
    """(sentence before the quote, the quote, the rest of the quote's clause) in the seed.

    A sentence ends at 。; a clause at ， ； or 。 (the table's cells carry none of them).
    """
    text = _norm((SEEDS / t.source).read_text("utf-8"))
    quote = _norm(t.quote)
    i = text.index(quote)
    start = text.rfind("。", 0, i) + 1
    end = min((j for j in (text.find(c, i + len(quote)) for c in "，；。") if j >= 0),
              default=len(text))
    return text[start:i], quote, text[i + len(quote):end]


def _clause_before(before: str) -> str:
    """The part of the quote's own clause that precedes it."""
    cut = max(before.rfind(c) for c in "，；")
    return before[cut + 1:]


def _paragraph_opening(t: PolicyTarget) -> str:
    """The first characters of the seed paragraph (a line of text) holding the quote."""
    text = (SEEDS / t.source).read_text("utf-8")
    quote = _norm(t.quote)
    for line in text.splitlines():
        if quote in _norm(line):
            return _norm(line)[:8]
    return ""


@pytest.mark.parametrize("target", CATALOG.targets, ids=IDS)
def test_strength_follows_the_sentence(target: PolicyTarget) -> None:
    """Rule (docs/policies.md, strength): aspirational exactly when 力争 ("strive to") opens
    the sentence before or within the quote (it governs the rest of its sentence), 基本
    ("basically") or 推动 ("promote": the administration urges, the companies are not bound)
    stands in the quote's own clause, or 鼓励 ("encourage") opens the quote's paragraph;
    binding otherwise."""
    before, quote, after = _context(target)
    strive = "力争" in before or "力争" in quote
    clause = _clause_before(before) + quote + after
    basically = "基本" in clause or "推动" in clause
    encouraged = _paragraph_opening(target).startswith("鼓励")
    expected = "aspirational" if strive or basically or encouraged else "binding"
    assert target.strength == expected, (target.id, before[-40:], quote)


@pytest.mark.parametrize(("tid", "strength", "reading", "why"), [
    pytest.param("taizhou-2022-last-mile-outlet-filing", "binding", "inferred", "备案管理",
                 id="taizhou-filing-is-the-administrations-procedure"),
    pytest.param("liaocheng-2025-outlet-safety-officers", "aspirational", "literal", "推动",
                 id="liaocheng-tuidong-urges"),
    pytest.param("yrd-2020-direct-routes-to-national-key-cities", "aspirational", "literal",
                 "鼓励", id="yrd-direct-routes-under-guli"),
    pytest.param("yrd-2020-direct-routes-within-region", "aspirational", "literal", "鼓励",
                 id="yrd-direct-routes-within-region-under-guli"),
])
def test_weak_sentences_are_not_binding_figures(tid: str, strength: str, reading: str,
                                                why: str) -> None:
    """Issue 20: the three weak readings are marked aspirational or inferred, so a breach
    is shown and never paged, and the note gives the reason (the word it rests on)."""
    t = CATALOG.by_id(tid)
    assert (t.strength, t.reading) == (strength, reading)
    assert t.aspirational
    assert t.note is not None and why in t.note
    assert t.to_json()["reading"] == reading


@pytest.mark.parametrize("target", CATALOG.targets, ids=IDS)
def test_company_scope_follows_the_sentence(target: PolicyTarget) -> None:
    """Rule (docs/policies.md, company scope): a target whose clause speaks of 主要快递品牌企业
    or 重点快递企业 applies to the major brands list only; every other target to every
    company (None)."""
    before, quote, after = _context(target)
    clause = _clause_before(before) + quote + after
    restricted = any(w in clause for w in COMPANY_WORDS)
    assert target.companies == (MAJOR if restricted else None), target.id


# id, the sentence (verbatim, whitespace removed), expected strength.
STRENGTH_ROWS = [
    pytest.param("changzhou-2020-yrd-key-12h", "力争长三角地区内重点城市间12小时送达",
                 "aspirational", id="changzhou-12h-lizheng"),
    pytest.param("changzhou-2020-yrd-24h",
                 "力争长三角地区内重点城市间12小时送达、其他城市间24小时送达",
                 "aspirational", id="changzhou-24h-lizheng-governs-list"),
    pytest.param("changzhou-2020-national-key-48h",
                 "基本实现重点快递企业国内重点城市间48小时投递",
                 "aspirational", id="changzhou-48h-jiben"),
    pytest.param("taizhou-2022-national-key-48h", "重点快递企业国内重点城市间实现48小时送达",
                 "binding", id="taizhou-48h-no-qualifier"),
    pytest.param("taizhou-2022-village-delivery-frequency",
                 "力争通过三年努力，实现建制村电商快递服务站全覆盖，实现“村村通快递”率达到100%，"
                 "快递每周乡镇投递5次以上、进村投递3次以上", "aspirational",
                 id="taizhou-rural-sentence-lizheng"),
    pytest.param("taizhou-2022-e-waybill-share", "电子运单使用基本实现全覆盖", "aspirational",
                 id="taizhou-e-waybill-jiben"),
    pytest.param("taizhou-2022-recycled-bag-share", "主要快递品牌企业循环中转袋使用率达90%以上",
                 "binding", id="taizhou-bag-binding"),
    pytest.param("liaocheng-2025-annual-volume", "到2025年年底，力争全市邮政快递年业务量突破4亿件",
                 "aspirational", id="liaocheng-volume-lizheng"),
    pytest.param("yrd-2020-delay-rate", "快件延误率（千分之）—2—", "binding", id="yrd-table-row"),
    pytest.param("changzhou-2020-12305-acceptance", "“12305”申诉处理平台受理率达到100%",
                 "binding", id="changzhou-12305"),
]


@pytest.mark.parametrize(("tid", "sentence", "strength"), STRENGTH_ROWS)
def test_strength_of_quoted_sentences(tid: str, sentence: str, strength: str) -> None:
    """Hand-read: the sentence is in the seed and gives the target this strength."""
    t = CATALOG.by_id(tid)
    assert _norm(sentence) in _norm((SEEDS / t.source).read_text("utf-8"))
    assert t.strength == strength
    assert t.aspirational is (strength == "aspirational")


# id, company cell, judged? (the sentence decides the scope).
COMPANY_ROWS = [
    pytest.param("taizhou-2022-recycled-bag-share", "ZTO", True, id="bag-major-brand"),
    pytest.param("taizhou-2022-recycled-bag-share", "LOCALX", False, id="bag-other-company"),
    pytest.param("taizhou-2022-recycled-bag-share", "*", False, id="bag-all-companies-row"),
    pytest.param("taizhou-2022-national-key-48h", "SF", True, id="48h-major-brand"),
    pytest.param("taizhou-2022-national-key-48h", "*", False, id="48h-all-companies-row"),
    pytest.param("taizhou-2022-locker-share", "LOCALX", True, id="locker-any-company"),
    pytest.param("taizhou-2022-locker-share", "*", True, id="locker-all-companies-row"),
]


@pytest.mark.parametrize(("tid", "company", "judged"), COMPANY_ROWS)
def test_company_scope_in_judgement(tid: str, company: str, judged: bool) -> None:
    """主要快递品牌企业循环中转袋使用率达90%以上 (001 一(二)4) and 重点快递企业…48小时送达
    (001 一(二)2) are judged on each major brand's cells only: not on another company, and
    not on the all-companies row that also sums the others; 智能快件箱投递率 applies to all."""
    t = CATALOG.by_id(tid)
    found = CATALOG.for_cell("331000", t.metric, dt.date(2026, 11, 2), t.route_class, company)
    assert (t in found) is judged
    assert t.covers_company(company) is judged


def test_major_brands_are_the_configured_list(tmp_path: Path) -> None:
    """`companies: major_brands` resolves through data/companies.yaml, so editing that list
    changes every target that names it."""
    assert CATALOG.by_id("taizhou-2022-recycled-bag-share").companies == MAJOR
    assert "SF" in MAJOR and "ZTO" in MAJOR
    other = load_catalog(company_lists={"major_brands": ("ZTO",)})
    assert other.by_id("taizhou-2022-recycled-bag-share").companies == ("ZTO",)
    assert other.by_id("yrd-2020-national-key-48h").covers_company("SF") is False


DESIGN_FIELDS = {"id", "metric", "comparator", "threshold", "unit", "scope", "cities",
                 "companies", "strength", "effective", "source", "section", "quote"}
# Justified extras (docs/policies.md, export): how the figure is obtained, which route class
# an on-time target reads, the reading note, and whether the reading is literal or inferred.
EXTRA_FIELDS = {"measurable_by", "route_class", "note", "reading"}


def test_export_fields_are_design_fields() -> None:
    """`policies export` objects have exactly DESIGN.md's fields plus the documented extras;
    companies is null or a list of codes, strength binding or aspirational."""
    for row in CATALOG.export():
        assert set(row) == DESIGN_FIELDS | EXTRA_FIELDS, row["id"]
        assert row["companies"] is None or row["companies"] == list(MAJOR)
        assert row["strength"] in ("binding", "aspirational")


# The plans' horizons (their 发展目标 / 总体要求), read by the effective-date rule.
HORIZON = {"000_7b0928e13d512c50.txt": 2020, "001_9f9979403268b96b.txt": 2022,
           "002_859884e0d471a69c.txt": 2025, "003_919ced1e3435c65d.txt": 2020,
           "004_5f6d5c30ca0e718a.txt": 2025}
TAIZHOU_PUBLISHED = dt.date(2020, 8, 22)  # 台政办发〔2020〕32号, "本方案自发布之日起施行"


@pytest.mark.parametrize("target", CATALOG.targets, ids=IDS)
def test_effective_date_rule(target: PolicyTarget) -> None:
    """Rule (docs/policies.md, effective dates): "到YYYY年" and "到YYYY年年底" both give
    YYYY-01-01 (the year nearest before the clause in its sentence); a clause without a year
    takes the plan's horizon the same way, except Taizhou's standing tasks (二、工作任务),
    in force from publication as the plan says (本方案自发布之日起施行)."""
    before, quote, _ = _context(target)
    years = re.findall(r"到(20\d\d)年", before + quote)
    if years:
        assert target.effective == dt.date(int(years[-1]), 1, 1), target.id
    elif target.source == "001_9f9979403268b96b.txt" and target.section.startswith("二、"):
        assert "本方案自发布之日起施行" in _norm((SEEDS / target.source).read_text("utf-8"))
        assert target.effective == TAIZHOU_PUBLISHED, target.id
    else:
        assert target.effective == dt.date(HORIZON[target.source], 1, 1), target.id


@pytest.mark.parametrize(("tid", "sentence", "effective"), [
    pytest.param("liaocheng-2025-village-station-coverage", "到2025年年底，实现行政村全覆盖",
                 "2025-01-01", id="daonian-niandi-is-the-year"),
    pytest.param("wuhan-2025-outlet-recycling-devices",
                 "到2025年,包装废弃物回收装置实现网点全覆盖", "2025-01-01", id="daonian"),
    pytest.param("taizhou-2022-xray", "严格落实“收寄验视、实名收寄、过机安检”三项制度",
                 "2020-08-22", id="taizhou-in-force-from-publication"),
    pytest.param("taizhou-2022-locker-share", "智能快件箱投递率上升到12%以上", "2022-01-01",
                 id="taizhou-goal-for-2022"),
])
def test_effective_dates_of_quoted_sentences(tid: str, sentence: str, effective: str) -> None:
    """Hand-read: "到2025年年底" and "到2025年" are both the year 2025; Taizhou's standing
    tasks are in force from 2020-08-22, its 2022 goals from 2022."""
    t = CATALOG.by_id(tid)
    assert _norm(sentence) in _norm((SEEDS / t.source).read_text("utf-8"))
    assert t.effective.isoformat() == effective


APPEAL_KPIS = {"valid_complaint_rate", "complaint_acceptance_rate", "complaint_satisfaction"}


@pytest.mark.parametrize("target", CATALOG.targets, ids=IDS)
def test_appeals_and_company_complaints_are_apart(target: PolicyTarget) -> None:
    """申诉 (an appeal to the postal administration, 12305) is measured only by the appeal
    KPIs, 投诉 (a complaint to the company) only by company_complaint_satisfaction: no target
    conflates the two (000 二: "12305申诉处理平台受理率…消费者对企业处理投诉工作满意度…对邮政
    管理部门申诉工作满意度"; 003 专栏 "快件有效申诉率")."""
    if target.metric in APPEAL_KPIS:
        assert "申诉" in target.quote and "投诉" not in target.quote, target.id
    if target.metric == "company_complaint_satisfaction":
        assert "投诉" in target.quote and "申诉" not in target.quote, target.id
    if target.measurable_by == "events" and ("申诉" in target.quote or "投诉" in target.quote):
        assert target.metric in APPEAL_KPIS | {"company_complaint_satisfaction"}, target.id


@pytest.mark.parametrize(("tid", "metric"), [
    pytest.param("changzhou-2020-12305-acceptance", "complaint_acceptance_rate",
                 id="12305申诉处理平台受理率"),
    pytest.param("changzhou-2020-complaint-satisfaction", "company_complaint_satisfaction",
                 id="消费者对企业处理投诉工作满意度"),
    pytest.param("changzhou-2020-regulator-appeal-satisfaction", "complaint_satisfaction",
                 id="对邮政管理部门申诉工作满意度"),
    pytest.param("yrd-2020-valid-complaint-rate", "valid_complaint_rate", id="快件有效申诉率"),
])
def test_complaint_sentences_measure_their_channel(tid: str, metric: str) -> None:
    """Each of the four complaint sentences is measured from events on its own channel."""
    t = CATALOG.by_id(tid)
    assert (t.metric, t.measurable_by) == (metric, "events")


@pytest.mark.parametrize("target", CATALOG.targets, ids=IDS)
def test_names_say_what_is_measured(target: PolicyTarget) -> None:
    """年均增长 is an average over the plan period (metric average_annual_*); 邮政快递 counts
    postal and express items together (annual_postal_express_volume); a plain 快递业务量 is
    the express volume (annual_volume)."""
    quote = _norm(target.quote)
    if "年均增长" in quote:
        assert target.metric.startswith("average_annual_"), target.id
    if target.metric == "annual_volume":
        assert "邮政快递" not in quote, target.id
    if "邮政快递年业务量" in quote:
        assert target.metric == "annual_postal_express_volume", target.id


@pytest.mark.parametrize(("sentence", "tid"), [
    pytest.param("推动邮政快递企业在基层网点全面配备平安员",
                 "liaocheng-2025-outlet-safety-officers", id="pinganyuan-kept"),
    pytest.param("区域内主要城市与全国省会及重点城市之间实现直达",
                 "yrd-2020-direct-routes-to-national-key-cities", id="zhida-kept"),
    pytest.param("区域内主要城市间基本实现直达", "yrd-2020-direct-routes-within-region",
                 id="zhida-jiben-kept"),
    pytest.param("打造1-2家具有国际竞争力的世界知名快递品牌", "yrd-2020-world-renowned-brands",
                 id="world-brands-range"),
    pytest.param("根据地上总建筑面积配置20-50平方米的快递服务用房",
                 "changzhou-2020-new-development-express-room", id="rooms-20-50m2"),
    pytest.param("在校学生超过1万人的高等院校", "changzhou-2020-university-express-room",
                 id="university-room-50m2"),
    pytest.param("各县（市、区）要明确县级邮政管理责任主体", None, id="designation-not-kept"),
    pytest.param("建设市级邮政业安全中心", None, id="single-facility-not-kept"),
    pytest.param("进一步提高电子运单的使用比例", None, id="direction-not-kept"),
])
def test_non_numeric_rule(sentence: str, tid: str | None) -> None:
    """One rule for sentences without a figure: kept (>= 100 %) when they state an outcome
    for every member of a population of parcels, outlets, routes or places; not kept when
    they give a direction or designate an institution or build a single facility."""
    holders = [t.id for t in CATALOG.targets if _norm(sentence) in _norm(t.quote)
               or _norm(t.quote) in _norm(sentence)]
    if tid is None:
        assert holders == []
    else:
        assert tid in holders
        t = CATALOG.by_id(tid)
        assert t.comparator == ">="


@pytest.mark.parametrize(("text", "message"), [
    pytest.param("lists: {}\n", "expected a mapping 'lists'", id="no-lists"),
    pytest.param("lists:\n  major_brands: {codes: []}\n", "non-empty 'codes'", id="empty"),
    pytest.param("lists:\n  major_brands: {codes: [zto]}\n", "not brand codes", id="lower-case"),
])
def test_company_list_file_errors(tmp_path: Path, text: str, message: str) -> None:
    """A malformed companies.yaml is refused with a message naming the problem."""
    p = tmp_path / "companies.yaml"
    p.write_text(text, "utf-8")
    with pytest.raises(ValueError, match=message):
        load_company_lists(p)
