"""RFC 5545 calendar entries for invitations: REQUEST with a stable UID, CANCEL on revoke."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Literal
from zoneinfo import ZoneInfo

from icalendar import Alarm, Calendar, Event, Timezone, vCalAddress, vText

Method = Literal["REQUEST", "CANCEL"]


@dataclass(frozen=True)
class CalendarEntry:
    """What one calendar entry says; ``uid`` stays the same for the life of one invite."""

    uid: str
    sequence: int
    summary: str
    description: str
    start: datetime
    end: datetime
    timezone: str
    organizer: str
    attendees: tuple[str, ...]
    url: str = ""
    location: str = ""
    alarm_at: datetime | None = None  # an absolute reminder (the deadline coming up)


def build_ics(entry: CalendarEntry, method: Method, stamp: datetime) -> str:
    """The calendar text (CRLF lines) for ``entry`` with ``method``."""
    tz = ZoneInfo(entry.timezone)
    cal = Calendar()
    cal.add("prodid", "-//Candor//Interview invitation//EN")
    cal.add("version", "2.0")
    cal.add("method", method)
    event = Event()
    event.add("uid", entry.uid)
    event.add("sequence", entry.sequence)
    event.add("dtstamp", stamp.replace(microsecond=0))
    event.add("dtstart", entry.start.astimezone(tz).replace(microsecond=0))
    event.add("dtend", entry.end.astimezone(tz).replace(microsecond=0))
    event.add("summary", entry.summary)
    event.add("description", entry.description)
    if entry.url:
        event.add("url", entry.url)
    if entry.location:
        event.add("location", entry.location)
    organizer = vCalAddress(f"mailto:{entry.organizer}")
    organizer.params["cn"] = vText("Candor")
    event["organizer"] = organizer
    for address in entry.attendees:
        attendee = vCalAddress(f"mailto:{address}")
        attendee.params["role"] = vText("REQ-PARTICIPANT")
        attendee.params["rsvp"] = vText("FALSE")
        event.add("attendee", attendee, encode=False)
    if method == "CANCEL":
        event.add("status", "CANCELLED")
    else:
        event.add("status", "CONFIRMED")
        if entry.alarm_at is not None:
            alarm = Alarm()
            alarm.add("action", "DISPLAY")
            alarm.add("description", entry.summary)
            alarm.add(
                "trigger",
                entry.alarm_at.astimezone(ZoneInfo("UTC")).replace(microsecond=0),
                parameters={"VALUE": "DATE-TIME"},
            )
            event.add_component(alarm)
    cal.add_component(event)
    for tzid in sorted(cal.get_missing_tzids()):
        cal.subcomponents.insert(0, vtimezone(tzid))
    text: str = cal.to_ical().decode("utf-8")
    return text


@cache
def vtimezone(tzid: str) -> Timezone:
    """The VTIMEZONE of ``tzid`` (1970-2038), made once: building it took ~90 ms per message.

    The component is shared by every calendar that uses the zone and only ever read.
    """
    return Timezone.from_tzid(tzid)


def default_alarm(deadline: datetime, before: timedelta, now: datetime) -> datetime | None:
    """The reminder time ``before`` the deadline, if it is still ahead."""
    at = deadline - before
    return at if at > now else None
