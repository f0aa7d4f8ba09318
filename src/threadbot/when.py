"""Time expressions and weekly posting slots.

Everything here is a pure function of its arguments: the current time comes in
as ``now`` (an aware datetime), never from the clock, so that tests and the
scheduler control time. Every instant returned is an aware UTC datetime.

Wall-clock rules, shared by :func:`parse_when` and :func:`next_slots`:

* A local time that does not exist (the spring-forward gap, e.g. 02:30 on
  2026-03-29 in Europe/Berlin) moves forward to the first instant after the
  gap, the moment the clocks jump to (03:00 CEST that day). A slot at 02:30
  therefore posts at 03:00 that day rather than being skipped; a slot at 03:00
  the same day falls on the same instant and counts once.
* A local time that happens twice (the fall-back overlap, e.g. 02:30 on
  2026-10-25 in Europe/Berlin) means its first occurrence (``fold=0``, still
  summer time). A slot there posts once, not twice.

Accepted time expressions (:func:`parse_when`; case does not matter):

* ``now``;
* ISO 8601 with an offset, ``2026-12-01T09:00:00+01:00`` or ``2026-12-01T08:00Z``,
  taken as written;
* a date and a time without an offset, ``2026-12-01T09:00``, ``2026-12-01 09:00``,
  ``2026-12-01 9:00``, ``2026-12-01 9am``, in the configured time zone;
* ``today 18:30``, ``tomorrow 09:00``, ``tomorrow 9am`` (an optional ``at`` may
  come before the time, and the day may follow it: ``9:30pm tomorrow``);
* a weekday, ``monday 09:00`` or ``mon 09:00``: the next such day and time
  strictly after now (today if that time is still ahead, else a week on);
  ``next friday 9am``: the first Friday after today (never today);
* a day of a month, ``1 dec 09:00``, ``dec 1 9am``, ``1 December 2026 09:00``,
  ``1st dec``: without a year, its next occurrence strictly after now; a weekday
  beside a date must agree with it (``Tue 1 Dec 2026 09:00``, as :func:`describe`
  writes it);
* a bare time, ``09:00`` or ``9:30pm``: its next occurrence strictly after now;
  ``noon`` is 12:00 and ``midnight`` 00:00, wherever a time may be;
* a delay, ``+2h``, ``+30m``, ``+1d``, ``+90s``, ``+1h30m``, ``+1w``, or
  ``in 2 hours``, ``in 1 hour 30 minutes``. ``m`` is minutes. Days and weeks are
  elapsed time (``+1d`` is exactly 24 hours later, even across a DST change).

``today``, ``yesterday`` and an explicit date may give a time in the past;
callers that need a future time check it (and :func:`describe` says "... ago").
``yesterday`` or ``last friday`` without a time, and any time more than ten years
before now, are refused as being in the past; a time more than ten years ahead
is refused as too far (this also keeps every instant inside the calendar that
Python's datetime can hold, years 1 to 9999 in every zone).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, available_timezones

from .config import did_you_mean
from .errors import ConfigError, UsageError

__all__ = [
    "Slot",
    "describe",
    "next_slots",
    "parse_slots",
    "parse_when",
    "resolve_timezone",
    "to_utc",
]

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_LONG_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAYS: dict[str, int] = {
    **{name: i for i, name in enumerate(DAY_NAMES)},
    **{name: i for i, name in enumerate(_LONG_DAY_NAMES)},
    "tues": 1, "thur": 3, "thurs": 3,
}
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_UNIT_SECONDS: dict[str, int] = {}
for _names, _seconds in (
    (("s", "sec", "secs", "second", "seconds"), 1),
    (("m", "min", "mins", "minute", "minutes"), 60),
    (("h", "hr", "hrs", "hour", "hours"), 3600),
    (("d", "day", "days"), 86400),
    (("w", "wk", "wks", "week", "weeks"), 7 * 86400),
):
    for _name in _names:
        _UNIT_SECONDS[_name] = _seconds

# Words a time expression may hold; a word close to one of these gets a "did you mean".
# A delay holds only units, so that "huors" suggests "hours", not "thurs".
_UNIT_WORDS = sorted({"and", *(name for name in _UNIT_SECONDS if len(name) > 2)})
_MONTH_NUMBERS: dict[str, int] = {}
for _number, _name in enumerate(("january", "february", "march", "april", "may", "june", "july",
                                 "august", "september", "october", "november", "december"),
                                start=1):
    _MONTH_NUMBERS[_name] = _MONTH_NUMBERS[_name[:3]] = _number
_MONTH_NUMBERS["sept"] = 9
_NAMED_TIMES = {"noon": time(12, 0), "midday": time(12, 0), "midnight": time(0, 0)}
_VOCABULARY = sorted({"now", "today", "tomorrow", "yesterday", "next", "last", "at", "in",
                      "am", "pm", "on", *_WEEKDAYS, *_UNIT_WORDS, *_MONTH_NUMBERS,
                      *_NAMED_TIMES})

_FORMS = ("Use 2026-12-01 09:00, tomorrow 09:00, next friday 9am, 1 dec 09:00, 18:30, noon, "
          "+2h, in 90 minutes or an ISO 8601 time such as 2026-12-01T09:00+01:00.")

# Further than this either way, a time is refused (see the module docstring).
_HORIZON = timedelta(days=10 * 366)

_TIME_24 = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")
_TIME_12 = re.compile(r"(\d{1,2})(?::(\d{2}))?(am|pm)")
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_DELAY_PART = re.compile(r"(\d+)\s*([a-z]+)")
_MONTH_WORD = "|".join(sorted(_MONTH_NUMBERS, key=len, reverse=True))
# "1 dec", "1st december 2026", "dec 1", "december 1st, 2026" (the year optional).
_DAY_MONTH = re.compile(
    rf"\b(?:(\d{{1,2}})(?:st|nd|rd|th)?\s+({_MONTH_WORD})\.?|({_MONTH_WORD})\.?\s+(\d{{1,2}})"
    rf"(?:st|nd|rd|th)?\b,?)(?:\s+(\d{{4}})\b)?(?!\s*:)")
_DELAY_GLUE = re.compile(r"[\s,]+|\band\b")


def _require_aware(value: datetime, name: str) -> None:
    # A naive datetime here is a programming error, not user input: fail loudly.
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, not {value!r}")


def to_utc(local: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant of a naive local wall-clock time in ``tz``.

    A time in a spring-forward gap becomes the first instant after the gap; a
    time that happens twice becomes its first occurrence (see the module
    docstring).
    """
    naive = local.replace(tzinfo=None, fold=0)
    instant = naive.replace(tzinfo=tz).astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) == naive:
        return instant
    # In a gap, the two folds straddle the transition; find it by bisection
    # (whole seconds: zone transitions never fall inside a second).
    a = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    b = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    lo, hi = min(a, b), max(a, b)
    before = lo.astimezone(tz).utcoffset()
    lo_s, hi_s = int(lo.timestamp()), int(hi.timestamp())
    while hi_s - lo_s > 1:
        mid = (lo_s + hi_s) // 2
        if datetime.fromtimestamp(mid, UTC).astimezone(tz).utcoffset() == before:
            lo_s = mid
        else:
            hi_s = mid
    return datetime.fromtimestamp(hi_s, UTC)


