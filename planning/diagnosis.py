"""`homeshore diagnose`, pure: one agent's `call` windows around a time into the call, its windows per direction,
and its poor stretches in plain words (issue 18). Points in (from the spool or the collector:
planning/diagnosis_source.py), a `Diagnosis` out.

- The call is the one whose window starts nearest the time asked (its `call_key`, a salted hash, is never shown).
- Both directions of a window share its cause (probe/agent/call_causes.py gives both samples the window's
  finding), so periods are built over window starts: consecutive windows (the next starting at most one window
  length after the last) with the same cause make one period; a window without a cause, a gap or another cause
  ends it. A period runs from its first window's start to its last window's end.
- A period's evidence is the worst of each figure over its windows (the highest loss, jitter, use, round trip
  or CPU; the weakest Wi-Fi signal), so its sentence says how bad it got.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
import re
from datetime import date, datetime, time, timezone, tzinfo

from homeshore.quality.analyzer import WINDOW_S

_NS = 1_000_000_000
# Window starts sit on a 10-s grid; the agent adds under a microsecond from the SSRC so two streams never share a
# timestamp (probe/agent_samples.CALL_TIME_SPREAD_NS). A window's start to the millisecond groups both directions.
_SLOT_NS = 1_000_000
LOWER_IS_WORSE = frozenset({"wifi_signal_dbm"})
CALL_SPAN_S = 4 * 3600  # windows read either side of the search range: calls up to this long are shown whole


@dataclass(frozen=True)
class CallWindow:
    """One direction of one call window as stored: a `call` point with phase "window"."""

    call_key: str
    time_ns: int  # the window's start
    direction: str  # "inbound" (measured here) or "outbound" (as the far end reports it)
    mos: float | None = None
    jitter_ms: float | None = None
    loss_pct: float | None = None
    cause: str | None = None  # the `cause` tag; None for a window that was not poor
    evidence: Mapping[str, float | str] = field(default_factory=dict)

    @property
    def slot_ns(self) -> int:
        return self.time_ns - self.time_ns % _SLOT_NS


@dataclass(frozen=True)
class Period:
    """Consecutive windows with the same cause: start of the first to end of the last, worst evidence."""

    cause: str
    start_ns: int
    end_ns: int
    windows: int
    evidence: Mapping[str, float | str]


@dataclass(frozen=True)
class Diagnosis:
    start_ns: int  # the call's first window's start
    end_ns: int  # its last window's end
    windows: tuple[CallWindow, ...]  # by start, then direction
    periods: tuple[Period, ...]  # poor periods only, in time order


# The evidence fields a finding may carry (planning/cause.py): what a source reads besides the window figures.
EVIDENCE_FIELDS = ("cpu_pct", "upload_use", "download_use", "wifi_signal_dbm", "wifi_retries_per_s",
                   "gateway_rtt_ms", "gateway_jitter_ms", "gateway_loss_pct", "vpn_kind", "far_end_loss_pct",
                   "far_end_jitter_ms", "inbound_loss_pct", "inbound_jitter_ms")


def window_of(tags: Mapping[str, str], fields: Mapping[str, object], time_ns: int) -> CallWindow | None:
    """A stored `call` point as a CallWindow; None for an end point or one without a call_key."""
    key = fields.get("call_key")
    if tags.get("phase") != "window" or not isinstance(key, str) or not key:
        return None

    def number(name: str) -> float | None:
        value = fields.get(name)
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    evidence: dict[str, float | str] = {}
    for name in EVIDENCE_FIELDS:
        value = fields.get(name)
        if isinstance(value, str) and value:
            evidence[name] = value
        elif (figure := number(name)) is not None:
            evidence[name] = figure
    return CallWindow(key, time_ns, tags.get("direction", ""), number("mos"), number("jitter_ms"),
                      number("loss_pct"), tags.get("cause") or None, evidence)


def diagnose(windows: Sequence[CallWindow], at_ns: int, within_ns: int,
             window_s: float = WINDOW_S) -> Diagnosis | None:
    """The call whose window starts nearest `at_ns` (within `within_ns`), all of its windows among `windows`,
    or None when no window is that near. A source reads `CALL_SPAN_S` more either side, so a long call found
    near the time is shown whole."""
    near = [w for w in windows if abs(w.time_ns - at_ns) <= within_ns]
    if not near:
        return None
    nearest = min(near, key=lambda w: (abs(w.time_ns - at_ns), w.time_ns))
    calls = sorted((w for w in windows if w.call_key == nearest.call_key), key=lambda w: (w.slot_ns, w.direction))
    window_ns = round(window_s * _NS)
    return Diagnosis(calls[0].slot_ns, calls[-1].slot_ns + window_ns, tuple(calls),
                     tuple(periods(calls, window_s)))


def periods(windows: Iterable[CallWindow], window_s: float = WINDOW_S) -> list[Period]:
    """Consecutive windows of one call with the same cause merged (module docstring)."""
    window_ns = round(window_s * _NS)
    slots: dict[int, list[CallWindow]] = {}
    for window in windows:
        slots.setdefault(window.slot_ns, []).append(window)
    found: list[Period] = []
    open_cause: str | None = None
    start = last = count = 0
    evidence: dict[str, float | str] = {}
    for slot in sorted(slots):
        cause = next((w.cause for w in slots[slot] if w.cause), None)
        follows = open_cause is not None and slot - last <= window_ns
        if open_cause is not None and (cause != open_cause or not follows):
            found.append(Period(open_cause, start, last + window_ns, count, evidence))
            open_cause = None
        if cause is None:
            continue
        if open_cause is None:
            open_cause, start, count, evidence = cause, slot, 0, {}
        last, count = slot, count + 1
        for window in slots[slot]:
            if window.cause == cause:
                evidence = _worst(evidence, window.evidence)
    if open_cause is not None:
        found.append(Period(open_cause, start, last + window_ns, count, evidence))
    return found


def _worst(so_far: Mapping[str, float | str], more: Mapping[str, float | str]) -> dict[str, float | str]:
    merged = dict(so_far)
    for name, value in more.items():
        old = merged.get(name)
        if isinstance(value, float) and isinstance(old, float):
            merged[name] = min(old, value) if name in LOWER_IS_WORSE else max(old, value)
        elif old is None:
            merged[name] = value
    return merged


def parse_at(text: str, today: date, zone: tzinfo | None = None) -> datetime:
    """`--at`: HH:MM or HH:MM:SS on `today`, or ISO-8601; without an offset in `zone` (None: the machine's local
    time zone, as TZ or /etc/localtime set it). An aware UTC datetime; ValueError naming the text."""
    text = text.strip()
    match = re.fullmatch(r"(\d{1,2}):(\d{2})(?::(\d{2}))?", text)
    try:
        if match:
            hour, minute, second = (int(part or 0) for part in match.groups())
            moment = datetime.combine(today, time(hour, minute, second))
        else:
            moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        raise ValueError(f"time {text!r} is not HH:MM, HH:MM:SS or ISO-8601 (2026-12-06T10:40)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone) if zone is not None else moment.astimezone()
    return moment.astimezone(timezone.utc)


def clock(time_ns: int, zone: tzinfo | None) -> str:
    """HH:MM:SS in `zone` (None: the machine's local time; the window grid is whole seconds)."""
    return datetime.fromtimestamp(time_ns // _NS, zone).strftime("%H:%M:%S")


def _figure(value: float | str | None, unit: str) -> str | None:
    if value is None or isinstance(value, str):
        return None
    return f"{value:.0f}{unit}" if abs(value) >= 10 or value == int(value) else f"{value:.1f}{unit}"


def _joined(parts: list[str | None], last: str = " and ") -> str:
    kept = [part for part in parts if part]
    return ", ".join(kept[:-1]) + last + kept[-1] if len(kept) > 1 else "".join(kept)


def _router(e: Mapping[str, float | str]) -> str:
    """The home segment's figures as a clause: "the router answered in 25 ms with 4 % loss and 12 ms jitter"."""
    rtt, loss = _figure(e.get("gateway_rtt_ms"), " ms"), _figure(e.get("gateway_loss_pct"), " % loss")
    jitter = _figure(e.get("gateway_jitter_ms"), " ms jitter")
    if not (rtt or loss or jitter):
        return ""
    answered = f"answered in {rtt}" if rtt else "answered"
    return "the router " + answered + (" with " + _joined([loss, jitter]) if loss or jitter else "")


def _use(value: float | str | None) -> str:
    return f"{value * 100:.0f} %" if isinstance(value, float) else "all"


def sentence(period: Period, zone: tzinfo | None) -> str:
    """One plain sentence per cause kind, with the evidence figures and the period's local times."""
    e = period.evidence
    when = f"from {clock(period.start_ns, zone)} to {clock(period.end_ns, zone)}"
    router = _router(e)
    if period.cause == "upload_saturated":
        return (f"Your upload was saturated by other traffic on this machine {when} ({_use(e.get('upload_use'))}"
                " of the line's upload speed in use).")
    if period.cause == "download_saturated":
        return (f"Your download was saturated by other traffic on this machine {when} "
                f"({_use(e.get('download_use'))} of the line's download speed in use).")
    if period.cause == "cpu":
        cpu = _figure(e.get("cpu_pct"), " %")
        return f"This computer's processor was overloaded {when}" + (f" (CPU at {cpu})." if cpu else ".")
    if period.cause == "wifi_signal":
        figures = _joined([_figure(e.get("wifi_signal_dbm"), " dBm signal"),
                           _figure(e.get("wifi_retries_per_s"), " retries a second")])
        return f"The Wi-Fi link was poor {when}" + (f" ({figures})." if figures else ".")
    if period.cause == "home_network":
        return (f"{when.capitalize()} {router or 'the router answered poorly'}: the home network (Wi-Fi or router) "
                "was the problem.")
    if period.cause == "vpn":
        kind = e.get("vpn_kind")
        through = f"a VPN ({kind})" if isinstance(kind, str) else "a VPN"
        return (f"{when.capitalize()} the call went through {through} while the home network was clean: the VPN "
                "or its server was the likely problem.")
    if period.cause == "far_end":
        figures = _joined([_figure(e.get("far_end_loss_pct"), " % loss"),
                           _figure(e.get("far_end_jitter_ms"), " ms jitter")])
        return (f"{when.capitalize()} the far end reported {figures or 'poor reception'} on what it received from "
                "this machine, while what it sent arrived clean: their side, or the line beyond the home.")
    if period.cause == "beyond_home":
        figures = _joined([_figure(e.get("inbound_loss_pct"), " % loss"),
                           _figure(e.get("inbound_jitter_ms"), " ms jitter")])
        clean = f" ({router})" if router else ""
        return (f"{when.capitalize()} the call arrived with {figures or 'poor quality'} while the home network was "
                f"clean{clean}: the internet provider or beyond was the problem.")
    return f"The call was poor {when}, and nothing measured on this machine explains it."


def summary_lines(diagnosis: Diagnosis, zone: tzinfo | None) -> list[str]:
    """The plain-words lines: one per poor period, or one saying the call had none."""
    if not diagnosis.periods:
        return [f"The call from {clock(diagnosis.start_ns, zone)} to {clock(diagnosis.end_ns, zone)} had no poor "
                "window."]
    return [sentence(period, zone) for period in diagnosis.periods]
