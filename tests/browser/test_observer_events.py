"""Real Chromium: the observer page shows each event once, in order, and fills gaps from the log."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from analysis.bus import InMemoryBus
from analysis.events import CandidateJoined, Event, QuestionInjected, TranscriptPartial
from server.event_log import EventLog
from server.services import SERVICES
from server.session_inputs import Shutdown
from tests.browser.conftest import LiveServer
from tests.browser.test_live_room import sign_in_page
from tests.server.helpers import new_interview

pytestmark = pytest.mark.browser

TIMELINE = """() => [...document.querySelectorAll('#timeline li[data-type=candidate_joined]')]
  .map((li) => li.querySelector('.what').textContent)"""


class UnpublishedBus(InMemoryBus):
    """Stores through the real log but loses the live event (a dropped bus message)."""

    async def _send(self, event: Event) -> None:
        raise ConnectionError("lost on the way")


async def test_observer_drops_duplicates_and_catches_up_on_a_gap(
    live_server: LiveServer,
    browser_factory: Any,
) -> None:
    iv = await new_interview(live_server.api)
    svc = live_server.api.app[SERVICES]
    ctx = await browser_factory("observer")
    page = await ctx.new_page()
    await sign_in_page(page, live_server.url, f"/observe/{iv['id']}")
    await page.wait_for_function("() => window.candorEvents !== undefined")

    await svc.events.append(CandidateJoined(interview_id=iv["id"], segment=1))
    await page.wait_for_function("() => window.candorEvents.lastSeq === 1")
    # Event 2 is stored but never reaches the page; event 3 arrives live and shows the gap.
    await EventLog(svc.sessions, UnpublishedBus()).append(
        CandidateJoined(interview_id=iv["id"], segment=2)
    )
    await svc.events.append(CandidateJoined(interview_id=iv["id"], segment=3))
    await page.wait_for_function("() => window.candorEvents.lastSeq === 3")
    # Event 3 again (a redelivery) and a live-only partial: the first is dropped.
    [third] = await svc.events.history(iv["id"], after=2)
    await svc.bus.publish(third)
    await svc.events.append(TranscriptPartial(interview_id=iv["id"], utterance_id="u", text="hi"))
    await page.wait_for_selector("#transcript p.partial")

    shown = await page.evaluate(TIMELINE)
    assert shown == [f"candidate joined (segment {n})" for n in (1, 2, 3)]
    stats = await page.evaluate(
        "({catchUps: window.candorEvents.catchUps, duplicates: window.candorEvents.duplicates})"
    )
    # Duplicates: the held live event 3 (the catch-up already brought it) and the redelivery.
    assert stats == {"catchUps": 1, "duplicates": 2}


async def test_observer_page_sends_a_question_again_after_a_handover_and_it_is_asked_once(
    live_server: LiveServer,
    browser_factory: Any,
) -> None:
    """A question whose reply was lost with the socket (the interview moved) is sent again.

    The page keeps it until the server answers ``question_received``; after reconnecting it
    sends it again with the same id, and the interview's next session asks it once.
    """
    iv = await new_interview(live_server.api)
    svc = live_server.api.app[SERVICES]
    ctx = await browser_factory("observer")
    page = await ctx.new_page()
    await sign_in_page(page, live_server.url, f"/observe/{iv['id']}")
    await page.wait_for_function("() => window.candorUnanswered === 0")
    async with asyncio.timeout(20):
        while True:  # the page's socket attached the interview's session
            session = svc.live.find(iv["id"])
            if session is not None:
                break
            await asyncio.sleep(0.05)

    # The interview is handed over as the question goes: its socket is closed (1012).
    session.submit(Shutdown(handover=True))
    await page.fill("#inject-text", "Asked across the handover?")
    await page.click("#inject-form button[type=submit]")
    await page.wait_for_function("() => window.candorUnanswered === 0", timeout=30_000)
    asked = await svc.events.history(iv["id"], ["question_injected"])
    assert [e.text for e in asked if isinstance(e, QuestionInjected)] == [
        "Asked across the handover?"
    ]
    assert len(asked) == 1
