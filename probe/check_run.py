"""One readiness check, phase by phase: the synthetic call on the idle link, then the download and the upload
with the UDP probe running beside each (RTT under load), and the host context around them.

    run = run_check(CheckPlan(server="http://collector.example.org:8080"), progress)
    measurements = readiness_measurements(run)       # pure: what the policy reads

Why this order: the synthetic call's packets are the latency probe's (172 bytes every 20 ms, probe/udpprobe_wire.py),
so on the idle link one phase gives idle RTT, jitter, loss and MOS at once; the speed phases come after it, so
a queue they fill cannot leak into the idle figures. The UDP figures need the reflector of `homeshore serve`;
speedtest.net's servers have none, so against Ookla only the speeds are measured and the rest is reported as
not reached (never guessed from speedtest-cli's "ping", which is half a TCP connect plus a GET).

A phase that fails after the server was reached does not end the check: its figures stay None and the reason
goes to `not_reached`; only a server that cannot be reached at all (or is not a speed-test server) raises
CheckCannotStart, because then nothing can be measured. Which probes went unanswered and which transfers failed
is kept as well (`unanswered`, `failed_transfers`): phase_outcomes() hands them to probe/check_silence.py, which
tells a server that stopped answering mid-check from loss on the home's path.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urlsplit

from homeshore.probe.check_silence import PhaseOutcome
from homeshore.probe.host import HostContext, host_context, interface_towards
from homeshore.probe.host_traffic import TrafficMeter
from homeshore.probe.latency import CouldNotReach, LatencyResult, UdpProbe
from homeshore.probe.speedtest import SpeedResult, SpeedSession, SpeedTestError
from homeshore.probe.synthetic_call import SyntheticCallResult, run_synthetic_call
from homeshore.probe.udpprobe_wire import G711_SIZE
from homeshore.planning.measurements import CONNECTIONS, ReadinessMeasurements

TCP_OVERHEAD_PCT = 100 * (1514 / 1448 - 1)  # what an interface counts beyond a TCP payload at MTU 1500
# The other direction carries the transfer's ACKs: one 66-byte frame (Ethernet, IP, TCP with timestamps) per two
# full segments (delayed ACK), counted as our own traffic, not the household's.
ACK_BYTES_PER_PAYLOAD_BYTE = 66 / (2 * 1448)
PROBE_INTERVAL_S = 0.02  # the loaded-RTT probe: a G.711 packet's size and rate, as the synthetic call

# progress(phase, fraction done 0..1, note): called from the thread running the check
Progress = Callable[[str, float, str], None]
PHASES = ("call", "download", "upload")


class CheckCannotStart(Exception):
    """No verdict can be given: nothing could be measured (server unreachable, not a speed-test server), or the
    server stopped answering mid-check (ServerStoppedAnswering); str() is one line."""


class ServerStoppedAnswering(CheckCannotStart):
    """The server went silent mid-check (probe/check_silence.py): what was lost is not the home's to answer for."""


@dataclass(frozen=True)
class CheckPlan:
    """What to run: server None is speedtest.net (Ookla); phase lengths in seconds."""

    server: str | None = None
    call_s: float = 30.0
    download_s: float = 10.0
    upload_s: float = 10.0

    @classmethod
    def quick(cls, server: str | None) -> CheckPlan:
        """A check in under 20 s: shorter phases, the same measurements (a 5-s call's 250 packets still show
        loss of 1 % or more, and jitter; its MOS is less certain, which the report does not hide)."""
        return cls(server, call_s=5.0, download_s=5.0, upload_s=5.0)

    @property
    def planned_s(self) -> float:
        return self.call_s + self.download_s + self.upload_s


@dataclass(frozen=True)
class CheckRun:
    """Everything one check measured; a figure is None when its phase did not run (see not_reached)."""

    plan: CheckPlan
    started_at: datetime
    duration_s: float
    speed: SpeedResult | None
    call: SyntheticCallResult | None
    loaded_download: LatencyResult | None
    loaded_upload: LatencyResult | None
    host: HostContext
    not_reached: tuple[str, ...]
    bytes_used: int  # everything the check sent and received (HTTP payload and probes), for the cost budget
    unanswered: tuple[str, ...] = ()  # phases ("call", "download", "upload") whose UDP probe got no reply at all
    failed_transfers: tuple[str, ...] = ()  # speed phases ("download", "upload") whose HTTP transfer failed


def no_progress(phase: str, fraction: float, note: str) -> None:
    pass


