"""Pure parts of the workflow: stage moves, the candidate file reader, calendar entries, backoff."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import openpyxl
import pytest
from icalendar import Calendar

from server.workflow.ics import CalendarEntry, build_ics
from server.workflow.importer import ImportFileError, parse_upload
from server.workflow.outbox import backoff
from server.workflow.stages import (
    STAGES,
    Actor,
    Stage,
    TransitionError,
    allowed_moves,
    check_move,
)

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


# -- stages ------------------------------------------------------------------------------


def test_the_happy_path_is_allowed_step_by_step() -> None:
    assert check_move("screened", "invited", "person") == "invited"
    assert check_move("invited", "interview_started", "system") == "interview_started"
    assert check_move("interview_started", "interview_done", "system") == "interview_done"
    assert check_move("interview_done", "recommended", "scorer") == "recommended"
    assert check_move("recommended", "human_interview", "person") == "human_interview"
    assert check_move("human_interview", "decided", "person") == "decided"


@pytest.mark.parametrize("stage", STAGES)
def test_only_a_person_decides(stage: Stage) -> None:
    actors: tuple[Actor, ...] = ("system", "scorer")
    for actor in actors:
        with pytest.raises(TransitionError):
            check_move(stage, "decided", actor)
        assert "decided" not in allowed_moves(stage, actor)


def test_the_scorer_recommends_and_never_rejects_or_skips_ahead() -> None:
    assert set(allowed_moves("interview_done", "scorer")) == {"recommended", "below_threshold"}
    with pytest.raises(TransitionError):
        check_move("invited", "recommended", "scorer")
    with pytest.raises(TransitionError, match="Allowed"):
        check_move("screened", "interview_done", "person")


def test_unknown_stages_are_refused_with_the_list() -> None:
    with pytest.raises(TransitionError, match="Stages"):
        check_move("screened", "rejected", "person")


# -- candidate files -----------------------------------------------------------------------


def test_utf8_with_bom_and_gbk_read_the_same() -> None:
    text = "name,email,phone,tags\n张伟,zw@example.com,138 0013 8000,校招;Java\n"
    a = parse_upload(("\ufeff" + text).encode("utf-8"))
    b = parse_upload(text.encode("gbk"))
    assert a.rows == b.rows and not a.errors
    row = a.rows[0]
    assert (row.name, row.phone, row.tags) == ("张伟", "+8613800138000", ("校招", "Java"))


def test_every_bad_row_is_reported_with_its_number_and_field() -> None:
    data = (
        b"name,email,phone,colour\n"
        b"A,a@example.com,13800138000,red\n"
        b"B,not-an-email,13800138001,\n"
        b"C,c@example.com,12345,\n"
        b"D,A@Example.com,13800138003,\n"
        b"E,e@example.com,138-0013-8000,\n"
    )
    parsed = parse_upload(data)
    codes = {(e.row, e.code) for e in parsed.errors}
    assert codes == {
        (0, "unknown_column"),
        (2, "bad_email"),
        (3, "bad_phone"),
        (4, "duplicate_email"),
        (5, "duplicate_phone"),
    }
    assert [r.row for r in parsed.rows] == [1]


def test_a_missing_column_and_unreadable_bytes_are_clear() -> None:
    parsed = parse_upload(b"name,email\nA,a@example.com\n")
    assert [e.code for e in parsed.errors] == ["missing_column"]
    with pytest.raises(ImportFileError, match="UTF-8"):
        parse_upload(b"\xff\xfe\x00\xd8\x00\xdc\xff" * 3)


def test_xlsx_with_chinese_headers_and_numeric_phones() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["姓名", "邮箱", "手机号", "编号"])
    sheet.append(["李雷", "li@example.com", 13800138000, "E-1"])
    buf = io.BytesIO()
    book.save(buf)
    parsed = parse_upload(buf.getvalue(), "list.xlsx")
    assert not parsed.errors
    assert parsed.rows[0].phone == "+8613800138000" and parsed.rows[0].external_id == "E-1"


def test_ten_thousand_rows_parse() -> None:
    lines = ["name,email,phone"] + [f"P{i},p{i}@example.com,+86139{i:08d}" for i in range(10_000)]
    parsed = parse_upload("\n".join(lines).encode())
    assert len(parsed.rows) == 10_000 and not parsed.errors


# -- calendar entries ------------------------------------------------------------------------


def _entry(sequence: int = 0) -> CalendarEntry:
    return CalendarEntry(
        uid="invite-abc@candor",
        sequence=sequence,
        summary="Engineer: AI interview",
        description="Interview link: https://x/i/t",
        start=NOW,
        end=NOW + timedelta(days=3),
        timezone="Asia/Shanghai",
        organizer="hr@candor.test",
        attendees=("li@example.com",),
        url="https://x/i/t",
        alarm_at=NOW + timedelta(days=2),
    )


def test_a_request_has_uid_sequence_timezone_and_the_deadline_alarm() -> None:
    cal: Any = Calendar.from_ical(build_ics(_entry(), "REQUEST", NOW))
    assert cal["method"] == "REQUEST"
    event = cal.walk("VEVENT")[0]
    assert str(event["uid"]) == "invite-abc@candor" and int(event["sequence"]) == 0
    assert event["dtstart"].params["TZID"] == "Asia/Shanghai"
    assert event["dtstart"].dt == NOW and event["dtend"].dt == NOW + timedelta(days=3)
    assert [tz["tzid"] for tz in cal.walk("VTIMEZONE")] == ["Asia/Shanghai"]
    alarm = event.walk("VALARM")[0]
    assert alarm["trigger"].dt == NOW + timedelta(days=2)
    assert str(event["attendee"]) == "mailto:li@example.com"


def test_a_cancel_keeps_the_uid_bumps_the_sequence_and_drops_the_alarm() -> None:
    cal: Any = Calendar.from_ical(build_ics(_entry(1), "CANCEL", NOW))
    event = cal.walk("VEVENT")[0]
    assert cal["method"] == "CANCEL" and str(event["status"]) == "CANCELLED"
    assert str(event["uid"]) == "invite-abc@candor" and int(event["sequence"]) == 1
    assert not event.walk("VALARM")


# -- outbox backoff ------------------------------------------------------------------------


def test_retries_back_off_exponentially_up_to_a_cap() -> None:
    waits = [backoff(n, 30).total_seconds() for n in range(1, 6)]
    assert waits == [30, 60, 120, 240, 480]
    assert backoff(40, 30) == timedelta(hours=6)
