"""Named company lists (`courierwatch/data/companies.yaml`): who "the major brands" are.

The seeds' 主要快递品牌企业 and 重点快递企业 name no companies; the packaged file gives our
documented, configurable reading (see the file's header and docs/policies.md). Targets and
route classes name a list instead of repeating its codes, so one edit changes both.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import yaml

_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,15}")  # a scan.v1 brand code


def load_company_lists(path: Path | None = None) -> dict[str, tuple[str, ...]]:
    """{list name: brand codes} from `path`, or the packaged companies.yaml when None.

    Raises ValueError for a file without `lists`, a list without codes, or a code that is not
    a scan.v1 brand code (upper case, at most 16 characters).
    """
    text = (path.read_text("utf-8") if path is not None else
            resources.files("courierwatch").joinpath("data/companies.yaml").read_text("utf-8"))
    doc = yaml.safe_load(text)
    lists = doc.get("lists") if isinstance(doc, dict) else None
    if not isinstance(lists, dict) or not lists:
        raise ValueError("company lists: expected a mapping 'lists' of named lists")
    out: dict[str, tuple[str, ...]] = {}
    for name, entry in lists.items():
        codes = entry.get("codes") if isinstance(entry, dict) else None
        if not isinstance(codes, list) or not codes:
            raise ValueError(f"company list {name}: expected a non-empty 'codes' list")
        bad = [c for c in codes if not isinstance(c, str) or not _CODE.fullmatch(c)]
        if bad:
            raise ValueError(f"company list {name}: not brand codes: {bad}")
        out[str(name)] = tuple(codes)
    return out