def run_check(plan: CheckPlan, progress: Progress = no_progress) -> CheckRun:
    """Run the check (blocks for about plan.planned_s seconds plus connection set-up)."""
    started_at = datetime.now(timezone.utc)
    started_s = time.monotonic()
    not_reached: list[str] = []
    unanswered: list[str] = []
    failed_transfers: list[str] = []
    try:
        session = SpeedSession.open(plan.server)
    except SpeedTestError as error:
        raise CheckCannotStart(str(error)) from None
    host_name = _host_of(session.server_url)
    interface = interface_towards(host_name) if host_name else None
    meter = TrafficMeter(interface).start() if interface else None

    call = None
    if session.udp_port is None:
        not_reached.append("RTT, jitter, loss and the synthetic call need the UDP reflector of a homeshore server "
                           "(--server URL of `homeshore serve`); speedtest.net servers have none")
    else:
        progress("call", 0.0, "")
        try:
            call = run_synthetic_call(host_name, session.udp_port, seconds=plan.call_s,
                                      on_progress=lambda fraction: progress("call", fraction, ""))
        except CouldNotReach as error:
            not_reached.append(f"synthetic call: {error}")
            unanswered.append("call")
        progress("call", 1.0, "")

    failures = (not_reached, unanswered, failed_transfers)
    loaded_download = _loaded(plan, session, host_name, "download", failures, progress)
    loaded_upload = _loaded(plan, session, host_name, "upload", failures, progress)
    speed = session.result()
    traffic = meter.stop() if meter else None
    probe_bytes = _probe_bytes(call.round_trip if call else None, loaded_download, loaded_upload)
    downloaded, uploaded = speed.download_bytes or 0, speed.upload_bytes or 0
    own_rx = downloaded + round(uploaded * ACK_BYTES_PER_PAYLOAD_BYTE) + probe_bytes // 2
    own_tx = uploaded + round(downloaded * ACK_BYTES_PER_PAYLOAD_BYTE) + probe_bytes // 2
    other = traffic.other_traffic(own_rx, own_tx, own_overhead_pct=TCP_OVERHEAD_PCT) if traffic else None
    return CheckRun(
        plan=plan, started_at=started_at, duration_s=time.monotonic() - started_s, speed=speed, call=call,
        loaded_download=loaded_download, loaded_upload=loaded_upload,
        host=host_context(interface, traffic=traffic, other=other), not_reached=tuple(not_reached),
        bytes_used=own_rx + own_tx, unanswered=tuple(unanswered), failed_transfers=tuple(failed_transfers))


def _loaded(plan: CheckPlan, session: SpeedSession, host_name: str | None, phase: str,
            failures: tuple[list[str], list[str], list[str]], progress: Progress) -> LatencyResult | None:
    """Run one speed phase with the UDP probe beside it; the probe's result (None without a reflector). What
    failed goes to `failures`: (not_reached, unanswered, failed_transfers)."""
    not_reached, unanswered, failed_transfers = failures
    seconds = plan.download_s if phase == "download" else plan.upload_s
    probe = None
    if session.udp_port is not None and host_name:
        try:
            probe = UdpProbe(host_name, session.udp_port, interval_s=PROBE_INTERVAL_S, size=G711_SIZE).start()
        except CouldNotReach as error:
            not_reached.append(f"RTT while {phase}ing: {error}")
    progress(phase, 0.0, "")
    try:
        run_phase = session.download if phase == "download" else session.upload
        run_phase(seconds, progress=lambda fraction: progress(phase, fraction, ""))
    except SpeedTestError as error:
        not_reached.append(f"{phase}: {error}")
        failed_transfers.append(phase)
    finally:
        result = None
        if probe is not None:
            try:
                result = probe.stop()
            except CouldNotReach as error:
                not_reached.append(f"RTT while {phase}ing: {error}")
                unanswered.append(phase)
    progress(phase, 1.0, "")
    return result


def _probe_bytes(*results: LatencyResult | None) -> int:
    """UDP payload bytes the probes and the call moved, both ways (headers not counted: small beside the speeds)."""
    return sum((result.sent + result.received) * result.size_bytes for result in results if result is not None)


def _host_of(url: str | None) -> str | None:
    if not url:
        return None
    return urlsplit(url if "://" in url else f"http://{url}").hostname


def phase_outcomes(run: CheckRun) -> tuple[PhaseOutcome, ...]:
    """The run's phases in order, as probe/check_silence.py reads them (pure)."""
    probes = {"call": run.call.round_trip if run.call else None, "download": run.loaded_download,
              "upload": run.loaded_upload}
    return tuple(PhaseOutcome(name, probe=probes[name], unanswered=name in run.unanswered,
                              transfer_failed=None if name == "call" else name in run.failed_transfers)
                 for name in PHASES)


def readiness_measurements(run: CheckRun) -> ReadinessMeasurements:
    """The figures the policy judges, from one run (pure). Jitter and loss are the synthetic call's on the idle
    link (a call's experience); RTT under load is the probe's median while each speed phase ran."""
    speed, call, host = run.speed, run.call, run.host
    link, traffic, other = host.link, host.traffic, host.other
    return ReadinessMeasurements(
        download_goodput_mbps=speed.download_goodput_mbps if speed else None,
        upload_goodput_mbps=speed.upload_goodput_mbps if speed else None,
        idle_rtt_ms=call.rtt_ms if call else None,
        loaded_rtt_download_ms=run.loaded_download.rtt_median_ms if run.loaded_download else None,
        loaded_rtt_upload_ms=run.loaded_upload.rtt_median_ms if run.loaded_upload else None,
        jitter_ms=call.jitter_ms if call else None,
        loss_pct=call.loss_pct if call else None,
        mos=call.mos if call else None,
        connection=link.conn if link and link.conn in CONNECTIONS else "unknown",
        other_download_mbps=other.rx_mbps if other else None,
        other_upload_mbps=other.tx_mbps if other else None,
        cpu_pct=traffic.cpu_pct if traffic else None,
    )