# --- parse_when -----------------------------------------------------------------


def _cannot_read(text: str, hint: str = "") -> UsageError:
    return UsageError(f"Cannot read the time {text!r}.{hint} {_FORMS}")


def _parse_clock(token: str, text: str) -> time | None:
    """``HH:MM[:SS]`` (24 h) or ``9am``/``9:30pm``; None if the token is no time at all."""
    if m := _TIME_24.fullmatch(token):
        hour, minute, second = int(m[1]), int(m[2]), int(m[3] or 0)
        if hour > 23 or minute > 59 or second > 59:
            raise UsageError(
                f"{token!r} in {text!r} is not a time of day: hours go from 00 to 23, "
                "minutes from 00 to 59. Write e.g. 09:00 or 18:30.")
        return time(hour, minute, second)
    if m := _TIME_12.fullmatch(token):
        hour, minute = int(m[1]), int(m[2] or 0)
        if not 1 <= hour <= 12 or minute > 59:
            raise UsageError(
                f"{token!r} in {text!r} is not a time of day: with am/pm, hours go from "
                "1 to 12. Write e.g. 9am, 9:30pm or 21:30.")
        return time(hour % 12 + (12 if m[3] == "pm" else 0), minute)
    return None


def _parse_date(token: str, text: str) -> date | None:
    if m := _DATE.fullmatch(token):
        try:
            return date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            where = "" if token.strip() == text.strip() else f" in {text!r}"
            raise UsageError(
                f"{token!r}{where} is not a date. Write the date as YYYY-MM-DD, "
                "e.g. 2026-12-01.") from None
    return None


