"""Who may do what: one table of permissions per role, checked against the user's relation.

Every route asks ``can(principal, action, relation)`` through the helpers in
``server/routes/access.py``. ``relation`` is how the user stands to the job or interview the
action is about (see ``Relation``); global actions need ``Relation.NONE``. The table is the
single place to read or change the rules; docs/security.md ("Roles") explains it for people.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Literal, get_args

from server.auth import Principal

Role = Literal["admin", "recruiter", "hiring_manager", "interviewer", "auditor"]
ROLES: tuple[Role, ...] = get_args(Role)

JobRole = Literal["owner", "member"]
JOB_ROLES: tuple[JobRole, ...] = get_args(JobRole)
# Roles that can be members of a job; interviewers are assigned to single interviews instead.
JOB_MEMBER_ROLES: tuple[Role, ...] = ("recruiter", "hiring_manager")


class Relation(IntEnum):
    """How a user stands to a job or interview; a higher relation includes the lower ones."""

    NONE = 0
    ASSIGNED = 1  # the interview is assigned (shared) to the user
    MEMBER = 2  # a member of the job (of the interview's job)
    OWNER = 3  # an owner of the job

    @classmethod
    def of_job_role(cls, job_role: str) -> Relation:
        """The relation a ``job_members.role`` gives."""
        return cls.OWNER if job_role == "owner" else cls.MEMBER


Action = Literal[
    # global
    "users.manage",
    "jobs.create",
    "jobs.list",
    "templates.read",
    "candidates.create",
    "candidates.find",  # by email or phone; only candidates the user may see
    "interviews.list",
    "metrics.read",
    "audit.read",
    "compliance.read",
    "erasure.manage",
    # about one job
    "job.read",
    "job.edit",
    "job.settings",
    "job.calibrate",
    "job.members.edit",
    "job.interview.create",
    "job.pipeline.read",
    "job.pipeline.edit",
    # about one candidate
    "candidate.attach",
    "candidate.read",
    "candidate.erase",
    # about one interview
    "interview.view",
    "interview.observe",
    "interview.read",
    "interview.export",
    "interview.rate",
    "interview.note",
    "interview.ask",
    "interview.decide",
    "interview.feedback",
    "interview.manage",
    "interview.assign",
    "interview.delete",
    "interview.legal_hold",
    # integrations (issue 13)
    "keys.manage",
    "webhooks.manage",
    "job.results.export",
]
ACTIONS: tuple[Action, ...] = get_args(Action)

_N, _A, _M, _O = Relation.NONE, Relation.ASSIGNED, Relation.MEMBER, Relation.OWNER

# For each role: the actions it may take and the least relation each one needs.
PERMISSIONS: dict[str, dict[Action, Relation]] = {
    "admin": dict.fromkeys(ACTIONS, _N),
    "recruiter": {
        "jobs.create": _N,
        "jobs.list": _N,
        "templates.read": _N,
        "candidates.create": _N,
        "candidates.find": _N,
        "interviews.list": _N,
        "job.read": _M,
        "job.edit": _M,
        "job.settings": _M,
        "job.calibrate": _M,
        "job.members.edit": _O,
        "job.interview.create": _M,
        "job.pipeline.read": _M,
        "job.pipeline.edit": _M,
        "candidate.attach": _M,
        "candidate.read": _M,
        "interview.view": _A,
        "interview.observe": _A,
        "interview.read": _A,
        "interview.export": _A,
        "interview.rate": _A,
        "interview.note": _A,
        "interview.ask": _A,
        "interview.decide": _A,
        "interview.feedback": _A,
        "interview.manage": _A,
        "interview.assign": _M,
        "interview.delete": _M,
        "job.results.export": _M,
    },
    "hiring_manager": {
        "jobs.list": _N,
        "templates.read": _N,
        "interviews.list": _N,
        "job.read": _M,
        "candidate.read": _M,
        "job.pipeline.read": _M,
        "interview.view": _A,
        "interview.observe": _A,
        "interview.read": _A,
        "interview.rate": _A,
        "interview.note": _A,
        "interview.decide": _A,
    },
    "interviewer": {
        "interviews.list": _N,
        "interview.view": _A,
        "interview.observe": _A,
        "interview.rate": _A,
        "interview.note": _A,
    },
    "auditor": {
        "audit.read": _N,
        "compliance.read": _N,
    },
}

# -- API keys: scopes instead of a role ------------------------------------------------------

Scope = Literal[
    "interviews:read", "interviews:write", "results:read", "candidates:read", "webhooks:manage"
]
SCOPES: tuple[Scope, ...] = get_args(Scope)

# The actions each scope grants a key. Actions about one job or interview need the key's job
# restriction to include that job (Relation.MEMBER, see server/routes/access.py).
SCOPE_ACTIONS: dict[str, frozenset[Action]] = {
    "interviews:read": frozenset({"jobs.list", "job.read", "interviews.list", "interview.view"}),
    "interviews:write": frozenset(
        {
            "jobs.list",
            "templates.read",
            "job.read",
            "candidates.create",
            "candidate.attach",
            "job.interview.create",
            "interviews.list",
            "interview.view",
            "interview.manage",
        }
    ),
    "results:read": frozenset(
        {
            "jobs.list",
            "job.read",
            "interviews.list",
            "interview.view",
            "interview.read",
            "interview.export",
            "job.results.export",
        }
    ),
    # Personal data (name, email, phone) in answers and webhook payloads.
    "candidates:read": frozenset({"candidates.find"}),
    "webhooks:manage": frozenset({"webhooks.manage"}),
}


def scope_allows(scopes: frozenset[str], action: Action) -> bool:
    """Whether any of ``scopes`` grants ``action``."""
    return any(action in SCOPE_ACTIONS.get(s, frozenset()) for s in scopes)


def _key_can(who: Principal, action: Action, relation: Relation) -> bool:
    scoped = action.split(".")[0] in ("job", "interview", "candidate")
    need = Relation.MEMBER if scoped else Relation.NONE
    return who.scopes is not None and scope_allows(who.scopes, action) and relation >= need


# What a refused user reads: the reason, and what to do next.
_REFUSAL: dict[str, str] = {
    "job": "Only this job's members may do this; ask the job's owner or an administrator "
    "to add you to the job.",
    "interview": "You do not have access to this interview; ask the job's owner or an "
    "administrator to add you to the job or assign the interview to you.",
    "candidate": "This candidate belongs to jobs you are not a member of; create a new "
    "candidate or ask the job's owner to add you.",
}


def can(who: Principal, action: Action, relation: Relation = Relation.NONE) -> bool:
    """Whether ``who`` may take ``action`` on something they stand to in ``relation``."""
    if who.is_key:
        return _key_can(who, action, relation)
    need = PERMISSIONS.get(who.role, {}).get(action)
    return need is not None and relation >= need


def role_allows(role: str, action: Action) -> bool:
    """Whether ``role`` may take ``action`` at all (with the best relation)."""
    return action in PERMISSIONS.get(role, {})


def refusal(who: Principal, action: Action) -> str:
    """A clear 403 message for a refused ``action``."""
    if who.is_key:
        if who.scopes is None or not scope_allows(who.scopes, action):
            return (
                f"This API key's scopes do not allow this ({action}); ask an administrator "
                "for a key with the scope that does (docs/integrations.md lists them)."
            )
        return (
            "This API key is restricted to other jobs; ask an administrator for a key "
            "that includes this job."
        )
    if not role_allows(who.role, action):
        name = who.role.replace("_", " ")
        return f"Your role ({name}) may not do this ({action}); ask an administrator."
    return _REFUSAL.get(action.split(".")[0], "You may not do this; ask an administrator.")
