"""The batch contract (shared/contracts/batches.md) as data.

The province and the city deliver exactly this; ingestion, the generator and the tests
read it from here so that one table describes every dataset. Column kinds drive the row
rules: which columns are identity numbers, dates, amounts, coded sets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal[
    "op",
    "id_number",
    "uscc",
    "uscc_optional",
    "date",
    "timestamp",
    "period",
    "amount",
    "division",
    "code",
    "phone",
    "text",
]

SOURCES = ("province", "city")
ENCODINGS = ("utf-8", "gb18030")
MODES = ("snapshot", "delta")

# File rejection reasons, in the order the contract applies them.
FILE_REASONS = (
    "manifest_unreadable",
    "manifest_mismatch",
    "unknown_dataset",
    "file_missing",
    "sha256_mismatch",
    "bad_encoding",
    "bad_header",
    "truncated",
    "row_count_mismatch",
)

# Row rules, in the order the contract applies them.
ROW_REASONS = (
    "field_count",
    "missing_required",
    "bad_op",
    "bad_id_number",
    "bad_uscc",
    "bad_date",
    "bad_number",
    "unknown_division",
    "bad_code",
    "duplicate_key",
)


@dataclass(frozen=True)
class Column:
    name: str
    grade: int
    label: str
    kind: Kind = "text"
    codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Dataset:
    name: str
    label: str
    source: str
    mode: str
    owner: str
    key: tuple[str, ...]
    columns: tuple[Column, ...] = field(default_factory=tuple)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")

    @property
    def required(self) -> tuple[str, ...]:
        """Columns whose emptiness is `missing_required`, in column order."""
        req = set(self.key) | {"division_code"} | ({"op"} if self.mode == "delta" else set())
        return tuple(c for c in self.column_names if c in req)


_OP = Column("op", 1, "操作", "op", ("I", "U", "D"))
_UPDATED = Column("updated_at", 1, "更新时间", "timestamp")
_DIVISION = Column("division_code", 1, "区划代码", "division")

DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset(
            "household_registration", "户籍人口", "province", "snapshot", "gaj", ("id_number",),
            (
                Column("id_number", 4, "公民身份号码", "id_number"),
                Column("name", 3, "姓名"),
                Column("gender", 2, "性别", "code", ("1", "2", "9")),
                Column("birth_date", 2, "出生日期", "date"),
                Column("ethnicity", 3, "民族"),
                Column("household_id", 3, "户号"),
                Column("relation_to_head", 2, "与户主关系"),
                Column("address", 3, "户籍地址"),
                _DIVISION,
                Column("phone", 3, "联系电话", "phone"),
                _UPDATED,
            ),
        ),
        Dataset(
            "floating_population", "流动人口", "city", "delta", "gaj", ("id_number",),
            (
                _OP,
                Column("id_number", 4, "公民身份号码", "id_number"),
                Column("name", 3, "姓名"),
                Column("phone", 3, "联系电话", "phone"),
                Column("origin_division_code", 2, "户籍地县级代码"),
                Column("residence_address", 3, "居住地址"),
                _DIVISION,
                Column("registered_on", 1, "登记日期", "date"),
                Column("employer", 2, "工作单位"),
                Column("remarks", 3, "备注"),
                _UPDATED,
            ),
        ),
        Dataset(
            "social_insurance", "社保参保", "province", "delta", "rsj", ("id_number", "insurance_type"),
            (
                _OP,
                Column("id_number", 4, "公民身份号码", "id_number"),
                Column("name", 3, "姓名"),
                Column("insurance_type", 2, "险种", "code", ("110", "120", "310", "390", "410", "210")),
                Column("status", 1, "参保状态", "code", ("1", "2", "3")),
                Column("employer_uscc", 1, "参保单位统一社会信用代码", "uscc_optional"),
                Column("started_on", 2, "参保日期", "date"),
                _DIVISION,
                _UPDATED,
            ),
        ),
        Dataset(
            "enterprise_registry", "企业登记", "province", "snapshot", "scjgj", ("uscc",),
            (
                Column("uscc", 1, "统一社会信用代码", "uscc"),
                Column("enterprise_name", 1, "企业名称"),
                Column("legal_rep_name", 1, "法定代表人"),
                Column("legal_rep_id_number", 4, "法定代表人身份号码", "id_number"),
                Column("legal_rep_phone", 3, "法定代表人电话", "phone"),
                Column("registered_capital", 1, "注册资本(万元)", "amount"),
                Column("industry_code", 1, "国民经济行业分类"),
                Column("status", 1, "登记状态", "code", ("存续", "在业", "吊销", "注销", "迁出")),
                Column("established_on", 1, "成立日期", "date"),
                Column("address", 3, "住所"),
                _DIVISION,
                _UPDATED,
            ),
        ),
        Dataset(
            "disability_certificates", "残疾人证", "province", "snapshot", "cl", ("certificate_no",),
            (
                Column("certificate_no", 4, "残疾人证号"),
                Column("id_number", 4, "公民身份号码", "id_number"),
                Column("name", 3, "姓名"),
                Column("disability_type", 3, "残疾类别", "code", tuple("1234567")),
                Column("disability_grade", 3, "残疾等级", "code", tuple("1234")),
                Column("guardian_name", 3, "监护人姓名"),
                Column("guardian_phone", 3, "监护人电话", "phone"),
                _DIVISION,
                Column("issued_on", 2, "发证日期", "date"),
                _UPDATED,
            ),
        ),
        Dataset(
            "elderly_subsidy", "高龄津贴发放", "city", "snapshot", "mzj", ("id_number", "period"),
            (
                Column("id_number", 4, "公民身份号码", "id_number"),
                Column("name", 3, "姓名"),
                Column("period", 1, "发放月份", "period"),
                Column("amount", 2, "发放金额(元)", "amount"),
                Column("bank_account", 4, "银行账号"),
                _DIVISION,
                Column("paid_on", 2, "发放日期", "date"),
                _UPDATED,
            ),
        ),
        Dataset(
            "death_records", "死亡登记", "city", "delta", "mzj", ("id_number",),
            (
                _OP,
                Column("id_number", 4, "公民身份号码", "id_number"),
                Column("name", 3, "姓名"),
                Column("died_on", 3, "死亡日期", "date"),
                _DIVISION,
                Column("source_org", 2, "报告机构"),
                _UPDATED,
            ),
        ),
    )
}


def datasets_of(source: str) -> tuple[Dataset, ...]:
    return tuple(d for d in DATASETS.values() if d.source == source)


# --- checksums (GB 11643, GB 32100) -------------------------------------------------

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def id_check_char(first17: str) -> str:
    return ID_CHECK[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def upgrade_id15(id15: str) -> str:
    body = id15[:6] + "19" + id15[6:]
    return body + id_check_char(body)


def uscc_check_char(first17: str) -> str:
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]