def _parse_delay(body: str, text: str) -> timedelta | None:
    """``2h30m``, ``90 minutes``, ``1 hour and 30 minutes``; None if it is not a delay."""
    seconds = 0
    pos = 0
    found = False
    while pos < len(body):
        glue = _DELAY_GLUE.match(body, pos)
        if glue and glue.end() > pos:
            pos = glue.end()
            continue
        m = _DELAY_PART.match(body, pos)
        if not m or m[2] not in _UNIT_SECONDS:
            return None
        seconds += int(m[1]) * _UNIT_SECONDS[m[2]]
        found = True
        pos = m.end()
    if not found:
        return None
    if seconds > 10 * 366 * 86400:
        raise UsageError(f"{text!r} is more than ten years away. Give a nearer time.")
    return timedelta(seconds=seconds)


def _spelling_hint(words: Iterable[str], vocabulary: list[str] = _VOCABULARY) -> str:
    for word in words:
        if word.isalpha() and word not in vocabulary:
            hint = did_you_mean(word, vocabulary)
            if hint:
                return hint
    return ""


def parse_when(text: str, *, now: datetime, tz: ZoneInfo) -> datetime:
    """The instant ``text`` means, as an aware UTC datetime.

    ``now`` is the current time (aware); ``tz`` is the zone for times written
    without an offset. The accepted forms and the DST rules are in the module
    docstring. Raises :class:`UsageError`, listing the accepted forms, when
    ``text`` cannot be read, and saying so when it is in the past beyond
    recall (``yesterday``) or more than ten years away.
    """
    _require_aware(now, "now")
    now = now.astimezone(UTC)
    raw = " ".join(str(text).split())
    low = raw.lower()
    if not low:
        raise UsageError(f"No time given. {_FORMS}")
    try:
        instant = _parse_when(raw, low, now, tz)
    except (OverflowError, ValueError) as error:
        if isinstance(error, UsageError):
            raise
        # Beyond year 1 or 9999 once moved to UTC or the zone: far either way.
        year = _DATE.match(low)
        if year is not None and int(year[1]) < now.year:
            raise UsageError(f"{raw!r} is in the past, at the start of the calendar. Give a "
                             "time to come, e.g. --at 'tomorrow 09:00' or --at +2h.") from None
        raise UsageError(f"{raw!r} is more than ten years away, at the end of the calendar. "
                         "Give a nearer time, e.g. --at 'tomorrow 09:00'.") from None
    return _within_horizon(instant, raw, now)


def _within_horizon(instant: datetime, raw: str, now: datetime) -> datetime:
    if instant - now > _HORIZON:
        raise UsageError(f"{raw!r} is more than ten years away. Give a nearer time.")
    if now - instant > _HORIZON:
        raise UsageError(f"{raw!r} is in the past, more than ten years ago. Give a time to "
                         "come, e.g. --at 'tomorrow 09:00' or --at +2h.")
    return instant


def _in_the_past(raw: str) -> UsageError:
    return UsageError(f"{raw!r} is in the past. Give a time to come, e.g. --at 'tomorrow "
                      "09:00' or --at +2h (or --now to post as soon as the daemon runs).")


