"""Seed data for the demo: regions, schools and communities (pure data).

Sources
-------
* Xiji county, Guyuan, Ningxia (西吉县): seed 003, 附件1
  "西吉县城乡义务教育共同体学校名单" -- 11 城乡义务教育共同体, each written
  "core school——member schools".
* Lianyun district, Lianyungang, Jiangsu (连云区): seed 002, 附件1
  "连云区中小学结对共建安排表" (2017) -- pairings grouped by form 市区共建 /
  区内共建 / 集团校共建, each a lead school (牵头学校) and its partners
  (共建学校).

What is real and what is invented
---------------------------------
* School names and the grouping of schools into communities come from the
  seeds. Xiji names are copied verbatim, including the seed's own
  inconsistencies ("红耀乡九年一贯制学校初中部" vs "红耀九年一贯制学校小学部",
  "三合九年一贯制学校…" without 乡/镇). Seed 002 is rendered in traditional
  characters; Lianyun names are written here in simplified characters.
* The 初中部 and 小学部 of a nine-year school are separate entries (kind
  "nine_year"): they belong to different communities in the seed.
* School codes, student counts and WGS-84 coordinates are INVENTED but
  plausible: county-town schools near 吉强镇 (35.965N 105.731E), township
  schools at their approximate township (all within ~35 km); Lianyun
  schools around 墟沟 (34.76N 119.43E). Counts: urban 1,500-3,500, rural
  150-900; every community stays within rule 001 §15 (≤ 9 schools and
  ≤ 15,000 students).
* The three 市区共建 lead schools (连云港市新海实验中学苍梧校区, 师专一附小,
  师专二附小) are city schools physically in 海州区 (~25 km from 墟沟) and
  are placed there; they carry region_code 320703 only because they appear
  in Lianyun's arrangement, which a `note` says. The seed names two of them
  as "…教育集团"; the school entry is the group's flagship school.
* Lianyun is a city district, but the island / mountain-village schools
  (连岛, 宿城, 陶庵, 南巷, 白果树) are marked "rural" with small counts; all
  other Lianyun schools are "urban".
* 集团校共建 "墟沟小学教育集团" lists 墟沟小学 itself as a member; here
  墟沟小学 is its core school, 连岛小学 and 海客瀛洲小学 are members.
  海客瀛洲小学 is "待建" (to be built): student_count 0, note "待建".
* A school named in several pairings (西苑中学, 云山小学, 海州湾小学,
  墟沟小学, 连岛小学) is one entry referenced by several communities.
* Teacher names are made up (common surnames of Ningxia and Jiangsu).

Code scheme: XJ-M.. Xiji middle, XJ-P.. Xiji primary, XJ-NM.. / XJ-NP..
the 初中部 / 小学部 of the same Xiji nine-year school (same number),
LY-M.. / LY-P.. Lianyun middle / primary; numbered in order of first
appearance in the seed tables.
"""

from dataclasses import dataclass
from typing import Final

__all__ = [
    "COMMUNITIES",
    "REGIONS",
    "SCHOOLS",
    "SUBJECTS",
    "TEACHER_NAMES",
    "SeedCommunity",
    "SeedRegion",
    "SeedSchool",
]


@dataclass(frozen=True)
class SeedRegion:
    code: str  # administrative division code, e.g. "64", "6404", "640422"
    name: str
    level: str  # "province" | "city" | "county"
    parent_code: str | None


@dataclass(frozen=True)
class SeedSchool:
    code: str  # unique, stable, readable, e.g. "XJ-M01", "LY-P03"
    name: str
    kind: str  # "primary" | "middle" | "nine_year" | "teaching_site"
    locality: str  # "urban" | "rural"
    student_count: int
    latitude: float  # WGS-84
    longitude: float
    region_code: str  # "640422" or "320703"
    note: str = ""


@dataclass(frozen=True)
class SeedCommunity:
    name: str
    mode: str  # "merged" | "co_built" | "collaborative"
    region_code: str
    core_school: str  # a SeedSchool.code
    member_schools: tuple[str, ...]  # SeedSchool.codes, core excluded
    source: str


_XJ: Final = "640422"
_LY: Final = "320703"
_HAIZHOU_NOTE: Final = "市属学校，位于海州区，按连云区结对共建安排表计入"

REGIONS: tuple[SeedRegion, ...] = (
    SeedRegion("64", "宁夏回族自治区", "province", None),
    SeedRegion("6404", "固原市", "city", "64"),
    SeedRegion(_XJ, "西吉县", "county", "6404"),
    SeedRegion("32", "江苏省", "province", None),
    SeedRegion("3207", "连云港市", "city", "32"),
    SeedRegion(_LY, "连云区", "county", "3207"),
)

