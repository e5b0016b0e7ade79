"""A network lab for live-capture tests and benchmarks: two network namespaces joined by a veth pair.

Everything here runs as root and drives the real tools (iproute2, tc, nft, tcpdump, sipp, iperf3), so that a
test sees packets the kernel actually sent. What DESIGN.md asks of such tests:
- names carry our pid, so parallel runs never collide, and a run aborted by SIGKILL is swept by the next one;
- every namespace, process and rule is removed on the way out, also when the test fails;
- processes are ended by their process id, never by name: other work shares the machine;
- loss is made on the sending side's egress (nftables netdev hook): netem does not exist here, a drop in the
  `output` hook returns EPERM to the sender, and a drop on the receiving side comes after packet capture.

    with Lab() as lab, tcpdump(lab.a.ns, lab.a.dev, path):
        random_loss(lab.b.ns, lab.b.dev, 5, udp_sport=UAS_MEDIA_PORT)
        call = sipp_call(lab.a, lab.b, rtp_packets=1600)
"""

from __future__ import annotations

import ctypes
import functools
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

PREFIX = "hsnl"  # every namespace this module creates is named PREFIX<pid>-<n><letter>
_NAME = re.compile(rf"^{PREFIX}(?P<pid>\d+)-\d+[a-z]$")
_numbers = itertools.count(1)
_swept = False

REPO = Path(__file__).resolve().parents[1]
SIPP_SCENARIOS = Path(__file__).resolve().parent / "data" / "sipp"
SIPP_AUDIO = Path("/usr/share/sip-tester/g711a.pcap")  # shipped by Debian's sip-tester
CALL_AUDIO_NAME = "call_audio.pcap"  # what uac_pcma.xml plays, from the scenario's directory
UAC_MEDIA_PORT = 16000  # sipp_call's RTP ports (-mp), fixed so that filters and tests can name them
UAS_MEDIA_PORT = 17000
PTIME_S = 0.020
ALAW_BYTES_PER_PACKET = 160  # 20 ms of 8 kHz A-law
REALTIME_PRIORITY = 10  # SCHED_FIFO priority of timed senders (see `realtime`): above every ordinary process


class LabError(RuntimeError):
    """A lab command failed; the message carries the command and what it printed."""


@dataclass(frozen=True)
class Host:
    """One side of the lab: a namespace, its end of the veth pair and its addresses."""

    ns: str
    dev: str
    ipv4: str
    ipv6: str | None = None

    def address(self, ipv6: bool = False) -> str:
        if ipv6 and self.ipv6 is None:
            raise LabError(f"{self.ns} has no IPv6 address: use Lab(ipv6=True)")
        return self.ipv6 if ipv6 else self.ipv4


# --- commands inside a namespace -----------------------------------------------------------------------------


def _in_namespace(ns: str, argv: Sequence[str]) -> list[str]:
    """`ip netns exec` execs the command itself, so the Popen's pid is the tool's pid and can be signalled."""
    return ["ip", "netns", "exec", ns, *map(str, argv)]


