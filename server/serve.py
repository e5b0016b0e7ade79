"""`homeshore serve` on one event loop: the speed-test HTTP endpoints (server/speed_http.py), with the candidate
links (`GET /c/{token}`, server/candidate_pages.py) and the recruiters' pages (`GET /r/`,
server/recruiter_pages.py) on the same application and port, and the UDP reflector (server/reflector.py) side by
side until SIGTERM or SIGINT, then each one's final counters.

Sockets are bound first (listen()), so a port in use or an address not of this machine is reported before
anything is served; cli/serve.py turns that into one line and exit 2.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from homeshore.server import reflector, speed_http
from homeshore.server.admission import AdmissionCounters
from homeshore.server.browser_check_http import BrowserCheckCounters, BrowserCheckHttp
from homeshore.server.call_script import CALL_JS
from homeshore.server.candidate_pages import CandidatePageCounters, CandidatePages
from homeshore.server.invites import Invites
from homeshore.server.recruiter_pages import RecruiterPageCounters, RecruiterPages
from homeshore.server.reflector import ReflectorCounters
from homeshore.server.sockets import bound_socket
from homeshore.server.speed_limits import SpeedServerCounters, SpeedServerLimits
from homeshore.server.webrtc_call import WebrtcCall
from homeshore.server.webrtc_limits import WebrtcCounters


class ListenError(OSError):
    """A socket could not be bound: `transport` is "TCP" or "UDP", `port` the port asked for."""

    def __init__(self, transport: str, port: int, error: OSError) -> None:
        super().__init__(error.errno, error.strerror)
        self.transport = transport
        self.port = port


@dataclass(frozen=True)
class Listening:
    """The bound sockets of one server: HTTP (TCP) and the reflector (UDP)."""

    http: socket.socket
    udp: socket.socket

    @property
    def http_port(self) -> int:
        return self.http.getsockname()[1]

    @property
    def udp_port(self) -> int:
        return self.udp.getsockname()[1]

    def close(self) -> None:
        self.http.close()
        self.udp.close()


@dataclass(frozen=True)
class ServeCounters:
    http: SpeedServerCounters
    reflector: ReflectorCounters
    links: CandidatePageCounters
    recruiter: RecruiterPageCounters
    checks: BrowserCheckCounters
    admission: AdmissionCounters
    calls: WebrtcCounters


def listen(bind: str, http_port: int, udp_port: int) -> Listening:
    """Bind the reflector's UDP socket, then the HTTP socket; ListenError for the first that fails."""
    try:
        udp = bound_socket(bind, udp_port, socket.SOCK_DGRAM)
    except OSError as error:
        raise ListenError("UDP", udp_port, error) from None
    try:
        http = bound_socket(bind, http_port, socket.SOCK_STREAM)
    except OSError as error:
        udp.close()
        raise ListenError("TCP", http_port, error) from None
    return Listening(http, udp)


async def serve(listening: Listening, invites: Invites, recruiter: RecruiterPages, *, test_length_s: int = 10,
                limits: SpeedServerLimits = SpeedServerLimits(), tls: ssl.SSLContext | None = None,
                checks: BrowserCheckHttp | None = None, calls: WebrtcCall | None = None,
                on_started: Callable[[], None] = lambda: None) -> ServeCounters:
    """Serve on the sockets of listen() until SIGTERM or SIGINT (a server asked to stop has done its job: both
    are a clean stop), the candidate links judged by `invites`, the browser checks run by `checks` (none without
    it: a link's page then has nothing to start; its Admission holds the limits on checks in progress), the
    recruiters' pages served by `recruiter`, the checks' test calls by `calls` (server/webrtc_call.py, whose
    script the page then runs); HTTPS with `tls` (server/tls.py); on_started() is called once both
    sockets answer. Returns the final counters."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    try:
        pages = CandidatePages(invites, call_script=CALL_JS if calls is not None else None)
        transport, protocol = await reflector.start_reflector(listening.udp)
        routes = pages.routes() + (checks.routes() if checks is not None else []) + \
            (calls.routes() if calls is not None else [])
        http = await speed_http.start_speed_http(listening.http, udp_port=listening.udp_port, limits=limits,
                                                 test_length_s=test_length_s,
                                                 routes=routes + recruiter.routes(), tls=tls)
        if checks is not None:
            checks.speed_state = http.state  # the receipts its checks' speeds are counted in
            http.state.charge_test = checks.charge  # and the byte budget of each check
        on_started()
        await stopping.wait()
        call_counters = await calls.stop() if calls is not None else WebrtcCounters()
        http_counters = await http.stop()
        transport.close()
        return ServeCounters(http_counters, protocol.counters, pages.counters, recruiter.counters,
                             checks.counters if checks is not None else BrowserCheckCounters(),
                             checks.admission.counters if checks is not None else AdmissionCounters(),
                             call_counters)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
