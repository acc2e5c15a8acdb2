"""The pipeline's stages and the moves allowed between them: a pure table, no I/O.

``recommended`` and ``below_threshold`` are the scorer's recommendation, never a rejection;
``decided`` (advance, hold or reject) is reached only by a person.
"""

from __future__ import annotations

from typing import Literal, get_args

Stage = Literal[
    "screened",
    "invited",
    "interview_started",
    "interview_done",
    "recommended",
    "below_threshold",
    "human_interview",
    "decided",
]
STAGES: tuple[Stage, ...] = get_args(Stage)

# Who moves an application: a signed-in person, the system (invites, the live interview)
# or the scorer (its recommendation after the interview).
Actor = Literal["person", "system", "scorer"]


class TransitionError(Exception):
    """A move the pipeline does not allow; the message says what is allowed instead."""


# from-stage -> {to-stage: the actors that may make the move}
_P: frozenset[Actor] = frozenset({"person"})
_S: frozenset[Actor] = frozenset({"system"})
_PS: frozenset[Actor] = frozenset({"person", "system"})
_SC: frozenset[Actor] = frozenset({"scorer"})

MOVES: dict[Stage, dict[Stage, frozenset[Actor]]] = {
    "screened": {"invited": _PS},
    "invited": {"invited": _PS, "interview_started": _S, "screened": _P},
    "interview_started": {"interview_done": _S, "invited": _P},
    "interview_done": {
        "recommended": _SC,
        "below_threshold": _SC,
        "human_interview": _P,
        "decided": _P,
        "invited": _P,
    },
    "recommended": {"human_interview": _P, "decided": _P, "below_threshold": _SC},
    "below_threshold": {"human_interview": _P, "decided": _P, "recommended": _SC},
    "human_interview": {"decided": _P},
    "decided": {"human_interview": _P, "decided": _P},
}


def allowed_moves(stage: Stage, actor: Actor) -> list[Stage]:
    """The stages ``actor`` may move an application in ``stage`` to."""
    return [to for to, who in MOVES[stage].items() if actor in who]


def check_move(stage: str, to: str, actor: Actor) -> Stage:
    """``to`` as a Stage if ``actor`` may move an application from ``stage`` there; else raise."""
    if stage not in MOVES:
        raise TransitionError(f"Unknown stage '{stage}'.")
    if to not in MOVES:
        raise TransitionError(f"Unknown stage '{to}'. Stages: {', '.join(STAGES)}.")
    src: Stage = stage
    dst: Stage = to
    who = MOVES[src].get(dst)
    if who is None or actor not in who:
        if dst == "decided" and actor != "person":
            raise TransitionError("Only a person decides; the AI only recommends.")
        options = allowed_moves(src, actor)
        hint = ", ".join(options) if options else "none"
        raise TransitionError(
            f"An application in '{src}' cannot be moved to '{dst}' here. Allowed: {hint}."
        )
    return dst