# Columns: code, name, kind, locality, student_count, latitude, longitude,
# region_code[, note]
SCHOOLS: tuple[SeedSchool, ...] = (
    # ---- 西吉县: middle schools ------------------------------------------
    SeedSchool("XJ-M01", "西吉二中", "middle", "urban", 2900, 35.972, 105.724, _XJ),
    SeedSchool("XJ-M02", "兴隆中学", "middle", "rural", 860, 35.795, 105.782, _XJ),
    SeedSchool("XJ-M03", "兴平中学", "middle", "rural", 520, 36.052, 105.628, _XJ),
    SeedSchool("XJ-M04", "西吉三中", "middle", "urban", 2600, 35.958, 105.739, _XJ),
    SeedSchool("XJ-M05", "将台中学", "middle", "rural", 780, 35.905, 105.985, _XJ),
    SeedSchool("XJ-M06", "新营中学", "middle", "rural", 540, 35.842, 105.935, _XJ),
    SeedSchool("XJ-M07", "西吉五中", "middle", "urban", 2300, 35.977, 105.741, _XJ),
    SeedSchool("XJ-M08", "马莲中学", "middle", "rural", 480, 35.812, 105.872, _XJ),
    SeedSchool("XJ-M09", "什字中学", "middle", "rural", 450, 35.878, 105.618, _XJ),
    SeedSchool("XJ-M10", "西吉六中", "middle", "urban", 2100, 35.951, 105.722, _XJ),
    SeedSchool("XJ-M11", "沙沟中学", "middle", "rural", 430, 36.035, 105.935, _XJ),
    SeedSchool("XJ-M12", "西吉七中", "middle", "urban", 2400, 35.962, 105.752, _XJ),
    SeedSchool("XJ-M13", "偏城中学", "middle", "rural", 500, 36.165, 105.858, _XJ),
    SeedSchool("XJ-M14", "震湖中学", "middle", "rural", 410, 35.905, 105.512, _XJ),
    SeedSchool("XJ-M15", "袁河中学", "middle", "urban", 1600, 35.938, 105.708, _XJ),
    SeedSchool("XJ-M16", "平峰中学", "middle", "rural", 620, 36.062, 105.468, _XJ),
    SeedSchool("XJ-M17", "田坪中学", "middle", "rural", 390, 36.175, 105.572, _XJ),
    # ---- 西吉县: nine-year schools, 初中部 (NM) and 小学部 (NP) -----------
    SeedSchool(
        "XJ-NM01", "火石寨乡九年一贯制学校初中部", "nine_year", "rural", 310, 36.112, 105.742, _XJ
    ),
    SeedSchool(
        "XJ-NP01", "火石寨乡九年一贯制学校小学部", "nine_year", "rural", 420, 36.110, 105.744, _XJ
    ),
    SeedSchool(
        "XJ-NM02", "三合九年一贯制学校初中部", "nine_year", "rural", 280, 35.928, 105.842, _XJ
    ),
    SeedSchool(
        "XJ-NP02", "三合九年一贯制学校小学部", "nine_year", "rural", 360, 35.926, 105.844, _XJ
    ),
    SeedSchool(
        "XJ-NM03", "王民乡九年一贯制学校初中部", "nine_year", "rural", 260, 35.872, 105.805, _XJ
    ),
    SeedSchool(
        "XJ-NP03", "王民乡九年一贯制学校小学部", "nine_year", "rural", 330, 35.870, 105.807, _XJ
    ),
    SeedSchool(
        "XJ-NM04", "白崖乡九年一贯制学校初中部", "nine_year", "rural", 240, 36.095, 105.965, _XJ
    ),
    SeedSchool(
        "XJ-NP04", "白崖乡九年一贯制学校小学部", "nine_year", "rural", 310, 36.093, 105.967, _XJ
    ),
    SeedSchool(
        "XJ-NM05", "玉桥九年一贯制学校初中部", "nine_year", "rural", 230, 35.835, 105.655, _XJ
    ),
    SeedSchool(
        "XJ-NP05", "玉桥九年一贯制学校小学部", "nine_year", "rural", 290, 35.833, 105.657, _XJ
    ),
    SeedSchool(
        "XJ-NM06", "下堡九年一贯制学校初中部", "nine_year", "rural", 220, 35.752, 105.672, _XJ
    ),
    SeedSchool(
        "XJ-NP06", "下堡九年一贯制学校小学部", "nine_year", "rural", 270, 35.750, 105.674, _XJ
    ),
    SeedSchool(
        "XJ-NM07", "硝河乡九年一贯制学校初中部", "nine_year", "rural", 250, 35.792, 105.575, _XJ
    ),
    SeedSchool(
        "XJ-NP07", "硝河乡九年一贯制学校小学部", "nine_year", "rural", 300, 35.790, 105.577, _XJ
    ),
    SeedSchool(
        "XJ-NM08", "马建乡九年一贯制学校初中部", "nine_year", "rural", 270, 36.118, 105.412, _XJ
    ),
    SeedSchool(
        "XJ-NP08", "马建乡九年一贯制学校小学部", "nine_year", "rural", 340, 36.116, 105.414, _XJ
    ),
    SeedSchool(
        "XJ-NM09", "红耀乡九年一贯制学校初中部", "nine_year", "rural", 290, 35.985, 105.548, _XJ
    ),
    SeedSchool(
        "XJ-NP09", "红耀九年一贯制学校小学部", "nine_year", "rural", 350, 35.983, 105.550, _XJ
    ),
    # ---- 西吉县: primary schools ------------------------------------------
    SeedSchool("XJ-P01", "西吉一小", "primary", "urban", 3300, 35.966, 105.733, _XJ),
    SeedSchool("XJ-P02", "西吉八小", "primary", "urban", 1900, 35.948, 105.746, _XJ),
    SeedSchool("XJ-P03", "吉强镇中心小学", "primary", "urban", 1500, 35.985, 105.716, _XJ),
    SeedSchool("XJ-P04", "西湖乡中心小学", "primary", "rural", 420, 36.002, 105.662, _XJ),
    SeedSchool("XJ-P05", "西吉二小", "primary", "urban", 3000, 35.961, 105.727, _XJ),
    SeedSchool("XJ-P06", "马莲乡中心小学", "primary", "rural", 560, 35.815, 105.868, _XJ),
    SeedSchool("XJ-P07", "田坪乡中心小学", "primary", "rural", 380, 36.178, 105.568, _XJ),
    SeedSchool("XJ-P08", "震湖乡中心小学", "primary", "rural", 470, 35.902, 105.516, _XJ),
    SeedSchool("XJ-P09", "西吉三小", "primary", "urban", 2700, 35.970, 105.745, _XJ),
    SeedSchool("XJ-P10", "兴隆镇中心小学", "primary", "rural", 880, 35.792, 105.786, _XJ),
    SeedSchool("XJ-P11", "什字乡中心小学", "primary", "rural", 520, 35.881, 105.613, _XJ),
    SeedSchool("XJ-P12", "偏城乡中心小学", "primary", "rural", 540, 36.168, 105.853, _XJ),
    SeedSchool("XJ-P13", "西吉四小", "primary", "urban", 2500, 35.955, 105.735, _XJ),
    SeedSchool("XJ-P14", "将台堡镇中心小学", "primary", "rural", 820, 35.908, 105.981, _XJ),
    SeedSchool("XJ-P15", "沙沟乡中心小学", "primary", "rural", 460, 36.038, 105.931, _XJ),
    SeedSchool("XJ-P16", "西吉六小", "primary", "urban", 2200, 35.979, 105.728, _XJ),
    SeedSchool("XJ-P17", "兴平乡中心小学", "primary", "rural", 590, 36.055, 105.624, _XJ),
    SeedSchool("XJ-P18", "新营乡中心小学", "primary", "rural", 610, 35.845, 105.931, _XJ),
    SeedSchool("XJ-P19", "平峰镇中心小学", "primary", "rural", 740, 36.065, 105.463, _XJ),
    # ---- 连云区 (seed 002) --------------------------------------------------
    SeedSchool(
        "LY-M01",
        "连云港市新海实验中学苍梧校区",
        "middle",
        "urban",
        3200,
        34.596,
        119.212,
        _LY,
        _HAIZHOU_NOTE,
    ),
    SeedSchool("LY-M02", "西苑中学", "middle", "urban", 1800, 34.749, 119.414, _LY),
    SeedSchool(
        "LY-P01",
        "连云港师专一附小",
        "primary",
        "urban",
        3400,
        34.601,
        119.183,
        _LY,
        "牵头单位为连云港师专一附小教育集团；" + _HAIZHOU_NOTE,
    ),
    SeedSchool("LY-P02", "云山小学", "primary", "urban", 1600, 34.719, 119.386, _LY),
    SeedSchool(
        "LY-P03",
        "连云港师专二附小",
        "primary",
        "urban",
        3000,
        34.589,
        119.199,
        _LY,
        "牵头单位为连云港师专二附小教育集团；" + _HAIZHOU_NOTE,
    ),
    SeedSchool("LY-P04", "海州湾小学", "primary", "urban", 2200, 34.753, 119.404, _LY),
    SeedSchool("LY-P05", "墟沟小学", "primary", "urban", 3300, 34.759, 119.428, _LY),
    SeedSchool("LY-P06", "板桥小学", "primary", "urban", 1500, 34.681, 119.361, _LY),
    SeedSchool("LY-P07", "连岛小学", "primary", "rural", 260, 34.769, 119.476, _LY),
    SeedSchool("LY-P08", "临海路小学", "primary", "urban", 2000, 34.763, 119.418, _LY),
    SeedSchool("LY-P09", "院前小学", "primary", "urban", 1700, 34.723, 119.409, _LY),
    SeedSchool("LY-P10", "庙岭小学", "primary", "urban", 1500, 34.747, 119.446, _LY),
    SeedSchool("LY-P11", "南巷小学", "primary", "rural", 450, 34.655, 119.356, _LY),
    SeedSchool("LY-P12", "东港小学", "primary", "urban", 1900, 34.736, 119.452, _LY),
    SeedSchool("LY-P13", "陶庵小学", "primary", "rural", 280, 34.701, 119.412, _LY),
    SeedSchool("LY-P14", "宿城小学", "primary", "rural", 320, 34.713, 119.446, _LY),
    SeedSchool("LY-P15", "白果树小学", "primary", "rural", 380, 34.739, 119.394, _LY),
    SeedSchool("LY-M03", "东港中学", "middle", "urban", 1600, 34.739, 119.456, _LY),
    SeedSchool("LY-M04", "连云中学", "middle", "urban", 1500, 34.743, 119.468, _LY),
    SeedSchool("LY-M05", "新港中学", "middle", "urban", 1700, 34.741, 119.438, _LY),
    SeedSchool("LY-M06", "板桥中学", "middle", "urban", 1500, 34.684, 119.366, _LY),
    SeedSchool("LY-P16", "海客瀛洲小学", "primary", "urban", 0, 34.771, 119.409, _LY, "待建"),
)