def _parse_when(raw: str, low: str, now: datetime, tz: ZoneInfo) -> datetime:
    if low == "now":
        return now

    # Delays: "+2h", "+1h 30m", "in 2 hours".
    if low.startswith("+") or low.startswith("in "):
        body = low[1:] if low.startswith("+") else low[3:]
        delay = _parse_delay(body.strip(), raw)
        if delay is None:
            raise _cannot_read(raw, _spelling_hint(re.findall(r"[a-z]+", body), _UNIT_WORDS))
        return now + delay

    # ISO 8601, including an offset or Z, with "T" or a space between date and time.
    if _DATE.match(low):
        _parse_date(low[:10], raw)  # a clear message for 2026-02-30
        if len(low) > 10 and low[10] in "t ":
            try:
                parsed = datetime.fromisoformat(raw.upper())
            except ValueError:
                parsed = None
            if parsed is not None:
                if parsed.tzinfo is not None:
                    return parsed.astimezone(UTC)
                return to_utc(parsed, tz)

    local_now = now.astimezone(tz)
    today = local_now.date()

    # A day of a month ("1 dec", "dec 1st, 2026"), read first: its number is no time.
    day_of_month: tuple[int, int, int | None] | None = None
    if found := _DAY_MONTH.search(low):
        number = int(found[1] or found[4])
        month = _MONTH_NUMBERS[found[2] or found[3]]
        year = int(found[5]) if found[5] else None
        try:
            date(year or 2024, month, number)  # 2024: a leap year, so 29 feb is a day
        except ValueError:
            raise UsageError(f"{found[0].strip()!r} in {raw!r} is not a date: that month has "
                             f"no day {number}.") from None
        day_of_month = (year or 0, month, number)
        low = f"{low[:found.start()]} {low[found.end():]}"

    # Words: an optional day (date, today, tomorrow, weekday), "at", and a time.
    tokens = low.replace(" am", "am").replace(" pm", "pm").split()
    day: str | date | int | tuple | None = day_of_month
    clock: time | None = None
    after: str | None = None  # "next" or "last", before a weekday
    named: int | None = None  # a weekday written beside a date
    for index, token in enumerate(tokens):
        if token in ("at", "on"):
            continue
        if token in ("next", "last"):
            if index + 1 < len(tokens) and tokens[index + 1] in _WEEKDAYS:
                after = token
                continue
            raise _cannot_read(raw, f" Write '{token}' before a weekday, e.g. 'next friday "
                                    "09:00'." if token == "next" else "")
        parsed_clock = _NAMED_TIMES.get(token) or _parse_clock(token, raw)
        if parsed_clock is not None:
            if clock is not None:
                raise _cannot_read(raw, " It holds two times.")
            clock = parsed_clock
            continue
        parsed_day: str | date | int | tuple | None = _parse_date(token, raw)
        if parsed_day is None and token in ("today", "tomorrow", "yesterday"):
            parsed_day = token
        if parsed_day is None and token in _WEEKDAYS:
            parsed_day = _WEEKDAYS[token]
        if parsed_day is None:
            if token.isdigit() and len([t for t in tokens if t != "at"]) <= 2:
                raise _cannot_read(raw, f" Write the time as {int(token):02d}:00 or "
                                        f"{token}am/{token}pm.")
            if _parse_delay(token, raw) is not None:
                raise _cannot_read(raw, f" For a delay from now, write +{token}.")
            raise _cannot_read(raw, _spelling_hint(tokens))
        if day is not None:
            # "Tue 1 Dec 2026 09:00", as `describe` writes it: a weekday with a date is
            # checked against it.
            pair = (day, parsed_day)
            weekday = next((d for d in pair if isinstance(d, int)), None)
            dated = next((d for d in pair if isinstance(d, date | tuple)), None)
            if weekday is None or dated is None or named is not None or after is not None:
                raise _cannot_read(raw, " It names two days.")
            named, day = weekday, dated
            continue
        day = parsed_day
    if day == "yesterday" or after == "last":
        if clock is None:
            raise _in_the_past(raw)
    if clock is None:
        raise _cannot_read(raw, f" Add a time of day, e.g. '{raw.strip()} 09:00'."
                           if day is not None else _spelling_hint(tokens))

    instant = _on_day(day, after, clock, today, now, tz)
    if named is not None and instant.astimezone(tz).weekday() != named:
        local = instant.astimezone(tz)
        raise UsageError(f"{raw!r} names a {_LONG_DAY_NAMES[named].title()}, but "
                         f"{_date_text(local)} is a {_LONG_DAY_NAMES[local.weekday()].title()}."
                         " Give the date or the weekday alone, or make them agree.")
    return instant


