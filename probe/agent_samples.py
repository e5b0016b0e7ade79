"""What the agent measured, as samples of DESIGN.md's schema (pure: results in, `Sample`s out).

Every sample carries the common tags (`common_tags`): the agent's id, the home's area (the postcode district,
never the full postcode) and the optional site. Nothing that identifies a call or a machine on the network is a
tag: a call is told apart by its `call_key` string field (a salted hash).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from homeshore.collector.schema import Sample
from homeshore.planning.cause import CauseFinding
from homeshore.probe.host import HostContext, host_dict
from homeshore.quality.calls import CallSample

HOST_FIELDS = ("cpu_pct", "mem_pct", "rx_mbps", "tx_mbps", "wifi_signal_dbm", "link_mbps")
# Call windows start on a grid shared by every stream (multiples of 10 s of Unix time), so two streams with the
# same tags (two calls at once, same codec and direction) would share a series and a timestamp, and InfluxDB
# would keep only the last. A few nanoseconds from the SSRC tell them apart without making the SSRC a tag.
CALL_TIME_SPREAD_NS = 1000


def common_tags(agent: str, area: str = "", site: str = "") -> dict[str, str]:
    """The tags of every agent sample; empty values are left out by `Sample`."""
    return {"agent": agent, "area": area, "site": site}


def host_sample(context: HostContext, tags: Mapping[str, str], time_ns: int,
                extra: Mapping[str, float | str | None] | None = None) -> Sample | None:
    """The `host` measurement from a context whose traffic reading covers the last interval, with `extra`
    fields (the home segment, Wi-Fi and VPN: probe/agent/host_source.py); None when nothing at all was
    measured (a sample needs a field)."""
    host = host_dict(context)
    fields = {**{name: host[name] for name in HOST_FIELDS}, **(extra or {})}
    if all(value is None for value in fields.values()):
        return None
    return Sample("host", {**tags, "conn": host["conn"]}, fields, time_ns)


def call_sample(sample: CallSample, tags: Mapping[str, str], conn: str = "unknown",
                finding: CauseFinding | None = None) -> Sample:
    """One `call` point (a 10-s window or the stream's end) from the call tracker's sample.

    The tracker's figures map to the schema's names (jitter_max_ms -> max_jitter_ms, call -> call_key); the
    schema's reordered, duplicates and discarded_pct are not in a CallSample and are left out (None). mos_model
    (g107, or g107.1 whose R runs to 129) and mos_note (why no MOS, or why it is a floor) say how to read
    r_factor and mos. The window's start (or the stream's last packet, for `end`) is the time. A poor window's
    `finding` adds the `cause` tag and its evidence as fields (gateway_jitter_ms, upload_use, ...)."""
    time_ns = round(sample.time_s * 1e9) + sample.ssrc % CALL_TIME_SPREAD_NS
    cause = {"cause": finding.cause} if finding else {}
    return Sample(
        "call",
        {**tags, "conn": conn, "codec": sample.codec, "direction": sample.direction, "phase": sample.phase, **cause},
        {
            **(finding.evidence if finding else {}),
            "packets": sample.packets, "lost": sample.lost, "loss_pct": sample.loss_pct,
            "jitter_ms": sample.jitter_ms, "max_jitter_ms": sample.jitter_max_ms, "rtt_ms": sample.rtt_ms,
            "r_factor": sample.r_factor, "mos": sample.mos, "call_key": sample.call,
            "mos_model": sample.mos_model, "mos_note": sample.mos_note,
        },
        time_ns,
    )


@dataclass(frozen=True)
class SelfMetrics:
    """The agent's own health, the `agent` measurement. Capture figures are None when capture is off."""

    spool_rows: int
    spool_dropped: int  # since the spool was created (persistent), as SpoolStats.dropped
    write_errors: int  # failed flush attempts since the agent started
    packets_seen: int | None  # since capture started
    capture_drops: int | None  # packets the kernel dropped because the agent fell behind


def agent_sample(metrics: SelfMetrics, tags: Mapping[str, str], time_ns: int) -> Sample:
    return Sample("agent", tags, {
        "spool_rows": metrics.spool_rows, "spool_dropped": metrics.spool_dropped,
        "write_errors": metrics.write_errors, "packets_seen": metrics.packets_seen,
        "capture_drops": metrics.capture_drops,
    }, time_ns)


def speedtest_samples(document: dict[str, Any], tags: Mapping[str, str]) -> list[Sample]:
    """A scheduled speed test, stored as a `homeshore check` is (collector/check_samples.py): `readiness` (the
    verdict under the default policy, so a home's history can be judged over time, DESIGN.md "Readiness
    policy"), `bandwidth`, and `voip_test` when the server has a reflector. `document` is the check document
    (probe/check_document.py) built with candidate None; the agent's common tags (site included) are added."""
    from homeshore.collector.check_samples import check_samples

    samples = check_samples(document, agent=tags.get("agent", ""), source="agent")
    return [Sample(s.measurement, {**s.tags, **tags}, s.fields, s.time_ns) for s in samples]
