"""Message templates in zh and en: built-in defaults from files, an admin's edits from the DB."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from string import Template
from typing import Any, Literal, get_args

import yaml
from sqlalchemy.ext.asyncio import async_sessionmaker

from server.errors import BadInput
from server.storage.models import MessageTemplateRow

TemplateKey = Literal[
    "invite",
    "reminder",
    "expired",
    "cancel",
    "completion",
    "hr_completion",
    "human_interview",
    "human_interview_panel",
]
TEMPLATE_KEYS: tuple[TemplateKey, ...] = get_args(TemplateKey)
LANGUAGES = ("zh", "en")
_FOLDER = Path(__file__).resolve().parent / "templates"


@dataclass(frozen=True)
class MessageTemplate:
    """Subject, plain text and HTML of one message in one language."""

    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class RenderedMessage:
    """A message ready to send."""

    subject: str
    text: str
    html: str


@cache
def _defaults(language: str) -> dict[str, dict[str, str]]:
    data: dict[str, dict[str, str]] = yaml.safe_load(
        (_FOLDER / f"{language}.yaml").read_text("utf-8")
    )
    return data


def default_template(key: str, language: str) -> MessageTemplate:
    """The built-in template ``key`` in ``language`` (English when the language is unknown)."""
    raw = _defaults(language if language in LANGUAGES else "en")[key]
    return MessageTemplate(raw["subject"].strip(), raw["text"], raw["html"])


async def load_template(
    sessions: async_sessionmaker[Any], key: str, language: str
) -> MessageTemplate:
    """The admin's edited template if there is one, else the built-in one."""
    lang = language if language in LANGUAGES else "en"
    async with sessions() as session:
        row = await session.get(MessageTemplateRow, (key, lang))
    if row is None:
        return default_template(key, lang)
    return MessageTemplate(row.subject, row.text, row.html)


def render(template: MessageTemplate, values: dict[str, str]) -> RenderedMessage:
    """Fill the placeholders; values are escaped in the HTML part."""
    escaped = {k: html.escape(v) for k, v in values.items()}
    return RenderedMessage(
        subject=Template(template.subject).safe_substitute(values).replace("\n", " "),
        text=Template(template.text).safe_substitute(values),
        html=Template(template.html).safe_substitute(escaped),
    )


# What each template may use (the values its sender fills in), and what it must keep.
PLACEHOLDERS: dict[str, tuple[str, ...]] = {
    "invite": ("name", "job", "url", "deadline", "minutes", "privacy_url"),
    "reminder": ("name", "job", "url", "deadline"),
    "expired": ("name", "job", "deadline"),
    "cancel": ("name", "job"),
    "completion": ("name", "job"),
    "hr_completion": ("job", "review_url"),
    "human_interview": ("name", "job", "when", "where"),
    "human_interview_panel": ("job", "when", "where", "review_url", "focus"),
}
REQUIRED_IN_TEXT: dict[str, tuple[str, ...]] = {
    "invite": ("url",),
    "reminder": ("url",),
    "hr_completion": ("review_url",),
    "human_interview_panel": ("review_url",),
}
# Who gets each message and how: HR notices go to WeCom as the subject plus the sign-in link.
CHANNELS: dict[str, tuple[str, ...]] = {
    key: ("email", "wecom") if key == "hr_completion" else ("email",) for key in TEMPLATE_KEYS
}
LIMITS = {"subject": 500, "text": 20_000, "html": 50_000}
_UNSAFE_HTML = re.compile(r"<\s*(script|iframe|object|embed|form)\b|\son[a-z]+\s*=", re.I)


def sample_values(key: str, language: str) -> dict[str, str]:
    """Example values for a preview of template ``key`` (only those it may use)."""
    zh = language == "zh"
    link = "https://candor.example.com/i/SAMPLE-TOKEN"
    every = {
        "name": "张伟" if zh else "Alex Chen",
        "job": "后端工程师" if zh else "Backend engineer",
        "url": link,
        "deadline": "2026年12月05日 18:00 (Asia/Shanghai)" if zh else "05 Dec 2026, 18:00 (UTC)",
        "minutes": "25",
        "privacy_url": f"{link}#notice",
        "review_url": "https://candor.example.com/review/SAMPLE",
        "when": "2026年12月08日 10:00 (Asia/Shanghai)" if zh else "08 Dec 2026, 10:00 (UTC)",
        "where": "3 号会议室" if zh else "Room 3",
        "focus": "- 追问：系统设计的取舍" if zh else "- Probe: trade-offs in the system design",
    }
    return {k: every[k] for k in PLACEHOLDERS.get(key, ())}


def _bad(code: str, field: str, en: str, zh: str, **details: Any) -> BadInput:
    return BadInput(en, code=code, message_zh=zh, details={"field": field, **details})


def check_template(key: str, template: MessageTemplate) -> None:
    """Refuse a template that would send a broken message; 400 naming the field, zh and en."""
    allowed = PLACEHOLDERS.get(key, ())
    listed = ", ".join(f"${p}" for p in allowed)
    parts = {"subject": template.subject, "text": template.text, "html": template.html}
    for field_name, value in parts.items():
        if field_name != "html" and not value.strip():
            raise _bad(
                "empty_field",
                field_name,
                f"The {field_name} cannot be empty.",
                f"{_ZH_FIELD[field_name]}不能为空。",
            )
        if len(value) > LIMITS[field_name]:
            raise _bad(
                "too_long",
                field_name,
                f"The {field_name} is longer than {LIMITS[field_name]} characters.",
                f"{_ZH_FIELD[field_name]}超过 {LIMITS[field_name]} 个字符。",
            )
        parsed = Template(value)
        if not parsed.is_valid():
            raise _bad(
                "bad_placeholder",
                field_name,
                f"The {field_name} has a '$' that is not a placeholder: write $$ for a dollar "
                f"sign, or use one of {listed}.",
                f"{_ZH_FIELD[field_name]}中的 “$” 不是占位符：美元符号请写作 $$，或使用 {listed}。",
            )
        unknown = [p for p in parsed.get_identifiers() if p not in allowed]
        if unknown:
            raise _bad(
                "unknown_placeholder",
                field_name,
                f"The {field_name} uses ${unknown[0]}, which this message does not have. "
                f"Placeholders: {listed}.",
                f"{_ZH_FIELD[field_name]}使用了此消息没有的占位符 ${unknown[0]}。可用：{listed}。",
                placeholder=unknown[0],
                allowed=list(allowed),
            )
    if "\n" in template.subject.strip():
        raise _bad("bad_subject", "subject", "The subject must be one line.", "主题只能有一行。")
    for needed in REQUIRED_IN_TEXT.get(key, ()):
        if needed not in Template(template.text).get_identifiers():
            raise _bad(
                "missing_placeholder",
                "text",
                f"The text must contain ${needed}: without it the reader has no link to follow.",
                f"正文必须包含 ${needed}，否则收件人没有可以打开的链接。",
                placeholder=needed,
            )
    if _UNSAFE_HTML.search(template.html):
        raise _bad(
            "unsafe_html",
            "html",
            "The HTML may not contain scripts, frames, forms or on... event attributes.",
            "HTML 中不能包含脚本、框架、表单或 on... 事件属性。",
        )


_ZH_FIELD = {"subject": "主题", "text": "纯文本正文", "html": "HTML 正文"}