def _on_day(day, after: str | None, clock: time, today: date, now: datetime,
            tz: ZoneInfo) -> datetime:
    """The instant of ``clock`` on the day a time expression names (see
    ``_parse_when``): ``next``/``last`` a weekday, a day of a month, a weekday or
    none (the next such time), ``today``, ``tomorrow``, ``yesterday`` or a date."""
    if after == "last":
        assert isinstance(day, int)
        back = (today.weekday() - day) % 7 or 7
        return to_utc(datetime.combine(today - timedelta(days=back), clock), tz)
    if after == "next":
        assert isinstance(day, int)
        ahead = (day - today.weekday()) % 7 or 7
        return to_utc(datetime.combine(today + timedelta(days=ahead), clock), tz)
    if isinstance(day, tuple):
        year, month, number = day
        if year:
            return to_utc(datetime.combine(date(year, month, number), clock), tz)
        # Without a year: the next such day strictly after now (29 feb: the next leap year).
        for candidate_year in range(today.year, today.year + 9):
            try:
                candidate = date(candidate_year, month, number)
            except ValueError:
                continue
            instant = to_utc(datetime.combine(candidate, clock), tz)
            if instant > now:
                return instant
        raise AssertionError("unreachable: a day of a month recurs within eight years")
    if day is None or isinstance(day, int):
        # The next matching wall-clock time strictly after now. Checking eight
        # days covers a weekday a week on, plus a day whose time fell in a gap.
        for offset in range(9):
            candidate = today + timedelta(days=offset)
            if day is not None and candidate.weekday() != day:
                continue
            instant = to_utc(datetime.combine(candidate, clock), tz)
            if instant > now:
                return instant
        raise AssertionError("unreachable: a weekday and time recur within eight days")
    if day == "today":
        on = today
    elif day == "tomorrow":
        on = today + timedelta(days=1)
    elif day == "yesterday":
        on = today - timedelta(days=1)
    else:
        assert isinstance(day, date)
        on = day
    return to_utc(datetime.combine(on, clock), tz)


# --- weekly slots ---------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    """A weekly posting time: the weekdays (0 = Monday) and a local wall-clock time."""

    weekdays: frozenset[int]
    hour: int
    minute: int

    def __post_init__(self) -> None:
        if not self.weekdays or not self.weekdays <= frozenset(range(7)):
            raise ValueError(f"weekdays must be a non-empty subset of 0..6, not {self.weekdays}")
        if not (0 <= self.hour <= 23 and 0 <= self.minute <= 59):
            raise ValueError(f"not a time of day: {self.hour}:{self.minute}")

    def __str__(self) -> str:
        return f"{_days_text(self.weekdays)} {self.hour:02d}:{self.minute:02d}"


def _days_text(days: frozenset[int]) -> str:
    """``daily``, or runs of days Monday first: ``mon-fri``, ``sat,sun``, ``mon-wed,fri``."""
    if len(days) == 7:
        return "daily"
    parts: list[str] = []
    ordered = sorted(days)
    start = prev = ordered[0]
    for day in [*ordered[1:], None]:
        if day is not None and day == prev + 1:
            prev = day
            continue
        if prev - start >= 2:
            parts.append(f"{DAY_NAMES[start]}-{DAY_NAMES[prev]}")
        else:
            parts.extend(DAY_NAMES[d] for d in range(start, prev + 1))
        if day is not None:
            start = prev = day
    return ",".join(parts)


_DAY_GROUPS = {
    "daily": frozenset(range(7)),
    "everyday": frozenset(range(7)),
    "weekdays": frozenset(range(5)),
    "weekends": frozenset({5, 6}),
}
_SLOT_FORMS = ("Write a slot as days and a 24-hour time: 'mon-fri 09:00', 'sat 11:30', "
               "'sun,wed 18:00' or 'daily 08:15'.")


def _slot_day(word: str, spec: str, path: str | None, line: int | None) -> int:
    if word in _WEEKDAYS:
        return _WEEKDAYS[word]
    if not word:
        raise ConfigError(f"slot {spec!r}: a range needs a day at each end, e.g. mon-fri.",
                          path=path, line=line)
    raise ConfigError(
        f"slot {spec!r}: unknown day {word!r}.{did_you_mean(word, [*DAY_NAMES, *_DAY_GROUPS])} "
        "Use mon, tue, wed, thu, fri, sat, sun, a range like mon-fri, a list like sat,sun, "
        "or daily.", path=path, line=line)