COMMUNITIES: tuple[SeedCommunity, ...] = (
    # ---- 西吉县: 城乡义务教育共同体 (seed 003, 附件1) -------------------------
    SeedCommunity(
        "西吉二中城乡义务教育共同体",
        "co_built",
        _XJ,
        "XJ-M01",
        ("XJ-M02", "XJ-M03", "XJ-NM01"),
        "003 附件1 第1组",
    ),
    SeedCommunity(
        "西吉三中城乡义务教育共同体",
        "co_built",
        _XJ,
        "XJ-M04",
        ("XJ-M05", "XJ-M06", "XJ-NM02"),
        "003 附件1 第2组",
    ),
    SeedCommunity(
        "西吉五中城乡义务教育共同体",
        "co_built",
        _XJ,
        "XJ-M07",
        ("XJ-M08", "XJ-M09", "XJ-NM03"),
        "003 附件1 第3组",
    ),
    SeedCommunity(
        "西吉六中城乡义务教育共同体",
        "co_built",
        _XJ,
        "XJ-M10",
        ("XJ-M11", "XJ-NM04", "XJ-NM05"),
        "003 附件1 第4组",
    ),
    SeedCommunity(
        "西吉七中城乡义务教育共同体",
        "co_built",
        _XJ,
        "XJ-M12",
        ("XJ-M13", "XJ-M14", "XJ-NM06", "XJ-NM07"),
        "003 附件1 第5组",
    ),
    SeedCommunity(
        "袁河中学城乡义务教育共同体",
        "co_built",
        _XJ,
        "XJ-M15",
        ("XJ-M16", "XJ-M17", "XJ-NM08", "XJ-NM09"),
        "003 附件1 第6组",
    ),
    SeedCommunity(
        "西吉一小城乡义务教育共同体",
        "co_built",
        _XJ,
        "XJ-P01",
        ("XJ-P02", "XJ-P03", "XJ-P04", "XJ-NP09"),
        "003 附件1 第7组",
    ),
    SeedCommunity(
        "西吉二小城乡义务教育共同体",
        "co_built",
        _XJ,
        "XJ-P05",
        ("XJ-P06", "XJ-P07", "XJ-P08", "XJ-NP08", "XJ-NP07"),
        "003 附件1 第8组",
    ),
    SeedCommunity(
        "西吉三小城乡义务教育共同体",
        "co_built",
        _XJ,
        "XJ-P09",
        ("XJ-P10", "XJ-P11", "XJ-P12", "XJ-NP06"),
        "003 附件1 第9组",
    ),
    SeedCommunity(
        "西吉四小城乡义务教育共同体",
        "co_built",
        _XJ,
        "XJ-P13",
        ("XJ-P14", "XJ-P15", "XJ-NP04", "XJ-NP05", "XJ-NP01"),
        "003 附件1 第10组",
    ),
    SeedCommunity(
        "西吉六小城乡义务教育共同体",
        "co_built",
        _XJ,
        "XJ-P16",
        ("XJ-P17", "XJ-P18", "XJ-P19", "XJ-NP03", "XJ-NP02"),
        "003 附件1 第11组",
    ),
    # ---- 连云区: 市区共建 (seed 002, 附件1) -----------------------------------
    SeedCommunity(
        "连云港市新海实验中学苍梧校区结对共建共同体",
        "co_built",
        _LY,
        "LY-M01",
        ("LY-M02",),
        "002 附件1 市区共建",
    ),
    SeedCommunity(
        "连云港师专一附小教育集团结对共建共同体",
        "co_built",
        _LY,
        "LY-P01",
        ("LY-P02",),
        "002 附件1 市区共建",
    ),
    SeedCommunity(
        "连云港师专二附小教育集团结对共建共同体",
        "co_built",
        _LY,
        "LY-P03",
        ("LY-P04",),
        "002 附件1 市区共建",
    ),
    # ---- 连云区: 区内共建 ---------------------------------------------------
    SeedCommunity(
        "墟沟小学结对共建共同体",
        "co_built",
        _LY,
        "LY-P05",
        ("LY-P06", "LY-P07", "LY-P08"),
        "002 附件1 区内共建",
    ),
    SeedCommunity(
        "院前小学结对共建共同体",
        "co_built",
        _LY,
        "LY-P09",
        ("LY-P02", "LY-P10", "LY-P11"),
        "002 附件1 区内共建",
    ),
    SeedCommunity(
        "东港小学结对共建共同体",
        "co_built",
        _LY,
        "LY-P12",
        ("LY-P13", "LY-P14"),
        "002 附件1 区内共建",
    ),
    SeedCommunity(
        "海州湾小学结对共建共同体", "co_built", _LY, "LY-P04", ("LY-P15",), "002 附件1 区内共建"
    ),
    SeedCommunity(
        "东港中学结对共建共同体", "co_built", _LY, "LY-M03", ("LY-M04",), "002 附件1 区内共建"
    ),
    SeedCommunity(
        "西苑中学结对共建共同体",
        "co_built",
        _LY,
        "LY-M02",
        ("LY-M05", "LY-M06"),
        "002 附件1 区内共建",
    ),
    # ---- 连云区: 集团校共建 -------------------------------------------------
    SeedCommunity(
        "墟沟小学教育集团", "merged", _LY, "LY-P05", ("LY-P07", "LY-P16"), "002 附件1 集团校共建"
    ),
)

