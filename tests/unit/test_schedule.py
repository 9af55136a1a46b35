"""Pure scheduler logic: schedules, DST, tick ids, misfire plans, job definitions, key layout."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from etcd_recipes._core import schedule as sched
from etcd_recipes._core.jobs import (
    RESERVED,
    InvalidJobError,
    JobKeys,
    JobSpec,
    RunOutcome,
    RunRecord,
    check_job_name,
    truncate,
)
from etcd_recipes._core.keys import prefix_range_end

UTC = timezone.utc
NY = ZoneInfo("America/New_York")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def test_cron_with_seconds_and_five_fields() -> None:
    every5 = sched.Schedule.parse("*/5 * * * * *")
    assert every5.next_after(utc(2025, 1, 1, 0, 0, 5), UTC) == utc(2025, 1, 1, 0, 0, 10)
    assert every5.next_after(utc(2025, 1, 1, 0, 0, 5, 500), UTC) == utc(2025, 1, 1, 0, 0, 10)
    minutely = sched.Schedule.parse("* * * * *")
    assert minutely.next_after(utc(2025, 1, 1, 0, 0, 1), UTC) == utc(2025, 1, 1, 0, 1)
    ticks = every5.ticks(utc(2025, 1, 1), utc(2025, 1, 1, 0, 0, 20), UTC)
    assert [t.second for t in ticks] == [5, 10, 15, 20]
    assert len(every5.ticks(utc(2025, 1, 1), utc(2025, 1, 2), UTC, limit=3)) == 3


def test_macros_every_and_at() -> None:
    hourly = sched.Schedule.parse("@hourly")
    assert hourly.kind == "cron" and hourly.cron == "0 * * * *"
    assert hourly.next_after(utc(2025, 1, 1, 3, 5), UTC) == utc(2025, 1, 1, 4)
    every = sched.Schedule.parse("@every 1m30s")
    assert every.interval == 90
    # Anchored to the epoch: every worker computes the same ticks.
    tick = every.next_after(utc(2025, 1, 1, 0, 0, 1), UTC)
    assert tick is not None and tick.timestamp() % 90 == 0
    assert sched.parse_duration("1h2m3s") == 3723 and sched.parse_duration("1500ms") == 1.5
    at = sched.Schedule.parse("@at 2030-01-01T09:00:00", "America/New_York")
    assert at.at == utc(2030, 1, 1, 14)
    assert at.next_after(utc(2029, 1, 1), NY) == utc(2030, 1, 1, 14)
    assert at.next_after(utc(2030, 1, 1, 14), NY) is None
    assert sched.Schedule.parse("@at 2030-01-01T09:00:00Z").at == utc(2030, 1, 1, 9)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("", "schedule is required"),
        ("61 * * * *", "bad cron"),
        ("* * * *", "expected 5 fields"),
        ("* * * * * * *", "expected 5 fields"),
        ("@fortnightly", "unknown schedule macro"),
        ("@every 0s", "at least 1s"),
        ("@every 1500ms", "whole seconds"),
        ("@every soon", "bad duration"),
        ("@at yesterday", "bad @at time"),
        ("0 0 31 2 *", "bad cron"),
    ],
)
def test_bad_schedules(expression: str, message: str) -> None:
    with pytest.raises(InvalidJobError, match=message):
        sched.Schedule.parse(expression)


def test_unknown_time_zone() -> None:
    for name in ("Mars/Olympus", "", "../etc/passwd", "/etc/localtime"):
        with pytest.raises(InvalidJobError, match="unknown time zone"):
            sched.timezone_for(name)
    with pytest.raises(InvalidJobError, match="unknown time zone"):
        sched.Schedule.parse("* * * * *", "Nowhere/City")


def test_dst_spring_forward_five_fields_runs_at_the_jump() -> None:
    daily = sched.Schedule.parse("30 2 * * *", "America/New_York")
    # 2025-03-09: 02:00 EST jumps to 03:00 EDT (07:00 UTC); 02:30 does not exist.
    first = daily.next_after(utc(2025, 3, 8, 12), NY)
    assert first == utc(2025, 3, 9, 7)  # runs at the jump, like Debian cron
    assert daily.next_after(first, NY) == utc(2025, 3, 10, 6, 30)  # 02:30 EDT next day


def test_dst_fall_back_five_fields_runs_once() -> None:
    daily = sched.Schedule.parse("30 1 * * *", "America/New_York")
    # 2025-11-02: 01:00-02:00 happens twice (EDT, then EST).
    first = daily.next_after(utc(2025, 11, 1, 12), NY)
    assert first == utc(2025, 11, 2, 5, 30)  # 01:30 EDT
    assert daily.next_after(first, NY) == utc(2025, 11, 3, 6, 30)  # not 01:30 EST again


def test_dst_six_fields_match_wall_clock_literally() -> None:
    daily = sched.Schedule.parse("0 30 1 * * *", "America/New_York")
    first = daily.next_after(utc(2025, 11, 1, 12), NY)
    assert first == utc(2025, 11, 2, 5, 30)
    assert daily.next_after(first, NY) == utc(2025, 11, 2, 6, 30)  # the repeated 01:30 EST
    skipped = sched.Schedule.parse("0 30 2 * * *", "America/New_York")
    assert skipped.next_after(utc(2025, 3, 8, 12), NY) == utc(2025, 3, 10, 6, 30)


def test_every_second_across_dst_is_every_real_second() -> None:
    each = sched.Schedule.parse("* * * * * *", "America/New_York")
    for start in (utc(2025, 3, 9, 6, 59, 50), utc(2025, 11, 2, 5, 59, 50)):
        ticks = each.ticks(start, start + timedelta(seconds=20), NY)
        assert ticks == [start + timedelta(seconds=i) for i in range(1, 21)]
    start = utc(2025, 11, 2, 6, 59, 50)  # the second 01:59:50 (EST)
    assert len(each.ticks(start, start + timedelta(seconds=20), NY)) == 20


@pytest.mark.parametrize("zone", ["America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"])
def test_every_second_shortcut_agrees_with_cronsim(zone: str) -> None:
    from cronsim import CronSim

    tz = ZoneInfo(zone)
    each = sched.Schedule.parse("*  * * * * *", zone)  # normalised: the every-second shortcut
    assert each.cron == sched.EVERY_SECOND
    for start in (utc(2025, 3, 9, 6, 59, 50), utc(2025, 4, 5, 14, 59, 50), utc(2025, 11, 2, 6)):
        expected, current = [], start
        for _ in range(25):  # what cronsim itself gives, step by step
            later = (t.astimezone(UTC) for t in CronSim(sched.EVERY_SECOND, current.astimezone(tz)))
            current = next(t for t in later if t > current)
            expected.append(current)
        ticks, following = each.ticks_and_next(start, expected[-2], tz)
        assert ticks == expected[:-1] and following == expected[-1]
        late = start + timedelta(microseconds=300_000)
        assert each.next_after(late, tz) == start + timedelta(seconds=1)


def test_tick_ids_sort_and_round_trip() -> None:
    a = sched.tick_id(utc(2025, 3, 30, 1, 0, 0))
    assert a == "20250330T010000.000Z"
    b = sched.tick_id(utc(2025, 3, 30, 1, 0, 1))
    manual = sched.tick_id(datetime(2025, 3, 30, 1, 0, 0, 123456, UTC), "abc")
    assert manual == "20250330T010000.123Z~abc"
    retry = sched.retry_id(a, 2)
    assert retry == "20250330T010000.000Z#r2" and sched.retry_id(a, 1) == a
    assert sorted([b, retry, manual, a]) == [a, retry, manual, b]
    assert sched.base_id(retry) == a
    assert sched.tick_time(retry) == utc(2025, 3, 30, 1)
    assert sched.tick_time(manual) == datetime(2025, 3, 30, 1, 0, 0, 123000, UTC)
    assert sched.tick_id(datetime(2025, 3, 30, 4, 0, 0, 5000, ZoneInfo("Europe/Riga"))) == (
        "20250330T010000.005Z"
    )


def test_plan_due_skip_and_run_once() -> None:
    t = [utc(2025, 1, 1, 0, 0, s) for s in range(5)]
    now = utc(2025, 1, 1, 0, 0, 10)
    assert sched.plan_due(t, now, "skip", 7.0) == [
        (t[0], sched.MISS),
        (t[1], sched.MISS),
        (t[2], sched.MISS),
        (t[3], sched.RUN),
        (t[4], sched.RUN),
    ]
    # run_once: an on-time tick covers the misfired ones.
    assert [a for _, a in sched.plan_due(t, now, "run_once", 7.0)].count(sched.RUN) == 2
    # run_once with every tick late: the latest runs once, the rest are missed.
    plan = sched.plan_due(t, now, "run_once", 1.0)
    assert plan[-1] == (t[4], sched.RUN) and [a for _, a in plan[:-1]] == [sched.MISS] * 4
    assert all(a == sched.MISS for _, a in sched.plan_due(t, now, "skip", 1.0))
    # Lateness counts from the tick plus its jitter.
    assert sched.plan_due(t[:1], now, "skip", 1.0, delay=lambda _t: 9.5) == [(t[0], sched.RUN)]


def test_jitter_and_backoff() -> None:
    d = sched.jitter_delay("job", "20250101T000000.000Z", 10.0)
    assert 0 <= d < 10 and d == sched.jitter_delay("job", "20250101T000000.000Z", 10.0)
    assert d != sched.jitter_delay("job", "20250101T000001.000Z", 10.0)
    assert sched.jitter_delay("job", "x", 0) == 0
    assert [sched.retry_delay(a, 1.0) for a in (2, 3, 4)] == [1.0, 2.0, 4.0]
    assert sched.retry_delay(30, 1.0) == 300.0


def test_clocks() -> None:
    clock = sched.OffsetClock(-2.0)
    assert abs(clock() + 2.0 - sched.system_clock()) < 0.5
    assert sched.next_fire(sched.Schedule.parse("@every 10s"), NY, 1_000_005.0) == (
        sched.to_datetime(1_000_010.0)
    )
    later = utc(2030, 1, 1)
    nxt = sched.next_fire(sched.Schedule.parse("@every 10s"), NY, 0.0, last=later)
    assert nxt == later + timedelta(seconds=10)


def spec(**changes: object) -> JobSpec:
    base: dict[str, object] = {"name": "job", "schedule": "* * * * * *", "handler": "h"}
    base.update(changes)
    return JobSpec(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "a/b"}, "bad job name"),
        ({"name": ""}, "bad job name"),
        ({"name": "-x"}, "bad job name"),
        ({"name": "runs"}, "reserved"),
        ({"name": "history"}, "reserved"),
        ({"schedule": "nope"}, "bad cron"),
        ({"timezone": "Moon/Base"}, "unknown time zone"),
        ({"handler": None}, "exactly one of handler= and command="),
        ({"command": "echo hi"}, "exactly one of handler= and command="),
        ({"handler": None, "command": ""}, "command must not be empty"),
        ({"handler": None, "command": []}, "argv"),
        ({"overlap": "queue"}, "overlap must be one of"),
        ({"misfire": "always"}, "misfire must be one of"),
        ({"args": {"x": object()}}, "args are not JSON"),
        ({"args": [1]}, "args must be a JSON object"),
        ({"retries": -1}, "retries"),
        ({"history_limit": 0}, "history_limit"),
        ({"timeout": 0}, "timeout"),
        ({"jitter": -1}, "jitter"),
        ({"paused": "yes"}, "paused"),
    ],
)
def test_bad_job_definitions(changes: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidJobError, match=message):
        spec(**changes)


def test_job_spec_round_trip() -> None:
    original = spec(
        args={"x": [1, 2]},
        overlap="replace",
        misfire="run_once",
        timeout=3,
        retries=2,
        timezone="Europe/Riga",
    )
    assert JobSpec.from_json(original.to_json()) == original
    assert JobSpec.from_json(original.to_json(), name="other").name == "other"
    command = JobSpec("c", "@hourly", command=["echo", "hi"])  # type: ignore[arg-type]
    assert command.command == ("echo", "hi")
    assert JobSpec.from_json(command.to_json()) == command
    assert original.replace(paused=True).paused
    with pytest.raises(InvalidJobError, match="overlap"):
        original.replace(overlap="bogus")
    with pytest.raises(InvalidJobError, match="unknown job field"):
        JobSpec.from_dict({"name": "x", "schedule": "@hourly", "handler": "h", "color": 1})
    with pytest.raises(InvalidJobError, match="not JSON"):
        JobSpec.from_json(b"{")


def test_run_record_round_trip_and_truncation() -> None:
    record = RunRecord(
        "job",
        "20250101T000000.000Z",
        utc(2025, 1, 1),
        RunOutcome.FAILED,
        worker="w1",
        token=42,
        started=1.0,
        ended=3.5,
        exit_code=2,
        output="x" * 10_000,
    )
    back = RunRecord.from_json(record.to_json(), revision=7)
    assert back.revision == 7 and back.tick == record.tick and back.duration == 2.5
    assert back.output is not None and len(back.output) == 4096 and back.output.startswith("...")
    assert truncate("short") == "short" and truncate(None) is None


def test_key_layout_keeps_definitions_apart() -> None:
    keys = JobKeys("/job/")
    assert keys.run("a", "T") == "/job/runs/a/T"
    assert keys.worker("w", 255) == "/job/workers/w/ff"
    assert keys.split(b"/job/cleanup") == ("job", "cleanup", "")
    assert keys.split(b"/job/runs/cleanup/T1") == ("runs", "cleanup", "T1")
    assert keys.split(b"/job/workers/w1/ff") == ("workers", "w1", "ff")
    assert keys.split(b"/other/x") == ("", "", "")

    def covered(ranges: list[tuple[bytes, bytes]], key: str) -> bool:
        return any(start <= key.encode() < end for start, end in ranges)

    defs = keys.definition_ranges()
    quiet = keys.quiet_ranges()
    names = ["a", "history0", "historz", "kill.x", "running0", "runo", "runs.x", "zz", "Z", "0"]
    for name in names:
        check_job_name(name)
        assert covered(defs, keys.job(name)) and covered(quiet, keys.job(name))
    for sub in RESERVED:
        inner = f"/job/{sub}/x/y"
        assert not covered(defs, inner)
        assert covered(quiet, inner) == (sub in ("kill", "sessions", "triggers", "workers"))
    assert defs[-1][1] == prefix_range_end(b"/job/")
    with pytest.raises(ValueError, match="must end with"):
        JobKeys("/job")