def _parse_slot(spec: object, path: str | None, line: int | None) -> Slot:
    if not isinstance(spec, str):
        raise ConfigError(f"slot {spec!r} is not text. {_SLOT_FORMS}", path=path, line=line)
    words = spec.lower().replace(" am", "am").replace(" pm", "pm").split()
    if len(words) < 2:
        what = "days" if words and (_TIME_24.fullmatch(words[0]) or
                                    _TIME_12.fullmatch(words[0])) else "a time"
        raise ConfigError(f"slot {spec!r} needs {what}. {_SLOT_FORMS}", path=path, line=line)
    try:
        clock = _parse_clock(words[-1], spec)
    except UsageError as exc:
        raise ConfigError(f"slot {spec!r}: {exc.message}", path=path, line=line) from None
    if clock is None:
        raise ConfigError(f"slot {spec!r}: {words[-1]!r} is not a time. {_SLOT_FORMS}",
                          path=path, line=line)
    if clock.second:
        raise ConfigError(f"slot {spec!r}: slots are whole minutes; drop the seconds.",
                          path=path, line=line)
    days: set[int] = set()
    # Spaces inside the day list ("sun, wed") are harmless.
    for part in "".join(words[:-1]).split(","):
        if not part:
            raise ConfigError(f"slot {spec!r}: an empty day in the list. {_SLOT_FORMS}",
                              path=path, line=line)
        if part in _DAY_GROUPS:
            days |= _DAY_GROUPS[part]
        elif "-" in part:
            first, _, last = part.partition("-")
            start, end = _slot_day(first, spec, path, line), _slot_day(last, spec, path, line)
            # A range may wrap round the week: fri-mon is fri, sat, sun, mon.
            days.update((start + i) % 7 for i in range((end - start) % 7 + 1))
        else:
            days.add(_slot_day(part, spec, path, line))
    return Slot(frozenset(days), clock.hour, clock.minute)


def parse_slots(specs: list[str], *, path: str | None = None,
                line: int | None = None) -> list[Slot]:
    """Read weekly slot specs such as ``"mon-fri 09:00"``, ``"sat 11:30"``,
    ``"sun,wed 18:00"``, ``"daily 08:15"`` (also ``weekdays``, ``weekends``,
    wrapping ranges like ``fri-mon``, and ``9am``/``6:30pm``).

    Raises :class:`ConfigError` at ``path``/``line`` naming the bad part.
    """
    if isinstance(specs, str):
        specs = [specs]
    return [_parse_slot(spec, path, line) for spec in specs]


def next_slots(slots: Iterable[Slot], *, tz: ZoneInfo, after: datetime,
               taken: Iterable[datetime] = (), count: int = 1) -> list[datetime]:
    """The next ``count`` slot instants strictly after ``after``, as aware UTC
    datetimes in chronological order, skipping any instant in ``taken``.

    Slots are local wall-clock times in ``tz``, so 09:00 stays 09:00 across DST
    changes; a slot in a spring-forward gap posts at the end of the gap, one in
    the fall-back overlap at its first occurrence (see the module docstring).
    Returns ``[]`` when there are no slots.
    """
    _require_aware(after, "after")
    after = after.astimezone(UTC)
    times: dict[int, set[tuple[int, int]]] = {d: set() for d in range(7)}
    for slot in slots:
        for day in slot.weekdays:
            times[day].add((slot.hour, slot.minute))
    if count <= 0 or not any(times.values()):
        return []
    used = set()
    for instant in taken:
        _require_aware(instant, "a taken time")
        used.add(instant.astimezone(UTC))
    result: list[datetime] = []
    last = after
    # Start a day early: a slot late on the previous day may have been moved
    # past midnight by a gap.
    day = after.astimezone(tz).date() - timedelta(days=1)
    # Ends: every week holds a slot, and finitely many instants can be taken.
    while len(result) < count:
        for hour, minute in sorted(times[day.weekday()]):
            instant = to_utc(datetime.combine(day, time(hour, minute)), tz)
            # "> last" also drops a gap-shifted slot that lands on a later one.
            if instant > last and instant not in used:
                result.append(instant)
                last = instant
                if len(result) == count:
                    break
        day += timedelta(days=1)
    return result


# --- describe -------------------------------------------------------------------


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def _delta_text(seconds: float) -> str:
    """Two largest units: "in 3 days 20 hours", "45 minutes ago", "now"."""
    minutes = round(abs(seconds) / 60)
    if minutes == 0:
        return "now"
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    units = [(days, "day"), (hours, "hour"), (minutes, "minute")]
    first = next(i for i, (n, _) in enumerate(units) if n)
    parts = [_plural(n, unit) for n, unit in units[first:first + 2] if n]
    text = " ".join(parts)
    return f"in {text}" if seconds > 0 else f"{text} ago"


