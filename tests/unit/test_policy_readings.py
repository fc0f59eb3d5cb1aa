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


@pytest.mark.parametrize("target", CATALOG.targets, ids=IDS)
def test_strength_follows_the_sentence(target: PolicyTarget) -> None:
    """Rule (docs/policies.md, strength): aspirational exactly when 力争 ("strive to") opens
    the sentence before or within the quote (it governs the rest of its sentence), or 基本
    ("basically") stands in the quote's own clause; binding otherwise."""
    before, quote, after = _context(target)
    strive = "力争" in before or "力争" in quote
    basically = "基本" in _clause_before(before) + quote + after
    expected = "aspirational" if strive or basically else "binding"
    assert target.strength == expected, (target.id, before[-40:], quote)


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
# an on-time target reads, and the reading note.
EXTRA_FIELDS = {"measurable_by", "route_class", "note"}


def test_export_fields_are_design_fields() -> None:
    """`policies export` objects have exactly DESIGN.md's fields plus the documented extras;
    companies is null or a list of codes, strength binding or aspirational."""
    for row in CATALOG.export():
        assert set(row) == DESIGN_FIELDS | EXTRA_FIELDS, row["id"]
        assert row["companies"] is None or row["companies"] == list(MAJOR)
        assert row["strength"] in ("binding", "aspirational")
