"""Schedules and the scheduler's decisions (pure code: no I/O, the clock is injected).

A schedule is one of:

* a cron expression with 5 fields (``"*/5 * * * *"``: minute hour day month weekday) or 6 fields
  with seconds first (``"*/5 * * * * *"``), parsed and evaluated by ``cronsim`` (Debian cron
  semantics, plus ``L``, ``LW``, ``MON#2``...);
* a macro: ``@yearly`` / ``@annually``, ``@monthly``, ``@weekly``, ``@daily`` / ``@midnight``,
  ``@hourly`` (5-field cron underneath);
* ``@every <duration>`` (``"@every 30s"``, ``"@every 1h30m"``; whole seconds, at least 1 s),
  anchored to the Unix epoch so that every worker computes the same ticks without talking;
* ``@at <ISO 8601 time>`` (``"@at 2030-01-01T09:00:00"``): one run; a time without an offset is
  read in the job's time zone.

Time zones are IANA names (``zoneinfo``). DST: 5-field expressions and macros follow Debian cron
(a time skipped by the spring-forward jump runs at the jump; a time repeated by the fall-back
runs once); 6-field expressions match wall-clock times literally (a skipped time never happens,
a repeated time happens twice, as both are real instants). ``@every`` and ``@at`` ignore DST.

Every tick is identified by its UTC time: ``tick_id`` renders it as ``20250330T010000.000Z``
(sortable; manual runs add ``~<nonce>``, retries ``#r<attempt>``).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from .jobs import InvalidJobError

UTC = timezone.utc

Clock = Callable[[], float]
"""A clock: seconds since the Unix epoch, like ``time.time`` (the default)."""

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

_DURATION = re.compile(r"(\d+)(h|ms|m|s)")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def system_clock() -> float:
    """The default clock: ``time.time()``."""
    return time.time()


class OffsetClock:
    """A clock ``offset`` seconds away from the system clock (to simulate skew or a date)."""

    def __init__(self, offset: float) -> None:
        self.offset = offset

    def __call__(self) -> float:
        return time.time() + self.offset

    def __repr__(self) -> str:
        return f"OffsetClock({self.offset:+.3f})"


def parse_duration(text: str) -> float:
    """``"1h30m"``, ``"45s"``, ``"1500ms"`` -> seconds; InvalidJobError otherwise."""
    raw = text.strip().replace(" ", "")
    if not raw or _DURATION.sub("", raw):
        raise InvalidJobError(f"bad duration {text!r}: use e.g. '30s', '5m', '1h30m'")
    return sum(int(n) * _UNITS[unit] for n, unit in _DURATION.findall(raw))


def timezone_for(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; InvalidJobError if unknown."""
    if not isinstance(name, str) or not name or name.startswith(("/", ".")) or ".." in name:
        raise InvalidJobError(f"unknown time zone {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidJobError(f"unknown time zone {name!r} (use an IANA name such as 'UTC')")


EVERY_SECOND = "* * * * * *"


@dataclass(frozen=True, slots=True)
class Schedule:
    """A parsed schedule (see the module docstring). Build it with ``Schedule.parse``."""

    expression: str
    kind: str
    """``"cron"``, ``"every"`` or ``"at"``."""
    cron: str = ""
    interval: int = 0
    at: datetime | None = None

    @classmethod
    def parse(cls, expression: str, tz: str = "UTC") -> Schedule:
        """Parse and check ``expression`` for time zone ``tz``; InvalidJobError if malformed."""
        if not isinstance(expression, str) or not expression.strip():
            raise InvalidJobError("a schedule is required (cron, '@every 30s' or '@at ...')")
        zone = timezone_for(tz)
        text = " ".join(expression.split())
        lowered = text.lower()
        if lowered.startswith("@every"):
            seconds = parse_duration(text[len("@every") :])
            if seconds < 1 or seconds != int(seconds):
                raise InvalidJobError(f"@every needs whole seconds, at least 1s: {expression!r}")
            return cls(text, "every", interval=int(seconds))
        if lowered.startswith("@at"):
            return cls(text, "at", at=_parse_at(text[len("@at") :].strip(), zone))
        cron = MACROS.get(lowered, text)
        if cron.startswith("@"):
            raise InvalidJobError(
                f"unknown schedule macro {text!r} (known: {', '.join(MACROS)}, @every, @at)"
            )
        fields = cron.split()
        if len(fields) not in (5, 6):
            raise InvalidJobError(
                f"bad cron expression {expression!r}: expected 5 fields "
                "(minute hour day month weekday) or 6 with seconds first"
            )
        try:
            next(CronSim(cron, datetime(2000, 1, 1, tzinfo=zone)))
        except CronSimError as error:
            raise InvalidJobError(f"bad cron expression {expression!r}: {error}") from None
        except StopIteration:
            raise InvalidJobError(f"cron expression {expression!r} never fires") from None
        return cls(text, "cron", cron=cron)

    def next_after(self, after: datetime, tz: ZoneInfo) -> datetime | None:
        """The first fire time strictly after ``after`` (aware), as an aware UTC datetime;
        None when there is none (a past ``@at``, or a cron with no match within 50 years)."""
        if self.kind == "every" or self.cron == EVERY_SECOND:
            # Every second is every second in any time zone (6-field crons match wall-clock
            # times literally: a repeated time runs twice, a skipped one never exists).
            stamp = after.timestamp()
            step = self.interval or 1
            return datetime.fromtimestamp((int(stamp // step) + 1) * step, UTC)
        after = after.astimezone(UTC)
        if self.kind == "at":
            assert self.at is not None
            return self.at if self.at > after else None
        iterator = CronSim(self.cron, after.astimezone(tz))
        for _ in range(4):  # guards against a repeated wall-clock time mapping backwards
            try:
                found = next(iterator).astimezone(UTC)
            except StopIteration:
                return None
            if found > after:
                return found
        return None  # pragma: no cover - cronsim always moves forward

    def ticks(
        self, after: datetime, until: datetime, tz: ZoneInfo, limit: int = 1000
    ) -> list[datetime]:
        """Fire times in ``(after, until]`` (UTC), at most ``limit`` (the latest ones)."""
        return self.ticks_and_next(after, until, tz, limit)[0]

    def ticks_and_next(
        self, after: datetime, until: datetime, tz: ZoneInfo, limit: int = 1000
    ) -> tuple[list[datetime], datetime | None]:
        """``ticks(after, until, tz, limit)`` and the first fire time after ``until`` (None if
        there is none), found in the same pass."""
        found: list[datetime] = []
        current: datetime | None = after
        while current is not None:
            current = self.next_after(current, tz)
            if current is None or current > until:
                break
            found.append(current)
            if len(found) > limit:
                del found[0]
        return found, current


def _parse_at(text: str, zone: ZoneInfo) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidJobError(f"bad @at time {text!r}: use ISO 8601, e.g. 2030-01-01T09:00:00")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC).replace(microsecond=0)


def to_datetime(stamp: float) -> datetime:
    """A Unix time as an aware UTC datetime."""
    return datetime.fromtimestamp(stamp, UTC)


# -- tick identifiers -------------------------------------------------------------------------


def tick_id(moment: datetime, nonce: str = "") -> str:
    """The sortable id of a tick: its UTC time, ``20250330T010000.000Z`` (+ ``~nonce``)."""
    utc = moment if moment.tzinfo is UTC else moment.astimezone(UTC)
    text = (
        f"{utc.year:04d}{utc.month:02d}{utc.day:02d}T{utc.hour:02d}{utc.minute:02d}"
        f"{utc.second:02d}.{utc.microsecond // 1000:03d}Z"
    )
    return f"{text}~{nonce}" if nonce else text


def retry_id(base: str, attempt: int) -> str:
    """The id of attempt ``attempt`` (>= 2) of the run ``base``; ``base`` itself for 1."""
    return base if attempt <= 1 else f"{base}#r{attempt}"


def base_id(run_id: str) -> str:
    """The tick id without its ``#r<attempt>`` suffix."""
    return run_id.split("#", 1)[0]


def tick_time(run_id: str) -> datetime:
    """The UTC time a tick id names (``ValueError`` if it is not one)."""
    stamp = base_id(run_id).split("~", 1)[0]
    return datetime.strptime(stamp, "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=UTC)


# -- decisions --------------------------------------------------------------------------------

RUN = "run"
MISS = "miss"


def plan_due(
    ticks: Sequence[datetime],
    now: datetime,
    misfire: str,
    grace: float,
    delay: Callable[[datetime], float] | None = None,
) -> list[tuple[datetime, str]]:
    """What to do with the due ``ticks`` (ascending) at ``now``: ``RUN`` or ``MISS`` each.

    A tick no more than ``grace`` seconds late (counted from the tick plus its ``delay``, the
    jitter) runs. Later ticks misfired: with ``"skip"`` each is recorded as missed; with
    ``"run_once"`` the latest misfired tick runs (unless a tick on time runs anyway) and the
    others are recorded as missed.
    """

    def lateness(tick: datetime) -> float:
        return (now - tick).total_seconds() - (delay(tick) if delay else 0.0)

    late = [t for t in ticks if lateness(t) > grace]
    on_time = [t for t in ticks if lateness(t) <= grace]
    plan = [(t, MISS) for t in late]
    if misfire == "run_once" and late and not on_time:
        plan[-1] = (late[-1], RUN)
    plan += [(t, RUN) for t in on_time]
    return plan


def jitter_delay(name: str, run_id: str, jitter: float) -> float:
    """A delay in ``[0, jitter)`` that every worker computes alike for this job and tick."""
    if jitter <= 0:
        return 0.0
    digest = hashlib.sha256(f"{name}\0{run_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64 * jitter


def retry_delay(attempt: int, backoff: float, cap: float = 300.0) -> float:
    """Seconds to wait before attempt ``attempt`` (2, 3, ...): ``backoff * 2**(attempt-2)``."""
    return min(backoff * 2.0 ** max(attempt - 2, 0), cap)


def next_fire(
    schedule: Schedule, tz: ZoneInfo, now: float, last: datetime | None = None
) -> datetime | None:
    """The next tick strictly after ``now`` (a Unix time) and after ``last`` (if given)."""
    start = to_datetime(now)
    if last is not None and last > start:
        start = last
    return schedule.next_after(start, tz)
