"""Message templates in zh and en: built-in defaults from files, an admin's edits from the DB."""

from __future__ import annotations

import html
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from string import Template
from typing import Any, Literal, get_args

import yaml
from sqlalchemy.ext.asyncio import async_sessionmaker

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