TEACHER_NAMES: tuple[str, ...] = (
    # surnames frequent in Ningxia (incl. Hui surnames)
    "马志强",
    "马秀兰",
    "杨海军",
    "王建国",
    "李淑芳",
    "张玉梅",
    "田永福",
    "海文斌",
    "苏明霞",
    "丁学军",
    "虎彦龙",
    "纳雪莲",
    "金海燕",
    "白春花",
    "哈国强",
    "冶成林",
    "马晓燕",
    "杨彩霞",
    "拓文华",
    "禹建平",
    "伏小红",
    "何振宇",
    "穆丽娜",
    "单永红",
    "罗永平",
    "赵红霞",
    "蒙海涛",
    "米雪梅",
    "锁建军",
    "王芳琴",
    # surnames frequent in Jiangsu
    "陈思远",
    "徐静怡",
    "朱立新",
    "孙雨婷",
    "周文杰",
    "吴晓玲",
    "胡海波",
    "沈佳怡",
    "顾志明",
    "陆婷婷",
    "蒋文涛",
    "钱玉珍",
    "许昊天",
    "刘晓东",
    "戴雪芹",
    "严俊峰",
    "葛春燕",
    "施晨阳",
    "韩冬梅",
    "吕一帆",
    "邵红梅",
    "黄子涵",
    "卢建华",
    "唐雅琴",
    "魏国栋",
    "范丽君",
    "孔令超",
    "潘宇航",
    "倪雅雯",
    "仲维平",
)

SUBJECTS: tuple[str, ...] = (
    "语文",
    "数学",
    "英语",
    "物理",
    "化学",
    "生物",
    "历史",
    "地理",
    "道德与法治",
    "音乐",
    "体育",
    "美术",
    "信息技术",
)