def _run_checked(argv: Sequence[str], *, stdin: str | None = None, timeout: float = 30, cwd: Path | None = None) -> str:
    result = subprocess.run(list(argv), input=stdin, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    if result.returncode != 0:
        raise LabError(f"{' '.join(argv)} exited {result.returncode}: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout


def run(ns: str, argv: Sequence[str], *, stdin: str | None = None, timeout: float = 30, cwd: Path | None = None) -> str:
    """Run a command in namespace `ns` to completion; its stdout, or LabError when it exits non-zero."""
    return _run_checked(_in_namespace(ns, argv), stdin=stdin, timeout=timeout, cwd=cwd)


def popen(ns: str, argv: Sequence[str], **kwargs) -> subprocess.Popen:
    """Start a command in namespace `ns`; the caller ends it (see `end_process`)."""
    return subprocess.Popen(_in_namespace(ns, argv), **kwargs)


def end_process(process: subprocess.Popen, sig: int = signal.SIGTERM, grace_s: float = 5) -> int:
    """End one process we started, by its pid: `sig` first (SIGINT lets tcpdump flush), SIGKILL after grace_s."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


@contextmanager
def _running(ns: str, argv: Sequence[str], *, sig: int = signal.SIGTERM, **kwargs) -> Iterator[subprocess.Popen]:
    process = popen(ns, argv, **kwargs)
    try:
        yield process
    finally:
        end_process(process, sig)


def _wait_until(condition, what: str, timeout_s: float = 10, process: subprocess.Popen | None = None) -> None:
    """Poll `condition` until it holds; fail early when `process` died first, since it then never will."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if process is not None and process.poll() is not None:
            raise LabError(f"{what}: the process exited with status {process.returncode}")
        if time.monotonic() > deadline:
            raise LabError(f"{what}: not within {timeout_s} s")
        time.sleep(0.02)


def _listening(ns: str, proto: str, port: int) -> bool:
    return bool(run(ns, ["ss", "-Hnl", f"-{proto}", "sport", "=", f":{port}"]).strip())


# --- namespaces ----------------------------------------------------------------------------------------------


def list_namespaces() -> list[str]:
    """Every network namespace `ip netns` knows, ours and others'."""
    return [line.split()[0] for line in _run_checked(["ip", "netns", "list"]).splitlines() if line.strip()]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _delete_namespace(ns: str) -> None:
    """End the processes left inside (all started by this module), then delete; the veth end goes with it."""
    for pid in _run_checked(["ip", "netns", "pids", ns]).split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass
    subprocess.run(["ip", "netns", "delete", ns], capture_output=True)


def sweep_stale_namespaces() -> list[str]:
    """Delete our namespaces whose creating process is gone (a run killed before it could clean up).

    Namespaces of a run still alive, in this process or another, are left alone."""
    stale = []
    for ns in list_namespaces():
        match = _NAME.match(ns)
        if match and int(match["pid"]) != os.getpid() and not _pid_alive(int(match["pid"])):
            _delete_namespace(ns)
            stale.append(ns)
    return stale


def _link_up(host: Host) -> bool:
    """Carrier reaches a new veth through the kernel's link watch, up to a second after `ip link set up`; until
    then its qdisc is the noop one, which drops every packet sent."""
    return " state UP " in run(host.ns, ["ip", "-o", "link", "show", "dev", host.dev])


class _Namespaces:
    """What Lab and Chain share: build on entering (sweeping stale namespaces first, once per process), delete
    every namespace created, with what is inside, on exit or when the build fails."""

    _created: list[str]

    def __enter__(self):
        global _swept
        if not _swept:
            sweep_stale_namespaces()
            _swept = True
        try:
            self._build()
        except BaseException:
            self._destroy()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self._destroy()

    def _build(self) -> None:
        raise NotImplementedError

    def _add_namespace(self, ns: str) -> None:
        _run_checked(["ip", "netns", "add", ns])
        self._created.append(ns)

    @staticmethod
    def _join(left: Host, right: Host) -> None:
        """A veth pair from left to right, addresses set, links and loopback up (created straight inside the
        namespaces: the names never meet in the root namespace)."""
        _run_checked(["ip", "link", "add", left.dev, "netns", left.ns, "type", "veth",
                      "peer", "name", right.dev, "netns", right.ns])
        for host in (left, right):
            _configure(host)

    @staticmethod
    def _wait_up(hosts: Sequence[Host]) -> None:
        for host in hosts:
            _wait_until(functools.partial(_link_up, host), f"{host.ns}/{host.dev} up", 10)

    def _destroy(self) -> None:
        for ns in reversed(self._created):
            _delete_namespace(ns)
        self._created.clear()


def _configure(host: Host) -> None:
    run(host.ns, ["ip", "addr", "add", f"{host.ipv4}/24", "dev", host.dev])
    if host.ipv6:
        # No duplicate address detection, for the link-local address either: otherwise neighbour discovery
        # waits ~2 s for it, and the first packets sent meanwhile overflow the unresolved queue, unseen.
        run(host.ns, ["sysctl", "-qw", f"net.ipv6.conf.{host.dev}.accept_dad=0"])
        run(host.ns, ["ip", "-6", "addr", "add", f"{host.ipv6}/64", "dev", host.dev, "nodad"])
    run(host.ns, ["ip", "link", "set", "lo", "up"])
    run(host.ns, ["ip", "link", "set", host.dev, "up"])


class Lab(_Namespaces):
    """Two namespaces `a` and `b` joined by a veth pair, addresses set, links and loopback up.

    A context manager: the namespaces (and with them the veth pair, qdiscs, nft tables and any process still
    running inside) are deleted on exit, whether the body failed or not."""

    def __init__(self, *, ipv6: bool = False) -> None:
        # Every lab has the same addresses: each lives in its own namespaces, so they never meet.
        number = next(_numbers)
        self.a = Host(f"{PREFIX}{os.getpid()}-{number}a", "veth-a", "10.77.0.1", "fd00:77::1" if ipv6 else None)
        self.b = Host(f"{PREFIX}{os.getpid()}-{number}b", "veth-b", "10.77.0.2", "fd00:77::2" if ipv6 else None)
        self._created: list[str] = []

    def _build(self) -> None:
        for host in (self.a, self.b):
            self._add_namespace(host.ns)
        self._join(self.a, self.b)
        self._wait_up((self.a, self.b))


class Chain(_Namespaces):
    """Namespaces in a line, each joined to the next by a veth pair: `names[0] -- names[1] -- ... -- names[-1]`
    (for instance home -- router -- isp -- far). Link i is the subnet 10.77.<i+1>.0/24, its left end .1 and its
    right end .2; the namespaces in between forward IPv4, and every namespace routes towards both ends, so any
    two can reach each other. `hosts[name]`: that namespace's end towards the next one (the last one's: towards
    the one before), the address the others reach it at; `left(name)` and `right(name)` name each end of its
    links. A context manager deleting everything on exit, like Lab."""

    def __init__(self, names: Sequence[str]) -> None:
        if len(names) < 2 or len(set(names)) != len(names):
            raise ValueError(f"a chain needs two or more distinct names, not {names}")
        number = next(_numbers)
        self.names = list(names)
        self.namespaces = {name: f"{PREFIX}{os.getpid()}-{number}{letter}"
                           for name, letter in zip(names, "abcdefghijklmnopqrstuvwxyz")}
        # links[i]: (left end in names[i], right end in names[i + 1])
        self.links = [(Host(self.namespaces[left], f"to-{right}"[:15], f"10.77.{i + 1}.1"),
                       Host(self.namespaces[right], f"to-{left}"[:15], f"10.77.{i + 1}.2"))
                      for i, (left, right) in enumerate(zip(names, names[1:]))]
        self._created: list[str] = []

    def right(self, name: str) -> Host:
        """`name`'s end of the link towards the last namespace."""
        return self.links[self.names.index(name)][0]

    def left(self, name: str) -> Host:
        """`name`'s end of the link towards the first namespace."""
        return self.links[self.names.index(name) - 1][1] if self.names.index(name) else self.right(name)

    @property
    def hosts(self) -> dict[str, Host]:
        return {name: self.right(name) if index < len(self.names) - 1 else self.left(name)
                for index, name in enumerate(self.names)}

    def _build(self) -> None:
        for ns in self.namespaces.values():
            self._add_namespace(ns)
        for left, right in self.links:
            self._join(left, right)
        for index, name in enumerate(self.names):
            ns = self.namespaces[name]
            if 0 < index < len(self.names) - 1:
                run(ns, ["sysctl", "-qw", "net.ipv4.ip_forward=1"])
            if index < len(self.names) - 1:  # towards the last namespace: the default route
                run(ns, ["ip", "route", "add", "default", "via", self.links[index][1].ipv4])
            if index:  # towards the first: the subnets before the one this namespace is on
                for far_left, _ in self.links[:index - 1]:
                    run(ns, ["ip", "route", "add", f"{far_left.ipv4.rsplit('.', 1)[0]}.0/24",
                             "via", self.links[index - 1][0].ipv4])
                if index == len(self.names) - 1:
                    run(ns, ["ip", "route", "add", "default", "via", self.links[index - 1][0].ipv4])
        self._wait_up([host for link in self.links for host in link])


# --- link conditions -----------------------------------------------------------------------------------------


def shape(ns: str, dev: str, rate_kbit: int, burst_bytes: int, latency_ms: float) -> None:
    """Limit `dev`'s egress with a token bucket (tbf): a rate, a burst, and at most latency_ms of queue."""
    run(ns, ["tc", "qdisc", "replace", "dev", dev, "root", "tbf", "rate", f"{rate_kbit}kbit",
             "burst", str(burst_bytes), "latency", f"{latency_ms}ms"])


def root_qdisc(ns: str, dev: str) -> dict:
    """tc's counters of `dev`'s root qdisc now (`tc -s -j qdisc show`): packets and bytes sent, backlog, drops."""
    (root,) = [qdisc for qdisc in json.loads(run(ns, ["tc", "-s", "-j", "qdisc", "show", "dev", dev]))
               if qdisc.get("root")]
    return root


def wait_for_qdisc(ns: str, dev: str, *, min_backlog_bytes: int = 0, min_packets: int = 0,
                   timeout_s: float = 10) -> None:
    """Wait until `dev`'s root qdisc holds min_backlog_bytes (a load has filled its queue) and has sent
    min_packets (traffic is flowing)."""
    def reached() -> bool:
        counters = root_qdisc(ns, dev)
        return counters["backlog"] >= min_backlog_bytes and counters["packets"] >= min_packets

    _wait_until(reached, f"{dev}: {min_backlog_bytes} bytes queued, {min_packets} packets sent", timeout_s)


def random_loss(ns: str, dev: str, percent: float, *, udp_sport: int | None = None,
                udp_dport: int | None = None, udp_only: bool = False) -> str:
    """Drop `percent` % of what leaves `dev` (optionally only UDP, or UDP from/to a port), at random, on the wire.

    An nftables netdev egress hook on the sending side: the sender's send succeeds and the packet never
    reaches the other side, as on a lossy link. Calls add up: each adds a rule to the device's chain. Each rule
    counts what it dropped (`nft_counts(ns, "homeshore_loss")`). Returns the nft script it loaded (for a test's
    message)."""
    if not 0 <= percent <= 100:
        raise ValueError(f"percent must be within 0..100, not {percent}")
    match = "".join(f"udp {field} {port} " for field, port in (("sport", udp_sport), ("dport", udp_dport))
                    if port is not None) or ("meta l4proto udp " if udp_only else "")
    # In hundredths of a percent, so 0.5 % is exact as well; 100 % needs no random number.
    threshold = round(percent * 100)
    chance = f"numgen random mod 10000 < {threshold} " if threshold < 10000 else ""
    script = (
        "table netdev homeshore_loss {\n"
        f"  chain egress_{dev.replace('-', '_')} {{\n"
        f'    type filter hook egress device "{dev}" priority 0; policy accept;\n'
        f"    {match}{chance}counter drop\n"
        "  }\n"
        "}\n"
    )
    run(ns, ["nft", "-f", "-"], stdin=script)
    return script


def nft_counts(ns: str, table: str) -> list[int]:
    """The packet counts of the counters in netdev table `table`, in rule order."""
    listing = json.loads(run(ns, ["nft", "-j", "list", "table", "netdev", table]))
    return [expr["counter"]["packets"] for item in listing["nftables"] if "rule" in item
            for expr in item["rule"]["expr"] if "counter" in expr]


# --- capture ---------------------------------------------------------------------------------------------------


@dataclass
class Capture:
    """A tcpdump recording; once stopped, tcpdump's own counts: packets written, and dropped by the kernel."""

    path: Path
    log: Path
    captured: int | None = None
    dropped: int | None = None


def _tcpdump_count(log: Path, what: str) -> int | None:
    count = re.search(rf"(\d+) packets? {what}", log.read_text())
    return int(count[1]) if count else None


def _wait_until_stable(path: Path, quiet_s: float = 0.2, timeout_s: float = 2) -> None:
    """Wait until the capture file has stopped growing: the last packets sent are written before tcpdump stops."""
    deadline = time.monotonic() + timeout_s
    size, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        current = path.stat().st_size if path.exists() else 0
        if current != size:
            size, since = current, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return
        time.sleep(0.02)


@contextmanager
def tcpdump(ns: str, dev: str, path: Path | str, *, bpf: Sequence[str] = ()) -> Iterator[Capture]:
    """Record `dev` to a pcap at `path` for the duration of the block.

    Returns from entering only once tcpdump says it is listening, so no packet sent afterwards is missed; on
    exit tcpdump is stopped with SIGINT, which flushes the file, and its drop count is read."""
    path = Path(path)
    capture = Capture(path, path.with_suffix(".tcpdump.log"))
    # -Z root: Debian's tcpdump otherwise drops to user tcpdump and may not write to a test's directory.
    # --immediate-mode -U: read and write each packet at once: otherwise the kernel hands packets over in blocks,
    # and the block still open when tcpdump is stopped is lost. -B: a 16 MiB buffer, so bursts are not dropped.
    argv = realtime(["tcpdump", "-Z", "root", "--immediate-mode", "-U", "-n", "-B", "16384", "-i", dev, "-w", path,
                     *bpf])
    with open(capture.log, "w") as log:
        with _running(ns, argv, sig=signal.SIGINT, stdout=log, stderr=log) as process:
            _wait_until(lambda: "listening on" in capture.log.read_text(), f"tcpdump on {ns}/{dev}", 10, process)
            yield capture
            _wait_until_stable(path)
    capture.captured = _tcpdump_count(capture.log, "captured")
    capture.dropped = _tcpdump_count(capture.log, "dropped by kernel")


# --- sipp calls ------------------------------------------------------------------------------------------------


def write_call_audio(path: Path, packets: int) -> None:
    """A pcap of `packets` 20 ms PCMA packets with continuous sequence numbers and timestamps, for sipp to play.

    The audio is g711a.pcap's (sip-tester's), repacketised from its 30 ms packets to 20 ms and repeated as
    needed: playing the shipped pcap several times would restart its sequence numbers at each replay, and
    tshark would count that as loss and reordering."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.layers.rtp import RTP
    from scapy.utils import rdpcap, wrpcap

    shipped = [packet for packet in rdpcap(str(SIPP_AUDIO)) if UDP in packet]
    first = RTP(bytes(shipped[0][UDP].payload))
    audio = b"".join(bytes(RTP(bytes(packet[UDP].payload)).payload) for packet in shipped)
    frames = []
    for index in range(packets):
        start = index * ALAW_BYTES_PER_PACKET % (len(audio) - ALAW_BYTES_PER_PACKET)
        rtp = RTP(version=2, marker=int(index == 0), payload_type=8, sequence=(first.sequence + index) & 0xFFFF,
                  timestamp=(first.timestamp + index * ALAW_BYTES_PER_PACKET) & 0xFFFFFFFF, sourcesync=first.sourcesync)
        frame = Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=6000, dport=6000) / rtp
        frame = frame / audio[start:start + ALAW_BYTES_PER_PACKET]
        frame.time = 1_700_000_000 + index * PTIME_S
        frames.append(frame)
    wrpcap(str(path), frames)


@dataclass(frozen=True)
class SippCall:
    """One finished sipp call: where its RTP went, and how sipp saw it (exit status 0: the call succeeded)."""

    uac_address: str
    uas_address: str
    sip_port: int
    uac_media_port: int  # the UAC plays from here; the UAS's echo comes back here
    uas_media_port: int  # the UAS's -rtp_echo listens and answers here
    rtp_packets: int  # packets the UAC played; the echo sends as many back unless the link loses some
    uac_exit: int
    uas_exit: int
    log_dir: Path
    seconds: float

    @property
    def uac_rtp(self) -> str:
        return _endpoint(self.uac_address, self.uac_media_port)

    @property
    def uas_rtp(self) -> str:
        return _endpoint(self.uas_address, self.uas_media_port)


def _endpoint(address: str, port: int) -> str:
    """addr:port as homeshore and tests/references/tshark.py write it ([addr]:port for IPv6)."""
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def realtime(argv: Sequence[str]) -> list[str]:
    """argv run under SCHED_FIFO (chrt): the lab's senders of timed traffic (sipp, the paced RTP sender) and tcpdump.

    A sender's send times are what the tests measure jitter and rate against, and a sender waiting for a CPU
    sends late: with 3 busy loops beside the tests on 2 cores, a clean sipp call's echo read 13.3 ms of jitter
    (155 ms between two packets). tcpdump that waits for a CPU still has packets in the kernel's buffer when it
    is stopped, and they are lost (21 of 6,000 at the end of a 3-s capture). Scheduled ahead of every ordinary
    process, the figures are the network's, not the load's. All of them sleep or block between packets, so they
    take little CPU; the kernel's real-time throttling (95 % of each second) bounds them anyway."""
    return ["chrt", "--fifo", str(REALTIME_PRIORITY), *map(str, argv)]


@contextmanager
def realtime_threads() -> Iterator[None]:
    """The calling thread, and every thread it starts inside the block (threads inherit their creator's policy),
    under SCHED_FIFO, as `realtime` puts a process: for senders and reflectors a test runs in its own process."""
    policy, param = os.sched_getscheduler(0), os.sched_getparam(0)
    os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(REALTIME_PRIORITY))  # 0: the calling thread
    try:
        yield
    finally:
        os.sched_setscheduler(0, policy, param)


def _sipp_argv(scenario: str, address: str, sip_port: int, media_port: int, timeout_s: int) -> list[str]:
    return [*realtime(["sipp"]), "-sf", scenario, "-i", address, "-p", sip_port, "-mp", media_port,
            "-m", 1, "-nostdin", "-trace_err", "-timeout", f"{timeout_s}s", "-timeout_error"]


def sipp_call(uac: Host, uas: Host, *, rtp_packets: int = 1600, ipv6: bool = False, sip_port: int = 5060,
              uac_media_port: int = UAC_MEDIA_PORT, uas_media_port: int = UAS_MEDIA_PORT, service: str = "echo",
              log_dir: Path | None = None) -> SippCall:
    """Place one SIP call from `uac` to `uas` and return when it has ended.

    The UAS (tests/data/sipp/uas_echo.xml, `-rtp_echo`) answers PCMA/8000 and sends every RTP packet back to
    where it came from; the UAC (uac_pcma.xml) offers PCMA/8000 on uac_media_port, plays rtp_packets 20 ms
    packets with play_pcap_audio, waits for the last echoes, and hangs up with BYE. `service` is the user part
    of the request URI (sip:SERVICE@uas), e.g. a phone number. sipp's logs go to log_dir
    (a new temporary directory when None), which is also its working directory.

    Takes the playing time plus about 2.5 s: after the BYE the UAS waits 2 s for retransmitted BYEs."""
    log_dir = Path(log_dir or tempfile.mkdtemp(prefix="homeshore-sipp-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    # sipp looks for play_pcap_audio files next to the scenario first: both go into its working directory.
    for scenario in ("uac_pcma.xml", "uas_echo.xml"):
        shutil.copy(SIPP_SCENARIOS / scenario, log_dir)
    write_call_audio(log_dir / CALL_AUDIO_NAME, rtp_packets)
    play_s = rtp_packets * PTIME_S
    timeout_s = int(play_s) + 30
    uas_address, uac_address = uas.address(ipv6), uac.address(ipv6)
    uas_argv = [*_sipp_argv("uas_echo.xml", uas_address, sip_port, uas_media_port, timeout_s), "-rtp_echo"]
    # -d: the length of the scenario's <pause/>, i.e. the playing time plus a moment for the last echoes.
    uac_argv = [*_sipp_argv("uac_pcma.xml", uac_address, sip_port, uac_media_port, timeout_s),
                "-s", service, "-d", int(play_s * 1000) + 300, _endpoint(uas_address, sip_port)]
    started = time.monotonic()
    with open(log_dir / "uas.out", "w") as uas_out, open(log_dir / "uac.out", "w") as uac_out:
        with _running(uas.ns, uas_argv, cwd=log_dir, stdout=uas_out, stderr=subprocess.STDOUT) as uas_process:
            _wait_until(lambda: _listening(uas.ns, "u", sip_port), "sipp UAS", 10, uas_process)
            with _running(uac.ns, uac_argv, cwd=log_dir, stdout=uac_out, stderr=subprocess.STDOUT) as uac_process:
                uac_exit = uac_process.wait(timeout=timeout_s + 10)
            uas_exit = uas_process.wait(timeout=10)
    return SippCall(uac_address, uas_address, sip_port, uac_media_port, uas_media_port, rtp_packets,
                    uac_exit, uas_exit, log_dir, time.monotonic() - started)


# --- traffic -----------------------------------------------------------------------------------------------------


@contextmanager
def iperf3_server(ns: str, address: str, port: int = 5201) -> Iterator[subprocess.Popen]:
    """An iperf3 server listening on address:port for the duration of the block (ready when entered)."""
    with _running(ns, ["iperf3", "--server", "--bind", address, "--port", port],
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as process:
        _wait_until(lambda: _listening(ns, "t", port), "iperf3 server", 10, process)
        yield process


@contextmanager
def iperf3_client(ns: str, server: str, port: int = 5201, *, seconds: float = 10, reverse: bool = False,
                  udp_bitrate: str | None = None, streams: int = 1) -> Iterator[subprocess.Popen]:
    """An iperf3 client sending to `server` (TCP, or UDP at udp_bitrate such as "2M") during the block.

    reverse: the server sends instead. Ended by pid on exit if it is still running; the caller may also
    wait() for it and read its JSON report on stdout."""
    argv = ["iperf3", "--client", server, "--port", port, "--time", seconds, "--parallel", streams, "--json"]
    argv += ["--reverse"] if reverse else []
    argv += ["--udp", "--bitrate", udp_bitrate] if udp_bitrate else []
    with _running(ns, argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as process:
        yield process


def send_rtp(ns: str, dst: str, *, streams: int, rate_pps: float, seconds: float, port: int | None = None,
             timeout_s: float | None = None, scheduled_realtime: bool = False) -> dict:
    """Run tests/tools/rtp_sender.py in `ns` to the end; its JSON report (packets_sent, elapsed_s, ...).

    scheduled_realtime: under SCHED_FIFO (see `realtime`), for a test of the sender's own pacing."""
    argv = [sys.executable, "-m", "tests.tools.rtp_sender", "--dst", dst, "--streams", streams,
            "--rate", rate_pps, "--seconds", seconds, *(["--port", port] if port else [])]
    argv = realtime(argv) if scheduled_realtime else argv
    # The repository as working directory, so that `-m tests.tools.rtp_sender` resolves.
    return json.loads(run(ns, argv, cwd=REPO, timeout=timeout_s or seconds + 30))


T = TypeVar("T")
_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def in_namespace(ns: str, function: Callable[[], T]) -> T:
    """Call `function` on a thread that has joined network namespace `ns` (setns applies to one thread only).

    Sockets it opens stay in `ns` after the thread ends, so a Reflector or UdpProbe started here runs there
    while this process, and the lab's commands, stay in the root namespace."""
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            with open(f"/run/netns/{ns}") as handle:
                if _libc.setns(handle.fileno(), _CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns {ns}: {os.strerror(ctypes.get_errno())}")
            outcome["value"] = function()
        except BaseException as error:
            outcome["error"] = error

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]
