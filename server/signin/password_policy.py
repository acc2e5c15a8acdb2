"""Password policy: at least 12 characters, not a common password, not the email or name.

``common-passwords.txt`` holds the 10,000 most common passwords of the list Django ships
(``django/contrib/auth/common-passwords.txt.gz``, from Royce Williams' 2017 breach corpus).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from server.errors import BadInput

MIN_LENGTH = 12
MAX_LENGTH = 1024
_LIST = Path(__file__).resolve().parent / "common-passwords.txt"


@dataclass(frozen=True)
class PolicyError:
    """Why a password was refused: a stable code and the message in English and Chinese."""

    code: str
    en: str
    zh: str


TOO_SHORT = PolicyError(
    "password_too_short",
    f"Choose a password of at least {MIN_LENGTH} characters; a few unrelated words work well.",
    f"密码至少需要 {MIN_LENGTH} 个字符；几个不相关的词组合起来就很好。",
)
TOO_LONG = PolicyError(
    "password_too_long",
    f"Choose a password of at most {MAX_LENGTH} characters.",
    f"密码不能超过 {MAX_LENGTH} 个字符。",
)
COMMON = PolicyError(
    "password_common",
    "This password is one of the most common ones; choose one that is harder to guess.",
    "这是最常见的密码之一，请换一个更难猜到的密码。",
)
PERSONAL = PolicyError(
    "password_personal",
    "The password must not be or contain your email address or name; choose another one.",
    "密码不能是或包含您的邮箱地址或姓名，请换一个。",
)


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords, lower-cased."""
    return frozenset(line.strip().lower() for line in _LIST.read_text().splitlines() if line)


def _squash(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.lower())


def policy_error(password: str, *, email: str = "", name: str = "") -> PolicyError | None:
    """The first rule ``password`` breaks, or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return TOO_SHORT
    if len(password) > MAX_LENGTH:
        return TOO_LONG
    lowered = password.lower()
    if lowered in common_passwords() or _squash(password) in common_passwords():
        return COMMON
    squashed = _squash(password)
    local = _squash(email.partition("@")[0])
    for part in (_squash(email), local, _squash(name)):
        if len(part) >= 4 and part in squashed:
            return PERSONAL
    return None


class WeakPassword(BadInput):
    """A password refused by the policy; the message says what to choose instead."""

    def __init__(self, error: PolicyError) -> None:
        super().__init__(f"{error.en} / {error.zh}", code=error.code)
        self.error = error


def check_password(password: str, *, email: str = "", name: str = "") -> None:
    """Raise :class:`WeakPassword` (400) unless ``password`` satisfies the policy."""
    error = policy_error(password, email=email, name=name)
    if error is not None:
        raise WeakPassword(error)
