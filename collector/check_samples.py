"""The samples one `homeshore check` leaves in the local store: `readiness`, `bandwidth` and `voip_test` (DESIGN.md's
schema), built from the check's JSON document (pure).

Tags stay bounded: the server is its host and port (a contact centre runs a handful), or "ookla"; the area is
the postcode district; the candidate reference is a string field, never a tag. A sample with nothing measured in
it is not written (a speeds-only check against speedtest.net writes no voip_test). The readiness sample names
the policy that judged it (`policy`: "defaults", or the file's name and the start of its SHA-256), so results
judged by different policies are never mistaken for each other, and where the check ran (`source`: "cli",
"agent" or "browser"; collector/schema.py's CHECK_SOURCES).

The agent tag names the home (`homeshore map` counts homes by it). A CLI or agent check runs on the home's own
machine, whose agent id it is given. Browser checks are all stored by the one server, under the server's id, yet
each candidate checks from a home of their own: a browser check's agent tag is that candidate's home,
browser_home(server id, reference), the same for every check of the candidate on this server and another for
each candidate. It is a digest keyed by the server's id, so it does not give the reference away (references
follow a guessable pattern; the digest is on every bandwidth and voip_test point, the reference only on the
readiness point).
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from homeshore.collector.schema import CHECK_SOURCES, Sample

CHECK_ID_CHARS = 22  # a browser check's id: 16 random bytes in base64url, unpadded (homeshore serve makes them)
_CHECK_ID = re.compile(rf"[A-Za-z0-9_-]{{{CHECK_ID_CHARS}}}\Z")


def is_check_id(text: object) -> bool:
    """Whether `text` has the form of a browser check's id (it is safe in a path and a URL)."""
    return isinstance(text, str) and bool(_CHECK_ID.match(text))


def server_tag(document: dict[str, Any]) -> str:
    if document.get("method") == "ookla":
        return "ookla"
    parts = urlsplit(str(document.get("server") or ""))
    return parts.netloc or "unknown"


def policy_field(policy: Any) -> str:
    """The readiness sample's `policy` string: "defaults", or the file's name and its SHA-256's first 12 digits."""
    if not isinstance(policy, dict) or not policy.get("file"):
        return "defaults"
    digest = policy.get("sha256")
    return f"{policy['file']} sha256:{str(digest)[:12]}" if digest else str(policy["file"])


def browser_home(server_agent: str, reference: str) -> str:
    """The agent tag of a candidate's browser checks on the server whose agent id is `server_agent`."""
    return "b-" + hashlib.sha256(f"{server_agent}\0{reference}".encode("utf-8")).hexdigest()[:16]


def check_samples(document: dict[str, Any], *, agent: str, source: str, check_id: str | None = None) -> list[Sample]:
    """The samples of one check; `agent` is the id of the machine that ran it (for a browser check, the server's:
    the home is then the candidate's, see the module's docstring). A browser check's `check_id` is kept on the
    readiness point, so `homeshore candidates` can name its report on the server (`/r/CHECK_ID`)."""
    if source not in CHECK_SOURCES:
        raise ValueError(f"readiness: source {source!r} must be one of {list(CHECK_SOURCES)}")
    if check_id is not None and not is_check_id(check_id):
        raise ValueError(f"readiness: check_id {check_id!r} is not {CHECK_ID_CHARS} base64url characters")
    time_ns = int(datetime.fromisoformat(document["time"]).timestamp() * 1e9)
    host = document.get("host") or {}
    if source == "browser" and document.get("candidate"):
        agent = browser_home(agent, str(document["candidate"]))
    tags = {"agent": agent, "area": document.get("area") or "", "conn": host.get("conn") or "unknown",
            "server": server_tag(document)}
    m = document.get("measurements") or {}
    passed = {c["name"]: 1.0 if c["status"] == "PASS" else 0.0 for c in document.get("criteria", [])}
    samples = [Sample("readiness", tags, {"verdict": document["verdict"], "candidate": document.get("candidate"),
                                          "policy": policy_field(document.get("policy")), "source": source,
                                          "check_id": check_id,
                                          **{f"{name}_pass": value for name, value in passed.items()}}, time_ns)]
    loaded = [value for value in (m.get("loaded_rtt_download_ms"), m.get("loaded_rtt_upload_ms")) if value is not None]
    bandwidth = {
        "download_mbps": m.get("download_goodput_mbps"), "upload_mbps": m.get("upload_goodput_mbps"),
        "idle_rtt_ms": m.get("idle_rtt_ms"), "loaded_rtt_down_ms": m.get("loaded_rtt_download_ms"),
        "loaded_rtt_up_ms": m.get("loaded_rtt_upload_ms"), "jitter_ms": m.get("jitter_ms"),
        "loss_pct": m.get("loss_pct"),
    }
    if any(value is not None for value in bandwidth.values()) or loaded:
        bandwidth |= {"bytes_used": m.get("bytes_used"), "duration_s": m.get("duration_s")}
        samples.append(Sample("bandwidth", tags, bandwidth, time_ns))
    call = m.get("synthetic_call")
    if call:
        samples.append(Sample("voip_test", {**tags, "codec": call.get("codec") or "PCMU"}, {
            "rtt_ms": call.get("rtt_ms"), "jitter_ms": call.get("jitter_ms"), "loss_pct": call.get("loss_pct"),
            "burst_loss_pct": call.get("burst_loss_pct"), "r_factor": call.get("r_factor"), "mos": call.get("mos"),
        }, time_ns))
    return samples
