"""Time expressions, weekly slots, confirmation lines and time zones (threadbot.when)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from threadbot.errors import ConfigError, UsageError
from threadbot.when import (
    Slot,
    describe,
    next_slots,
    parse_slots,
    parse_when,
    resolve_timezone,
    to_utc,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")  # half-hour DST shifts

# Friday 27 November 2026, 13:00 in Berlin (CET, UTC+1).
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def when(text: str, *, now: datetime = NOW, tz: ZoneInfo = BERLIN) -> datetime:
    return parse_when(text, now=now, tz=tz)


# --- parse_when: accepted forms -------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("NOW", NOW),
        # ISO 8601 with an offset is taken as written, whatever the zone.
        ("2026-12-01T09:00:00+01:00", utc(2026, 12, 1, 8)),
        ("2026-12-01T08:00Z", utc(2026, 12, 1, 8)),
        ("2026-12-01t08:00z", utc(2026, 12, 1, 8)),
        ("2026-12-01T09:00:00-05:00", utc(2026, 12, 1, 14)),
        ("2026-12-01 09:00+01:00", utc(2026, 12, 1, 8)),
        ("2026-12-01T09:00:30.5+00:00", datetime(2026, 12, 1, 9, 0, 30, 500000, tzinfo=UTC)),
        # Without an offset: local time in the configured zone.
        ("2026-12-01T09:00", utc(2026, 12, 1, 8)),
        ("2026-12-01 09:00", utc(2026, 12, 1, 8)),
        ("2026-12-01 9:00", utc(2026, 12, 1, 8)),
        ("2026-12-01 9am", utc(2026, 12, 1, 8)),
        ("2026-07-01 09:00", utc(2026, 7, 1, 7)),  # summer time
        ("  2026-12-01   09:00 ", utc(2026, 12, 1, 8)),
        # today / tomorrow
        ("today 18:30", utc(2026, 11, 27, 17, 30)),
        ("today 08:00", utc(2026, 11, 27, 7)),  # in the past: the caller decides
        ("tomorrow 09:00", utc(2026, 11, 28, 8)),
        ("Tomorrow 9am", utc(2026, 11, 28, 8)),
        ("tomorrow 9:30pm", utc(2026, 11, 28, 20, 30)),
        ("tomorrow 9:30 PM", utc(2026, 11, 28, 20, 30)),
        ("tomorrow 12am", utc(2026, 11, 27, 23)),
        ("tomorrow 12pm", utc(2026, 11, 28, 11)),
        ("tomorrow at 09:00", utc(2026, 11, 28, 8)),
        ("9pm tomorrow", utc(2026, 11, 28, 20)),
        ("tomorrow 09:00:30", utc(2026, 11, 28, 8, 0, 30)),
        # Weekdays: the next such day and time strictly after now (Friday 13:00).
        ("monday 09:00", utc(2026, 11, 30, 8)),
        ("mon 09:00", utc(2026, 11, 30, 8)),
        ("Tues 10:00", utc(2026, 12, 1, 9)),
        ("thurs 10:00", utc(2026, 12, 3, 9)),
        ("friday 18:00", utc(2026, 11, 27, 17)),  # today, still ahead
        ("friday 13:00", utc(2026, 12, 4, 12)),  # exactly now: not strictly after
        ("fri 12:00", utc(2026, 12, 4, 11)),  # passed today: next week
        ("sat 9am", utc(2026, 11, 28, 8)),
        # A bare time: its next occurrence.
        ("18:30", utc(2026, 11, 27, 17, 30)),
        ("9:00", utc(2026, 11, 28, 8)),
        ("at 9am", utc(2026, 11, 28, 8)),
        ("13:00", utc(2026, 11, 28, 12)),
        # Delays from now.
        ("+2h", utc(2026, 11, 27, 14)),
        ("+30m", utc(2026, 11, 27, 12, 30)),
        ("+1d", utc(2026, 11, 28, 12)),
        ("+90s", utc(2026, 11, 27, 12, 1, 30)),
        ("+1h30m", utc(2026, 11, 27, 13, 30)),
        ("+1h 30m", utc(2026, 11, 27, 13, 30)),
        ("+1w", utc(2026, 12, 4, 12)),
        ("+1d2h3m4s", NOW + timedelta(days=1, hours=2, minutes=3, seconds=4)),
        ("in 2 hours", utc(2026, 11, 27, 14)),
        ("in 1 hour 30 minutes", utc(2026, 11, 27, 13, 30)),
        ("in 1 hour and 30 minutes", utc(2026, 11, 27, 13, 30)),
        ("in 90 mins", utc(2026, 11, 27, 13, 30)),
        ("in 2h", utc(2026, 11, 27, 14)),
        ("in 3 days", utc(2026, 11, 30, 12)),
    ],
)
def test_accepted_forms(text, expected):
    result = when(text)
    assert result == expected
    assert result.tzinfo is UTC


def test_now_may_be_given_in_any_zone_and_result_is_utc():
    now = NOW.astimezone(NEW_YORK)
    result = parse_when("+1h", now=now, tz=BERLIN)
    assert result == NOW + timedelta(hours=1)
    assert result.tzinfo is UTC


def test_the_zone_decides_times_without_offset():
    assert when("tomorrow 09:00", tz=NEW_YORK) == utc(2026, 11, 28, 14)
    assert when("2026-12-01 09:00", tz=ZoneInfo("UTC")) == utc(2026, 12, 1, 9)
    # Offsets win over the zone.
    assert when("2026-12-01T09:00+00:00", tz=NEW_YORK) == utc(2026, 12, 1, 9)


def test_weekday_wraps_to_next_week_and_bare_time_to_tomorrow():
    # Friday 23:30 in Berlin: "fri 23:00" is a week on, "23:00" is tomorrow.
    late = utc(2026, 11, 27, 22, 30)
    assert when("fri 23:00", now=late) == utc(2026, 12, 4, 22)
    assert when("23:00", now=late) == utc(2026, 11, 28, 22)
    assert when("23:45", now=late) == utc(2026, 11, 27, 22, 45)


def test_delay_of_a_day_is_elapsed_time_across_dst():
    # The night the clocks go forward in Berlin, +1d is 24 hours, so 10:00 -> 11:00 local.
    now = utc(2026, 3, 28, 9)  # 10:00 CET
    result = when("+1d", now=now)
    assert result == utc(2026, 3, 29, 9)
    assert result.astimezone(BERLIN).hour == 11


def test_naive_now_is_a_programming_error():
    with pytest.raises(ValueError, match="aware"):
        parse_when("now", now=datetime(2026, 1, 1), tz=BERLIN)


# --- parse_when: DST ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "text", "expected", "local"),
    [
        # Spring forward, the gap: the first instant after it (the clocks' new time).
        (BERLIN, "2026-03-29 02:30", utc(2026, 3, 29, 1), "03:00 CEST"),
        (BERLIN, "2026-03-29 02:00", utc(2026, 3, 29, 1), "03:00 CEST"),
        (BERLIN, "2026-03-29 02:59:59", utc(2026, 3, 29, 1), "03:00 CEST"),
        (BERLIN, "2026-03-29 03:00", utc(2026, 3, 29, 1), "03:00 CEST"),
        (BERLIN, "2026-03-29 01:59", utc(2026, 3, 29, 0, 59), "01:59 CET"),
        (NEW_YORK, "2026-03-08 02:30", utc(2026, 3, 8, 7), "03:00 EDT"),
        (NEW_YORK, "2026-03-08T02:15", utc(2026, 3, 8, 7), "03:00 EDT"),
        # Fall back, the overlap: the first occurrence (still summer time).
        (BERLIN, "2026-10-25 02:30", utc(2026, 10, 25, 0, 30), "02:30 CEST"),
        (BERLIN, "2026-10-25 03:00", utc(2026, 10, 25, 2), "03:00 CET"),
        (NEW_YORK, "2026-11-01 01:30", utc(2026, 11, 1, 5, 30), "01:30 EDT"),
        (NEW_YORK, "2026-11-01 02:00", utc(2026, 11, 1, 7), "02:00 EST"),
        # Lord Howe moves by half an hour: 02:00 -> 02:30.
        (LORD_HOWE, "2026-10-04 02:10", utc(2026, 10, 3, 15, 30), "02:30 +11"),
    ],
)
def test_dst_in_explicit_dates(tz, text, expected, local):
    result = parse_when(text, now=utc(2026, 1, 1), tz=tz)
    assert result == expected
    shown = result.astimezone(tz)
    assert f"{shown:%H:%M} {shown.tzname()}" == local


def test_dst_with_relative_days():
    # Saturday 28 March 2026, 12:00 in Berlin: tomorrow 02:30 does not exist.
    now = utc(2026, 3, 28, 11)
    assert when("tomorrow 02:30", now=now) == utc(2026, 3, 29, 1)
    assert when("sun 02:30", now=now) == utc(2026, 3, 29, 1)
    assert when("tomorrow 09:00", now=now) == utc(2026, 3, 29, 7)  # CEST now
    # New York, Saturday 31 October: Sunday 01:30 happens twice; the first is EDT.
    now = utc(2026, 10, 31, 16)
    assert when("tomorrow 1:30am", now=now, tz=NEW_YORK) == utc(2026, 11, 1, 5, 30)
    assert when("sunday 09:00", now=now, tz=NEW_YORK) == utc(2026, 11, 1, 14)  # EST


def test_bare_time_in_todays_gap_moves_to_the_gap_end():
    now = utc(2026, 3, 29, 0, 30)  # 01:30 CET, half an hour before the jump
    assert when("02:30", now=now) == utc(2026, 3, 29, 1)


def test_to_utc_round_trips_ordinary_times():
    for zone in (BERLIN, NEW_YORK):
        local = datetime(2026, 6, 15, 9, 45)
        assert to_utc(local, zone).astimezone(zone).replace(tzinfo=None) == local


# --- parse_when: errors --------------------------------------------------------------


FORMS = "Use 2026-12-01 09:00, tomorrow 09:00"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tomorow 9", "Cannot read the time 'tomorow 9'. Did you mean 'tomorrow'?"),
        ("tomorow 09:00", "Did you mean 'tomorrow'?"),
        ("mnday 09:00", "Did you mean 'monday'?"),
        ("wensday 09:00", "Did you mean 'wednesday'?"),
        ("in 2 huors", "Did you mean 'hours'?"),
        ("tomorrow 9", "Write the time as 09:00 or 9am/9pm."),
        ("2h", "For a delay from now, write +2h."),
        ("tomorrow", "Add a time of day, e.g. 'tomorrow 09:00'."),
        ("monday", "Add a time of day"),
        ("2026-12-01", "Add a time of day"),
        ("tomorrow 09:00 10:00", "It holds two times."),
        ("today tomorrow 09:00", "It names two days."),
        ("+", "Cannot read the time '+'."),
        ("+2x", "Cannot read the time '+2x'."),
        ("in soon", "Cannot read the time 'in soon'."),
        ("next week", "Cannot read the time 'next week'."),
        ("-2h", "Cannot read the time '-2h'."),
        ("2026-12-01T9:00", "Cannot read the time"),
    ],
)
def test_unreadable_times(text, message):
    with pytest.raises(UsageError) as info:
        when(text)
    assert message in str(info.value)
    assert FORMS in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "No time given."),
        ("   ", "No time given."),
        ("2026-02-30 09:00", "'2026-02-30' in '2026-02-30 09:00' is not a date."),
        ("2026-13-01T09:00Z", "is not a date. Write the date as YYYY-MM-DD"),
        ("2026-13-45", "'2026-13-45' is not a date. Write"),  # the date alone: not named twice
        ("25:00", "'25:00' in '25:00' is not a time of day: hours go from 00 to 23"),
        ("tomorrow 09:60", "is not a time of day"),
        ("13pm", "with am/pm, hours go from 1 to 12"),
        ("0am", "with am/pm, hours go from 1 to 12"),
        ("+100000w", "more than ten years away"),
    ],
)
def test_invalid_values_say_what_to_write(text, message):
    with pytest.raises(UsageError) as info:
        when(text)
    assert message in str(info.value)


def test_usage_error_exit_code():
    with pytest.raises(UsageError) as info:
        when("whenever")
    assert info.value.exit_code == 2


# --- slots: parsing ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "days", "hour", "minute", "normal"),
    [
        ("mon-fri 09:00", {0, 1, 2, 3, 4}, 9, 0, "mon-fri 09:00"),
        ("sat 11:30", {5}, 11, 30, "sat 11:30"),
        ("sun,wed 18:00", {2, 6}, 18, 0, "wed,sun 18:00"),
        ("sun, wed 18:00", {2, 6}, 18, 0, "wed,sun 18:00"),
        ("daily 08:15", set(range(7)), 8, 15, "daily 08:15"),
        ("mon-sun 8:15", set(range(7)), 8, 15, "daily 08:15"),
        ("weekdays 7:05", {0, 1, 2, 3, 4}, 7, 5, "mon-fri 07:05"),
        ("weekends 10:00", {5, 6}, 10, 0, "sat,sun 10:00"),
        ("fri-mon 07:00", {4, 5, 6, 0}, 7, 0, "mon,fri-sun 07:00"),
        ("Monday,Tuesday,Thursday 6pm", {0, 1, 3}, 18, 0, "mon,tue,thu 18:00"),
        ("mon-wed,fri 9:30 am", {0, 1, 2, 4}, 9, 30, "mon-wed,fri 09:30"),
        ("tue-tue 00:00", {1}, 0, 0, "tue 00:00"),
    ],
)
def test_slot_specs(spec, days, hour, minute, normal):
    (slot,) = parse_slots([spec])
    assert slot == Slot(frozenset(days), hour, minute)
    assert str(slot) == normal
    assert parse_slots([normal]) == [slot]


def test_parse_slots_keeps_order_and_accepts_empty():
    assert parse_slots([]) == []
    # One spec written as plain text (not a list) in YAML is still read.
    assert parse_slots("sat 11:30") == parse_slots(["sat 11:30"])  # type: ignore[arg-type]
    slots = parse_slots(["sat 11:30", "mon-fri 09:00"])
    assert [str(s) for s in slots] == ["sat 11:30", "mon-fri 09:00"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("mon-fir 09:00", "slot 'mon-fir 09:00': unknown day 'fir'. Did you mean 'fri'?"),
        ("dayly 08:15", "unknown day 'dayly'. Did you mean 'daily'?"),
        ("someday 08:15", "unknown day 'someday'."),
        ("mon- 09:00", "a range needs a day at each end"),
        ("mon,,tue 09:00", "an empty day in the list"),
        ("mon 25:00", "slot 'mon 25:00': '25:00' in 'mon 25:00' is not a time of day"),
        ("mon 9", "'9' is not a time."),
        ("mon noon", "'noon' is not a time."),
        ("09:00", "slot '09:00' needs days."),
        ("mon", "slot 'mon' needs a time."),
        ("", "slot '' needs a time."),
        ("mon 09:00:30", "slots are whole minutes"),
        (900, "slot 900 is not text."),
    ],
)
def test_bad_slot_specs(spec, message):
    with pytest.raises(ConfigError) as info:
        parse_slots(["daily 09:00", spec], path="config/threadbot.yaml", line=7)
    assert str(info.value).startswith("config/threadbot.yaml:7: ")
    assert message in str(info.value)
    assert info.value.exit_code == 4


def test_bad_slot_without_location():
    with pytest.raises(ConfigError) as info:
        parse_slots(["mon 09:00", "xyz 10:00"])
    assert str(info.value).startswith("slot 'xyz 10:00'")


def test_slot_rejects_impossible_values():
    with pytest.raises(ValueError):
        Slot(frozenset(), 9, 0)
    with pytest.raises(ValueError):
        Slot(frozenset({7}), 9, 0)
    with pytest.raises(ValueError):
        Slot(frozenset({1}), 24, 0)


# --- slots: next_slots ---------------------------------------------------------------


def test_next_slots_basic():
    slots = parse_slots(["mon-fri 09:00", "sat 11:30"])
    # From Friday 13:00 Berlin: Sat 11:30, Mon 09:00, Tue 09:00.
    assert next_slots(slots, tz=BERLIN, after=NOW, count=3) == [
        utc(2026, 11, 28, 10, 30), utc(2026, 11, 30, 8), utc(2026, 12, 1, 8)]
    assert next_slots(slots, tz=BERLIN, after=NOW) == [utc(2026, 11, 28, 10, 30)]


def test_next_slots_is_strictly_after():
    slots = parse_slots(["daily 09:00"])
    at_slot = utc(2026, 12, 1, 8)  # 09:00 CET exactly
    assert next_slots(slots, tz=BERLIN, after=at_slot) == [utc(2026, 12, 2, 8)]
    just_before = at_slot - timedelta(microseconds=1)
    assert next_slots(slots, tz=BERLIN, after=just_before) == [at_slot]


def test_next_slots_skips_taken():
    slots = parse_slots(["daily 09:00", "daily 18:00"])
    after = utc(2026, 12, 1, 0)
    free = next_slots(slots, tz=BERLIN, after=after, count=4)
    assert free == [utc(2026, 12, 1, 8), utc(2026, 12, 1, 17),
                    utc(2026, 12, 2, 8), utc(2026, 12, 2, 17)]
    # Taken times may be given in any zone and as any iterable.
    taken = [free[0].astimezone(NEW_YORK), free[2]]
    assert next_slots(slots, tz=BERLIN, after=after, taken=taken, count=3) == [
        free[1], free[3], utc(2026, 12, 3, 8)]
    assert next_slots(slots, tz=BERLIN, after=after, taken=set(free), count=1) == [
        utc(2026, 12, 3, 8)]
    # A taken time that is no slot changes nothing.
    assert next_slots(slots, tz=BERLIN, after=after, taken={utc(2026, 12, 1, 8, 1)},
                      count=2) == free[:2]


def test_next_slots_terminates_without_slots():
    assert next_slots([], tz=BERLIN, after=NOW, count=5) == []
    assert next_slots(parse_slots(["daily 09:00"]), tz=BERLIN, after=NOW, count=0) == []


def test_next_slots_never_returns_the_past_even_with_many_taken():
    slots = parse_slots(["mon 09:00"])
    taken = next_slots(slots, tz=BERLIN, after=NOW, count=30)
    result = next_slots(slots, tz=BERLIN, after=NOW, taken=taken, count=2)
    assert all(r > NOW for r in result)
    assert result[0] > taken[-1]


def test_next_slots_naive_times_are_programming_errors():
    slots = parse_slots(["daily 09:00"])
    with pytest.raises(ValueError):
        next_slots(slots, tz=BERLIN, after=datetime(2026, 1, 1))
    with pytest.raises(ValueError):
        next_slots(slots, tz=BERLIN, after=NOW, taken=[datetime(2026, 1, 1)])


def _local(instants: list[datetime], tz: ZoneInfo) -> list[str]:
    return [f"{i.astimezone(tz):%a %d %H:%M %Z}" for i in instants]


@pytest.mark.parametrize(
    ("tz", "after", "expected"),
    [
        # 09:00 stays 09:00 local across both 2026 changes.
        (BERLIN, utc(2026, 3, 27, 12),
         ["Sat 28 09:00 CET", "Sun 29 09:00 CEST", "Mon 30 09:00 CEST"]),
        (BERLIN, utc(2026, 10, 23, 12),
         ["Sat 24 09:00 CEST", "Sun 25 09:00 CET", "Mon 26 09:00 CET"]),
        (NEW_YORK, utc(2026, 3, 6, 18),
         ["Sat 07 09:00 EST", "Sun 08 09:00 EDT", "Mon 09 09:00 EDT"]),
        (NEW_YORK, utc(2026, 10, 30, 18),
         ["Sat 31 09:00 EDT", "Sun 01 09:00 EST", "Mon 02 09:00 EST"]),
    ],
)
def test_next_slots_keep_local_time_across_dst(tz, after, expected):
    result = next_slots(parse_slots(["daily 09:00"]), tz=tz, after=after, count=3)
    assert _local(result, tz) == expected


@pytest.mark.parametrize(
    ("tz", "spec", "after", "expected"),
    [
        # A slot inside the spring-forward gap posts when the gap ends, that same day.
        (BERLIN, "daily 02:30", utc(2026, 3, 27, 12),
         ["Sat 28 02:30 CET", "Sun 29 03:00 CEST", "Mon 30 02:30 CEST"]),
        (NEW_YORK, "daily 02:30", utc(2026, 3, 6, 12),
         ["Sat 07 02:30 EST", "Sun 08 03:00 EDT", "Mon 09 02:30 EDT"]),
        # A slot in the fall-back overlap posts once, at its first occurrence.
        (BERLIN, "daily 02:30", utc(2026, 10, 23, 12),
         ["Sat 24 02:30 CEST", "Sun 25 02:30 CEST", "Mon 26 02:30 CET"]),
        (NEW_YORK, "daily 01:30", utc(2026, 10, 30, 12),
         ["Sat 31 01:30 EDT", "Sun 01 01:30 EDT", "Mon 02 01:30 EST"]),
    ],
)
def test_next_slots_in_gap_and_overlap(tz, spec, after, expected):
    assert _local(next_slots(parse_slots([spec]), tz=tz, after=after, count=3), tz) == expected


def test_gap_slot_and_the_slot_at_the_gap_end_count_once():
    slots = parse_slots(["sun 02:30", "sun 03:00", "sun 02:45"])
    result = next_slots(slots, tz=BERLIN, after=utc(2026, 3, 28), count=2)
    assert result == [utc(2026, 3, 29, 1), utc(2026, 4, 5, 0, 30)]
    # If the gap end is taken, the day has no other slot left.
    result = next_slots(slots, tz=BERLIN, after=utc(2026, 3, 28), taken=[utc(2026, 3, 29, 1)])
    assert result == [utc(2026, 4, 5, 0, 30)]


def test_after_inside_a_gap_day():
    # After 03:10 CEST on the gap day, the shifted 02:30 slot is already past.
    slots = parse_slots(["daily 02:30"])
    after = utc(2026, 3, 29, 1, 10)
    assert next_slots(slots, tz=BERLIN, after=after) == [utc(2026, 3, 30, 0, 30)]


# --- slots: properties ---------------------------------------------------------------

ZONES = [BERLIN, NEW_YORK, LORD_HOWE, ZoneInfo("America/Santiago"), ZoneInfo("UTC")]

slot_strategy = st.builds(
    Slot,
    weekdays=st.frozensets(st.integers(0, 6), min_size=1),
    # DST changes happen at night: make night hours likely.
    hour=st.one_of(st.integers(0, 3), st.integers(0, 23)),
    minute=st.one_of(st.sampled_from([0, 15, 30, 45]), st.integers(0, 59)),
)
after_strategy = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31, 23, 59),
    timezones=st.just(UTC))


def _exists(naive: datetime, tz: ZoneInfo) -> bool:
    return naive.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None) == naive


def _is_gap_end(instant: datetime, slots: list[Slot], tz: ZoneInfo) -> bool:
    """Whether ``instant`` is a forward jump of the clocks with some slot inside the gap."""
    before = (instant - timedelta(seconds=1)).astimezone(tz).replace(tzinfo=None)
    after = instant.astimezone(tz).replace(tzinfo=None)
    if after - before <= timedelta(seconds=1):
        return False
    gap_start = before + timedelta(seconds=1)
    for slot in slots:
        for day in {gap_start.date(), after.date()}:
            wall = datetime.combine(day, time(slot.hour, slot.minute))
            if day.weekday() in slot.weekdays and gap_start <= wall < after:
                return True
    return False


@settings(max_examples=150, deadline=None)
@given(slots=st.lists(slot_strategy, min_size=1, max_size=4), after=after_strategy,
       tz=st.sampled_from(ZONES), count=st.integers(1, 12), data=st.data())
def test_next_slots_properties(slots, after, tz, count, data):
    baseline = next_slots(slots, tz=tz, after=after, count=count + 6)
    taken = set(data.draw(st.lists(st.sampled_from(baseline), max_size=6)))
    result = next_slots(slots, tz=tz, after=after, taken=taken, count=count)

    assert len(result) == count
    assert result == [b for b in baseline if b not in taken][:count]
    assert all(r.tzinfo is UTC for r in result)
    assert all(r > after for r in result)
    assert all(a < b for a, b in zip(result, result[1:], strict=False))
    assert not taken & set(result)
    for instant in result:
        local = instant.astimezone(tz)
        on_slot = any(
            local.weekday() in s.weekdays and (local.hour, local.minute, local.second)
            == (s.hour, s.minute, 0) for s in slots)
        assert on_slot or _is_gap_end(instant, slots, tz), _local([instant], tz)

    # Nothing skipped: every slot time that exists, up to the last result, is there.
    first = after.astimezone(tz).date() - timedelta(days=1)
    last = result[-1].astimezone(tz).date()
    day = first
    while day <= last:
        for s in slots:
            wall = datetime.combine(day, time(s.hour, s.minute))
            if day.weekday() not in s.weekdays or not _exists(wall, tz):
                continue
            instant = wall.replace(tzinfo=tz).astimezone(UTC)  # fold=0: first occurrence
            if after < instant <= result[-1] and instant not in taken:
                assert instant in result
        day += timedelta(days=1)


@given(slot=slot_strategy)
def test_slot_text_round_trips(slot):
    assert parse_slots([str(slot)]) == [slot]


@settings(max_examples=100, deadline=None)
@given(after=after_strategy, tz=st.sampled_from(ZONES),
       clock=st.times().map(lambda t: t.replace(second=0, microsecond=0)))
def test_bare_time_is_next_occurrence(after, tz, clock):
    result = parse_when(f"{clock:%H:%M}", now=after, tz=tz)
    assert after < result <= after + timedelta(days=1, hours=3)
    local = result.astimezone(tz)
    assert (local.hour, local.minute) == (clock.hour, clock.minute) or _is_gap_end(
        result, [Slot(frozenset(range(7)), clock.hour, clock.minute)], tz)


# --- describe --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instant", "tz", "expected"),
    [
        (utc(2026, 12, 1, 8), BERLIN, "Tue 1 Dec 2026 09:00 CET (08:00 UTC), in 3 days 20 hours"),
        (NOW + timedelta(minutes=45), BERLIN, "Fri 27 Nov 2026 13:45 CET (12:45 UTC), "
                                             "in 45 minutes"),
        (NOW - timedelta(hours=2), BERLIN, "Fri 27 Nov 2026 11:00 CET (10:00 UTC), 2 hours ago"),
        (NOW, BERLIN, "Fri 27 Nov 2026 13:00 CET (12:00 UTC), now"),
        (NOW + timedelta(seconds=20), BERLIN, "Fri 27 Nov 2026 13:00 CET (12:00 UTC), now"),
        (NOW + timedelta(days=1), BERLIN, "Sat 28 Nov 2026 13:00 CET (12:00 UTC), in 1 day"),
        (NOW + timedelta(hours=1, minutes=1), ZoneInfo("UTC"),
         "Fri 27 Nov 2026 13:01 UTC, in 1 hour 1 minute"),
        # Two largest units only; the hour is zero so only days show.
        (NOW + timedelta(days=3, minutes=5), ZoneInfo("UTC"), "Mon 30 Nov 2026 12:05 UTC, "
                                                             "in 3 days"),
        (NOW + timedelta(days=40, hours=2, minutes=59), ZoneInfo("UTC"),
         "Wed 6 Jan 2027 14:59 UTC, in 40 days 2 hours"),
        # The UTC day differs from the local one: name it.
        (utc(2026, 11, 30, 23, 30), BERLIN,
         "Tue 1 Dec 2026 00:30 CET (Mon 30 Nov 23:30 UTC), in 3 days 11 hours"),
        (utc(2026, 7, 1, 13), NEW_YORK,
         "Wed 1 Jul 2026 09:00 EDT (13:00 UTC), 148 days 23 hours ago"),
    ],
)
def test_describe(instant, tz, expected):
    assert describe(instant, tz=tz, now=NOW) == expected


def test_describe_needs_aware_times():
    with pytest.raises(ValueError):
        describe(datetime(2026, 1, 1), tz=BERLIN, now=NOW)


# --- resolve_timezone -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "key"),
    [("Europe/Berlin", "Europe/Berlin"), ("europe/berlin", "Europe/Berlin"),
     (" America/New_York ", "America/New_York"), ("UTC", "UTC"), ("utc", "UTC")],
)
def test_named_zones(name, key):
    assert resolve_timezone(name).key == key


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("Europe/Berln", " Did you mean 'Europe/Berlin'?"),
        ("Berlin", " Did you mean 'Europe/Berlin'?"),
        ("new york", " Did you mean 'America/New_York'?"),
        ("america/new_yrok", " Did you mean 'America/New_York'?"),
        ("Mars/Olympus_Mons", ""),
        ("../../etc/passwd", ""),
        ("", ""),
    ],
)
def test_unknown_zones(name, hint):
    with pytest.raises(ConfigError) as info:
        resolve_timezone(name, path="config/threadbot.yaml", line=3)
    assert str(info.value) == (
        f"config/threadbot.yaml:3: unknown time zone {name!r}.{hint} Use an IANA name such as "
        "Europe/Berlin, America/New_York or UTC.")


def test_zone_that_is_not_text():
    with pytest.raises(ConfigError, match="unknown time zone 5"):
        resolve_timezone(5)  # type: ignore[arg-type]


def test_system_zone_from_tz_variable(tmp_path):
    nowhere = tmp_path / "missing"
    kw = {"localtime": nowhere, "timezone_file": nowhere}
    assert resolve_timezone(None, environ={"TZ": "Asia/Tokyo"}, **kw).key == "Asia/Tokyo"
    assert resolve_timezone(None, environ={"TZ": ":Europe/Paris"}, **kw).key == "Europe/Paris"
    assert resolve_timezone(
        None, environ={"TZ": "/usr/share/zoneinfo/America/Chicago"}, **kw).key == "America/Chicago"
    # A POSIX rule string names no zone: fall back (here to UTC).
    assert resolve_timezone(None, environ={"TZ": "CET-1CEST"}, **kw).key == "UTC"
    assert resolve_timezone(None, environ={}, **kw).key == "UTC"


def test_system_zone_from_localtime_link_and_timezone_file(tmp_path):
    target = tmp_path / "usr" / "share" / "zoneinfo" / "posix" / "Europe" / "Vienna"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"TZif")
    link = tmp_path / "localtime"
    link.symlink_to(target)
    timezone_file = tmp_path / "timezone"
    timezone_file.write_text("Africa/Nairobi\n", encoding="utf-8")
    assert resolve_timezone(None, environ={}, localtime=link,
                            timezone_file=timezone_file).key == "Europe/Vienna"
    # TZ wins over the link.
    assert resolve_timezone(None, environ={"TZ": "Asia/Tokyo"}, localtime=link,
                            timezone_file=timezone_file).key == "Asia/Tokyo"
    # A plain file (no link) tells nothing; /etc/timezone does.
    plain = tmp_path / "plain"
    plain.write_bytes(b"TZif")
    assert resolve_timezone(None, environ={}, localtime=plain,
                            timezone_file=timezone_file).key == "Africa/Nairobi"


def test_system_zone_default_arguments_work():
    assert isinstance(resolve_timezone(None), ZoneInfo)



# --- parse_when: the forms people type (issue 10) -----------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # NOW is Friday 27 Nov 2026, 13:00 in Berlin.
        ("next friday 9am", utc(2026, 12, 4, 8)),  # never today, even with 9am ahead
        ("next fri at noon", utc(2026, 12, 4, 11)),
        ("next monday 09:00", utc(2026, 11, 30, 8)),
        ("9am", utc(2026, 11, 28, 8)),
        ("noon", utc(2026, 11, 28, 11)),  # 12:00 has passed today
        ("midnight", utc(2026, 11, 27, 23)),
        ("tomorrow at noon", utc(2026, 11, 28, 11)),
        ("1 dec 09:00", utc(2026, 12, 1, 8)),
        ("dec 1 9am", utc(2026, 12, 1, 8)),
        ("1st December 2027 09:00", utc(2027, 12, 1, 8)),
        ("december 1, 2027 9:30pm", utc(2027, 12, 1, 20, 30)),
        ("dec 25 at 18:00", utc(2026, 12, 25, 17)),
        ("27 nov 09:00", utc(2027, 11, 27, 8)),  # passed this year: next year's
        ("29 feb 9am", utc(2028, 2, 29, 8)),  # the next leap year
        ("tomorrow 8:30", utc(2026, 11, 28, 7, 30)),
        ("yesterday 9am", utc(2026, 11, 26, 8)),  # read; the caller says it is past
        # A weekday beside a date, as the confirmation line writes it.
        ("Tue 1 Dec 2026 09:00", utc(2026, 12, 1, 8)),
        ("tuesday dec 1 9am", utc(2026, 12, 1, 8)),
        ("tue 2026-12-01 09:00", utc(2026, 12, 1, 8)),
    ],
)
def test_everyday_forms(text, expected):
    assert when(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("yesterday", "'yesterday' is in the past. Give a time to come"),
        ("last friday", "'last friday' is in the past."),
        ("31 feb 9am", "'31 feb' in '31 feb 9am' is not a date: that month has no day 31."),
        ("next week", "Write 'next' before a weekday"),
        ("sat 1 dec 09:00", "names a Saturday, but Tue 1 Dec 2026 is a Tuesday."),
        ("mon tue 9am", "It names two days."),
        ("9999-12-31T23:59:59-05:00", "more than ten years away"),
        ("9999-12-31T23:59:59+14:00", "more than ten years away"),
        ("9999-12-31 23:59", "more than ten years away"),
        ("0001-01-01T00:00+05:00", "in the past"),
        ("0001-01-01 00:00", "in the past"),
        ("1900-01-01 00:00", "in the past, more than ten years ago"),
        ("2040-01-01 09:00", "more than ten years away"),
        ("+99999999999999999999d", "more than ten years away"),
    ],
)
def test_past_and_calendar_edges_say_so(text, message):
    for zone in (BERLIN, NEW_YORK, ZoneInfo("Pacific/Kiritimati"), ZoneInfo("Etc/GMT+12")):
        with pytest.raises(UsageError) as info:
            when(text, tz=zone)
        assert message in str(info.value), (zone, str(info.value))
        assert info.value.exit_code == 2


@settings(max_examples=300, deadline=None)
@given(moment=st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
       offset=st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59),
       zone=st.sampled_from([BERLIN, NEW_YORK, LORD_HOWE, ZoneInfo("Pacific/Kiritimati")]))
def test_any_iso_time_is_read_or_refused_clearly(moment, offset, zone):
    sign = "+" if offset >= 0 else "-"
    written = moment.replace(microsecond=0).isoformat()  # years below 1000 zero-padded
    for text in (f"{written}{sign}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}",
                 written.replace("T", " ")):
        try:
            instant = when(text, tz=zone)
        except UsageError as error:
            assert "ten years" in error.message or "in the past" in error.message
        else:
            assert abs(instant - NOW) <= timedelta(days=10 * 366)
            describe(instant, tz=zone, now=NOW)  # and it can be shown


_WORDS = ["next", "last", "yesterday", "tomorrow", "today", "noon", "midnight", "at", "on",
          "dec", "december", "1st", "29", "31", "9am", "12pm", "09:00", "23:59", "fri",
          "friday", "+2h", "in", "2", "hours", "2026-12-01", "9999-12-31", "0001-01-01",
          "T23:59:59-05:00", "Z", ",", "1", "feb", "2027", "now", "+14:00"]


@settings(max_examples=400, deadline=None)
@given(text=st.one_of(st.text(max_size=40),
                      st.lists(st.sampled_from(_WORDS), max_size=6).map(" ".join)),
       zone=st.sampled_from([BERLIN, NEW_YORK, LORD_HOWE, ZoneInfo("Pacific/Kiritimati")]))
def test_any_text_is_read_or_refused_with_a_message(text, zone):
    try:
        instant = when(text, tz=zone)
    except UsageError as error:
        assert error.message and error.exit_code == 2
    else:
        assert instant.tzinfo is not None
        assert abs(instant - NOW) <= timedelta(days=10 * 366)
        describe(instant, tz=zone, now=NOW)