def _date_text(dt: datetime) -> str:
    return f"{DAY_NAMES[dt.weekday()].title()} {dt.day} {_MONTHS[dt.month - 1]} {dt.year}"


def describe(dt_utc: datetime, *, tz: ZoneInfo, now: datetime) -> str:
    """A confirmation line for an instant, e.g.
    ``"Tue 1 Dec 2026 09:00 CET (08:00 UTC), in 3 days 20 hours"``.

    The UTC part is left out when ``tz`` is UTC, and names the day when it
    differs from the local one.
    """
    _require_aware(dt_utc, "dt_utc")
    _require_aware(now, "now")
    utc = dt_utc.astimezone(UTC)
    local = utc.astimezone(tz)
    text = f"{_date_text(local)} {local:%H:%M} {local.tzname()}"
    if local.utcoffset() != timedelta(0) or local.tzname() != "UTC":
        if utc.date() == local.date():
            text += f" ({utc:%H:%M} UTC)"
        else:
            text += f" ({_date_text(utc)[:-5]} {utc:%H:%M} UTC)"
    return f"{text}, {_delta_text((utc - now).total_seconds())}"


# --- time zones -----------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def _zone_from_path(path: str) -> str | None:
    """``/usr/share/zoneinfo/Europe/Berlin`` -> ``Europe/Berlin``."""
    marker = "zoneinfo/"
    index = path.rfind(marker)
    if index < 0:
        return None
    name = path[index + len(marker):]
    # Debian's "posix/" and "right/" trees hold the same zones.
    for prefix in ("posix/", "right/"):
        name = name.removeprefix(prefix)
    return name


def _system_zone_name(environ: Mapping[str, str], localtime: Path,
                      timezone_file: Path) -> str | None:
    tz_env = environ.get("TZ", "").strip().removeprefix(":")
    if tz_env:
        candidate = _zone_from_path(tz_env) if tz_env.startswith("/") else tz_env
        if candidate in _zone_names():
            return candidate
    try:
        name = _zone_from_path(os.path.realpath(localtime)) if localtime.is_symlink() else None
    except OSError:
        name = None
    if name in _zone_names():
        return name
    try:
        name = timezone_file.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return name if name in _zone_names() else None


def resolve_timezone(name: str | None, *, path: str | None = None, line: int | None = None,
                     environ: Mapping[str, str] | None = None,
                     localtime: Path = Path("/etc/localtime"),
                     timezone_file: Path = Path("/etc/timezone")) -> ZoneInfo:
    """The zone called ``name`` (an IANA name such as ``Europe/Berlin``; case
    does not matter).

    With no name: the system's zone, read from the ``TZ`` environment variable,
    the ``/etc/localtime`` symlink or ``/etc/timezone``, else UTC. (``environ``,
    ``localtime`` and ``timezone_file`` are for tests.) An unknown name raises
    :class:`ConfigError` at ``path``/``line`` with a "did you mean".
    """
    if name is None:
        found = _system_zone_name(os.environ if environ is None else environ,
                                  localtime, timezone_file)
        return ZoneInfo(found or "UTC")
    known = _zone_names()
    if isinstance(name, str):
        wanted = name.strip()
        if wanted in known:
            return ZoneInfo(wanted)
        by_lower = {zone.lower(): zone for zone in known}
        if wanted.lower() in by_lower:
            return ZoneInfo(by_lower[wanted.lower()])
    hint = _zone_hint(str(name), known)
    raise ConfigError(
        f"unknown time zone {name!r}.{hint} Use an IANA name such as Europe/Berlin, "
        "America/New_York or UTC.", path=path, line=line)


def _zone_hint(name: str, known: frozenset[str]) -> str:
    # "Berlin" or "new york" name a city: suggest the zone ending with it.
    city = name.strip().replace(" ", "_").lower()
    cities = sorted(zone for zone in known if zone.lower().rsplit("/", 1)[-1] == city)
    if cities:
        return f" Did you mean '{cities[0]}'?"
    by_lower = {zone.lower(): zone for zone in known}
    hint = did_you_mean(name.lower(), sorted(by_lower))
    if hint:
        close = hint.split("'")[1]
        return f" Did you mean '{by_lower[close]}'?"
    return ""

