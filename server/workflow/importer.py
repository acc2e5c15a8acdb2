"""Read a candidate list (CSV in UTF-8 or GBK, or XLSX) into checked rows: pure, no database.

Every problem is reported per row (1 = the first data row after the header) so a recruiter can
fix the file; the caller writes nothing unless the whole file is clean.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from typing import Any

REQUIRED = ("name", "email", "phone")
OPTIONAL = ("external_id", "tags")
COLUMNS = REQUIRED + OPTIONAL
MAX_ROWS = 20_000
# Chinese header names a spreadsheet exported from an HR system often carries.
ALIASES = {
    "姓名": "name",
    "邮箱": "email",
    "电子邮箱": "email",
    "手机": "phone",
    "手机号": "phone",
    "电话": "phone",
    "编号": "external_id",
    "标签": "tags",
    "mobile": "phone",
}

_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
_PHONE_CHARS = re.compile(r"[\s\-().]")


@dataclass(frozen=True)
class RowError:
    """One problem with one row (``row`` 0 means the file as a whole)."""

    row: int
    field: str
    code: str
    message: str

    def as_json(self) -> dict[str, Any]:
        """The error as the API reports it."""
        return {"row": self.row, "field": self.field, "code": self.code, "message": self.message}


@dataclass(frozen=True)
class CandidateRow:
    """One clean row."""

    row: int
    name: str
    email: str
    phone: str
    external_id: str = ""
    tags: tuple[str, ...] = ()


@dataclass
class ParsedFile:
    """The clean rows and every error found."""

    rows: list[CandidateRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


class ImportFileError(Exception):
    """The file cannot be read at all (wrong format, no header)."""


def normalize_email(email: str) -> str:
    """The form an email is compared in."""
    return email.strip().lower()


def normalize_phone(phone: str) -> str:
    """Digits with an optional leading +; Chinese mobiles without +86 get it added."""
    value = _PHONE_CHARS.sub("", phone.strip())
    if value.startswith("00"):
        value = "+" + value[2:]
    if re.fullmatch(r"1[3-9]\d{9}", value):
        value = "+86" + value
    return value


def valid_phone(phone: str) -> bool:
    """A normalized phone number that looks dialable (E.164: + and 8-15 digits)."""
    return re.fullmatch(r"\+\d{8,15}", phone) is not None


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030 (a superset of GBK); else a clear error."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFileError("The file is neither UTF-8 nor GBK text; save it as CSV UTF-8.")


def table_from_csv(data: bytes) -> list[list[str]]:
    """The CSV's rows as lists of cells."""
    text = decode_text(data)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    return [row for row in csv.reader(io.StringIO(text), dialect)]


def table_from_xlsx(data: bytes) -> list[list[str]]:
    """The first sheet of an XLSX workbook as lists of cells (text)."""
    from zipfile import BadZipFile

    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ImportFileError("The file is not a readable XLSX workbook.") from exc
    try:
        sheet = book.worksheets[0]
        return [
            ["" if c is None else _cell_text(c) for c in row]
            for row in sheet.iter_rows(values_only=True)
        ]
    finally:
        book.close()


def _cell_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a phone typed as a number
    return str(value)


def parse_table(table: list[list[str]]) -> ParsedFile:
    """Check the header and every row; duplicates inside the file are errors too."""
    out = ParsedFile()
    table = [r for r in table if any(cell.strip() for cell in r)]
    if not table:
        raise ImportFileError("The file is empty; the first line must name the columns.")
    header = [ALIASES.get(h.strip(), h.strip().lower()) for h in table[0]]
    unknown = [h for h in header if h and h not in COLUMNS]
    for name in unknown:
        out.errors.append(
            RowError(
                0,
                name,
                "unknown_column",
                f"Unknown column '{name}'. Columns: {', '.join(COLUMNS)}.",
            )
        )
    missing = [c for c in REQUIRED if c not in header]
    for name in missing:
        out.errors.append(RowError(0, name, "missing_column", f"The column '{name}' is missing."))
    if missing:
        return out
    if len(table) - 1 > MAX_ROWS:
        raise ImportFileError(f"The file has more than {MAX_ROWS} rows; split it into parts.")
    index = {name: header.index(name) for name in COLUMNS if name in header}
    seen_email: dict[str, int] = {}
    seen_phone: dict[str, int] = {}
    for number, cells in enumerate(table[1:], start=1):

        def cell(name: str, cells: list[str] = cells) -> str:
            i = index.get(name)
            return cells[i].strip() if i is not None and i < len(cells) else ""

        errors: list[RowError] = []
        name = cell("name")
        email = normalize_email(cell("email"))
        phone = normalize_phone(cell("phone"))
        if not name:
            errors.append(RowError(number, "name", "missing_name", "The name is empty."))
        elif len(name) > 255:
            errors.append(RowError(number, "name", "bad_name", "The name is too long."))
        if not email and not phone:
            errors.append(
                RowError(number, "email", "no_contact", "Give an email or a mobile number.")
            )
        if email and (not _EMAIL.match(email) or len(email) > 255):
            errors.append(RowError(number, "email", "bad_email", "The email is not valid."))
        if phone and not valid_phone(phone):
            errors.append(RowError(number, "phone", "bad_phone", "The phone number is not valid."))
        if email and email in seen_email:
            errors.append(
                RowError(
                    number,
                    "email",
                    "duplicate_email",
                    f"The same email as row {seen_email[email]}.",
                )
            )
        if phone and phone in seen_phone:
            errors.append(
                RowError(
                    number,
                    "phone",
                    "duplicate_phone",
                    f"The same phone number as row {seen_phone[phone]}.",
                )
            )
        if email:
            seen_email.setdefault(email, number)
        if phone:
            seen_phone.setdefault(phone, number)
        if errors:
            out.errors.extend(errors)
            continue
        tags = tuple(t.strip() for t in re.split(r"[;,，；|]", cell("tags")) if t.strip())
        out.rows.append(CandidateRow(number, name, email, phone, cell("external_id")[:120], tags))
    return out


def parse_upload(data: bytes, filename: str = "", content_type: str = "") -> ParsedFile:
    """Parse an uploaded CSV or XLSX (told apart by name, type or the ZIP signature)."""
    is_xlsx = (
        filename.lower().endswith(".xlsx")
        or "spreadsheetml" in content_type
        or data[:4] == b"PK\x03\x04"
    )
    return parse_table(table_from_xlsx(data) if is_xlsx else table_from_csv(data))
