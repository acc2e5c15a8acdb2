"""Voluntary self-identification for fairness checks: what is asked, stored, withdrawn, read.

A candidate may, after the interview, tell their gender and age band (each with "prefer not
to say"), with a consent of its own. The answers are sealed in ``self_identifications`` with
the interview's field key and are read back in exactly two places: the candidate's own
self-service data (``server/rights.py``) and the aggregated fairness analytics
(``server/reports/analytics.py``). Nothing here is given to the scorer, reviewers, raters,
reports, exports, webhooks or the event log. docs/fairness.md explains the whole flow.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.errors import BadInput, Gone
from server.services import Services
from server.storage.models import Interview, SelfIdentificationRow

Gender = Literal["female", "male", "another", "prefer_not_to_say"]
AgeBand = Literal["under_25", "25_34", "35_44", "45_54", "55_plus", "prefer_not_to_say"]
# The text the consent checkbox shows (web_client/i18n.js "sid_consent"); bump on change.
CONSENT_VERSION = "selfid-2026-11"
CATEGORIES: dict[str, tuple[str, ...]] = {
    "gender": get_args(Gender),
    "age_band": get_args(AgeBand),
}


class SelfIdentificationIn(BaseModel):
    """The optional form: both answers and the separate consent to keep them."""

    model_config = ConfigDict(extra="forbid")

    consent: bool
    consent_version: str
    gender: Gender = "prefer_not_to_say"
    age_band: AgeBand = "prefer_not_to_say"


async def record(svc: Services, interview_id: str, body: SelfIdentificationIn) -> None:
    """Store (or replace) the interview's self-identification; refused without consent."""
    if not body.consent:
        raise BadInput(
            "Tick the consent box to store these answers, or simply skip the form.",
            code="self_identification_consent",
            message_zh="如需保存这些回答，请勾选同意；也可以直接跳过。",
        )
    if body.consent_version != CONSENT_VERSION:
        raise BadInput(
            "The form has changed since the page was loaded; reload it and try again.",
            code="self_identification_version",
            message_zh="页面加载后表单已更新，请刷新后重试。",
        )
    async with svc.sessions() as session, session.begin():
        interview = await session.get(Interview, interview_id)
        if interview is None:
            raise Gone("This interview no longer exists.", code="interview_deleted")
        await session.execute(
            delete(SelfIdentificationRow).where(SelfIdentificationRow.interview_id == interview_id)
        )
        session.add(
            SelfIdentificationRow(
                interview_id=interview_id,
                candidate_id=interview.candidate_id,
                consent_version=CONSENT_VERSION,
                consented_at=svc.now(),
                data={"gender": body.gender, "age_band": body.age_band},
            )
        )


async def withdraw(
    svc: Services, *, interview_id: str | None = None, candidate_id: str | None = None
) -> int:
    """Delete the self-identification of one interview or of every interview of a person."""
    column = (
        SelfIdentificationRow.interview_id
        if interview_id is not None
        else SelfIdentificationRow.candidate_id
    )
    value = interview_id if interview_id is not None else candidate_id
    async with svc.sessions() as session, session.begin():
        result = await session.execute(delete(SelfIdentificationRow).where(column == value))
    return int(getattr(result, "rowcount", 0) or 0)


async def of_candidate(svc: Services, candidate_id: str) -> dict[str, dict[str, Any]]:
    """The person's own answers per interview id, for their self-service page only."""
    async with svc.sessions() as session:
        rows = (
            await session.scalars(
                select(SelfIdentificationRow).where(
                    SelfIdentificationRow.candidate_id == candidate_id
                )
            )
        ).all()
    return {
        r.interview_id: {
            **r.data,
            "consent_version": r.consent_version,
            "consented_at": r.consented_at.isoformat(),
        }
        for r in rows
    }


async def groups_for_analytics(
    sessions: async_sessionmaker[AsyncSession], interview_ids: Sequence[str]
) -> dict[str, dict[str, str]]:
    """Attribute -> group per interview id; for aggregation in analytics, nothing else."""
    if not interview_ids:
        return {}
    async with sessions() as session:
        rows = (
            await session.scalars(
                select(SelfIdentificationRow).where(
                    SelfIdentificationRow.interview_id.in_(list(interview_ids))
                )
            )
        ).all()
    return {
        r.interview_id: {k: str(r.data.get(k, "prefer_not_to_say")) for k in CATEGORIES}
        for r in rows
    }
