"""Real Chromium: the observer page shows each event once, in order, and fills gaps from the log."""

from __future__ import annotations

from typing import Any

import pytest

from analysis.bus import InMemoryBus
from analysis.events import CandidateJoined, Event, TranscriptPartial
from server.event_log import EventLog
from server.services import SERVICES
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
