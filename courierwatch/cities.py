"""City registry: GB/T 2260 prefecture codes with Chinese and English names.

Only the cities the seeds name or the generator uses are listed; an unknown but
well-formed code is still a valid event city (it simply has no display name).
The Yangtze River Delta (长三角) of seed 003 is Shanghai, Jiangsu and Zhejiang:
codes starting 31, 32 or 33.
"""

from __future__ import annotations

from dataclasses import dataclass

YRD_PROVINCE_PREFIXES = ("31", "32", "33")
YRD_REGION = "YRD"


@dataclass(frozen=True, slots=True)
class City:
    code: str
    name_zh: str
    name_en: str
    province_zh: str

    @property
    def label(self) -> str:
        return f"{self.name_zh} {self.name_en}"


_CITIES = (
    City("110000", "北京", "Beijing", "北京"),
    City("120000", "天津", "Tianjin", "天津"),
    City("310000", "上海", "Shanghai", "上海"),
    City("320100", "南京", "Nanjing", "江苏"),
    City("320200", "无锡", "Wuxi", "江苏"),
    City("320300", "徐州", "Xuzhou", "江苏"),
    City("320400", "常州", "Changzhou", "江苏"),
    City("320500", "苏州", "Suzhou", "江苏"),
    City("320600", "南通", "Nantong", "江苏"),
    City("320700", "连云港", "Lianyungang", "江苏"),
    City("320800", "淮安", "Huai'an", "江苏"),
    City("320900", "盐城", "Yancheng", "江苏"),
    City("321000", "扬州", "Yangzhou", "江苏"),
    City("321100", "镇江", "Zhenjiang", "江苏"),
    City("321200", "泰州", "Taizhou (Jiangsu)", "江苏"),
    City("321300", "宿迁", "Suqian", "江苏"),
    City("330100", "杭州", "Hangzhou", "浙江"),
    City("330200", "宁波", "Ningbo", "浙江"),
    City("330300", "温州", "Wenzhou", "浙江"),
    City("330400", "嘉兴", "Jiaxing", "浙江"),
    City("330500", "湖州", "Huzhou", "浙江"),
    City("330600", "绍兴", "Shaoxing", "浙江"),
    City("330700", "金华", "Jinhua", "浙江"),
    City("330800", "衢州", "Quzhou", "浙江"),
    City("330900", "舟山", "Zhoushan", "浙江"),
    City("331000", "台州", "Taizhou (Zhejiang)", "浙江"),
    City("331100", "丽水", "Lishui", "浙江"),
    City("370100", "济南", "Jinan", "山东"),
    City("371500", "聊城", "Liaocheng", "山东"),
    City("410100", "郑州", "Zhengzhou", "河南"),
    City("420100", "武汉", "Wuhan", "湖北"),
    City("430100", "长沙", "Changsha", "湖南"),
    City("440100", "广州", "Guangzhou", "广东"),
    City("440300", "深圳", "Shenzhen", "广东"),
    City("500000", "重庆", "Chongqing", "重庆"),
    City("510100", "成都", "Chengdu", "四川"),
    City("610100", "西安", "Xi'an", "陕西"),
)

CITIES: dict[str, City] = {c.code: c for c in _CITIES}

# The provinces (and municipalities) of the registry's cities: 2-digit GB/T 2260 prefix ->
# Chinese and English name.
PROVINCES: dict[str, tuple[str, str]] = {
    "11": ("北京", "Beijing"), "12": ("天津", "Tianjin"), "31": ("上海", "Shanghai"),
    "32": ("江苏", "Jiangsu"), "33": ("浙江", "Zhejiang"), "37": ("山东", "Shandong"),
    "41": ("河南", "Henan"), "42": ("湖北", "Hubei"), "43": ("湖南", "Hunan"),
    "44": ("广东", "Guangdong"), "50": ("重庆", "Chongqing"), "51": ("四川", "Sichuan"),
    "61": ("陕西", "Shaanxi"),
}


def resolve_province(text: str) -> str:
    """The 2-digit prefix of a province given by its prefix, Chinese name (浙江, 浙江省) or
    English name (any case). Raises ValueError naming the known ones."""
    t = text.strip()
    if len(t) == 2 and t.isdigit() and t[0] != "0":
        return t
    low = t.lower().removesuffix(" province")
    for code, (zh, en) in PROVINCES.items():
        if t in (zh, zh + "省", zh + "市") or low == en.lower():
            return code
    raise ValueError(f"unknown province {text!r}; use a 2-digit code or one of: "
                     + ", ".join(f"{zh} {en} {c}" for c, (zh, en) in PROVINCES.items()))

# The seed cities: each has a plan of its own in ../shared/seeds/.
CHANGZHOU, TAIZHOU_ZJ, LIAOCHENG, WUHAN = "320400", "331000", "371500", "420100"
SEED_CITIES = (CHANGZHOU, TAIZHOU_ZJ, LIAOCHENG, WUHAN)


def is_yrd(code: str) -> bool:
    """True when the city is in Shanghai, Jiangsu or Zhejiang (seed 003's scope)."""
    return code[:2] in YRD_PROVINCE_PREFIXES


def city_label(code: str) -> str:
    """`台州 Taizhou (Zhejiang)` for a known code, the code itself otherwise."""
    if code == "*":
        return "* all cities"
    if code == YRD_REGION:
        return "长三角 YRD"
    city = CITIES.get(code)
    return city.label if city else code


def resolve_city(text: str) -> str:
    """Accept a code, a Chinese name or an English name (case-insensitive) and return the code.

    Raises ValueError for an unknown name, naming the known ones, so that `--city 台州`,
    `--city taizhou` and `--city 331000` all work at the command line. `Taizhou` alone is
    ambiguous (台州 Zhejiang vs 泰州 Jiangsu) and is refused with both codes listed.
    """
    t = text.strip()
    if t in CITIES or t == YRD_REGION or (t.isdigit() and len(t) == 6):
        return t
    if t.upper() == YRD_REGION or t == "长三角":
        return YRD_REGION
    low = t.lower()
    matches = [
        c.code
        for c in _CITIES
        if t == c.name_zh or low == c.name_en.lower() or low == c.name_en.lower().split(" (")[0]
    ]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        opts = " or ".join(f"{CITIES[m].name_zh} {m} ({CITIES[m].name_en})" for m in matches)
        raise ValueError(f"city {text!r} is ambiguous: {opts}; give the code or the "
                         "Chinese name")
    raise ValueError(f"unknown city {text!r}; use a 6-digit GB/T 2260 code or one of: "
                     + ", ".join(c.name_en for c in _CITIES))
