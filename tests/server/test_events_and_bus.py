"""Typed events and both bus implementations (Redis against the real server)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from pydantic import ValidationError

from analysis.bus import EventBus, InMemoryBus, RedisBus
from analysis.events import (
    CandidateJoined,
    QuestionInjected,
    TranscriptFinal,
    WordTiming,
    parse_event,
)


def test_events_round_trip_through_json_by_type() -> None:
    ev = TranscriptFinal(
        interview_id="iv",
        t=3.5,
        utterance_id="u1",
        text="hello",
        words=[WordTiming(word="hello", start=3.0, end=3.4, probability=0.9)],
        language="en",
    )
    back = parse_event(ev.model_dump_json())
    assert isinstance(back, TranscriptFinal) and back == ev


def test_unknown_or_incomplete_events_are_rejected() -> None:
    with pytest.raises(ValidationError):
        parse_event({"type": "made_up", "interview_id": "iv"})
    with pytest.raises(ValidationError):
        parse_event({"type": "question_injected", "interview_id": "iv"})


async def _exercise(bus: EventBus) -> None:
    iv1, iv2 = uuid.uuid4().hex, uuid.uuid4().hex
    async with bus.subscribe(iv1) as sub1, bus.subscribe(iv2) as sub2:
        await asyncio.sleep(0.05)
        await bus.publish(CandidateJoined(interview_id=iv1, segment=1))
        await bus.publish(
            QuestionInjected(interview_id=iv1, question_id="q", text="Why?", by="hr@x")
        )
        await bus.publish(CandidateJoined(interview_id=iv2, segment=7))
        got1 = [await sub1.get(2.0), await sub1.get(2.0)]
        got2 = await sub2.get(2.0)
    assert [type(e).__name__ for e in got1] == ["CandidateJoined", "QuestionInjected"]
    assert isinstance(got2, CandidateJoined) and got2.segment == 7
    assert await sub1.get(0.2) is None  # nothing from the other interview leaked in


async def test_in_memory_bus_delivers_per_interview_in_order() -> None:
    bus = InMemoryBus()
    await bus.start()
    await _exercise(bus)
    await bus.aclose()


async def test_slow_subscriber_drops_oldest_instead_of_blocking() -> None:
    bus = InMemoryBus()
    async with bus.subscribe("iv") as sub:
        for i in range(1100):
            await bus.publish(CandidateJoined(interview_id="iv", segment=i))
        first = await sub.get(1.0)
    assert sub.dropped == 100
    assert isinstance(first, CandidateJoined) and first.segment == 100


@pytest.mark.redis
async def test_redis_bus_delivers_per_interview_in_order() -> None:
    bus = RedisBus("redis://127.0.0.1:6379/0")
    await bus.start()
    try:
        await _exercise(bus)
    finally:
        await bus.aclose()


@pytest.mark.redis
async def test_redis_bus_reaches_a_second_process_bus() -> None:
    a, b = RedisBus("redis://127.0.0.1:6379/0"), RedisBus("redis://127.0.0.1:6379/0")
    await a.start()
    await b.start()
    try:
        iv = uuid.uuid4().hex
        async with b.subscribe(iv) as sub:
            await asyncio.sleep(0.05)
            await a.publish(CandidateJoined(interview_id=iv, segment=2))
            got = await sub.get(2.0)
        assert isinstance(got, CandidateJoined) and got.segment == 2
    finally:
        await a.aclose()
        await b.aclose()


@pytest.mark.redis
async def test_a_batch_of_events_reaches_another_process_in_order() -> None:
    a, b = RedisBus("redis://127.0.0.1:6379/0"), RedisBus("redis://127.0.0.1:6379/0")
    await a.start()
    await b.start()
    try:
        iv = uuid.uuid4().hex
        async with b.subscribe(iv) as sub:
            await asyncio.sleep(0.05)
            await a.publish_many([CandidateJoined(interview_id=iv, segment=i) for i in range(5)])
            got = [await sub.get(2.0) for _ in range(5)]
        assert [e.segment if isinstance(e, CandidateJoined) else None for e in got] == [
            0, 1, 2, 3, 4,
        ]
    finally:
        await a.aclose()
        await b.aclose()
    unstarted = RedisBus("redis://127.0.0.1:6379/0")  # no connection: counted, not raised
    await unstarted.publish_many([CandidateJoined(interview_id="iv", segment=i) for i in range(2)])
    assert unstarted.metrics.publish_failed == 2
