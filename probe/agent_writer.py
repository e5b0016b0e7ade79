"""The writer the agent's configuration asks for: InfluxDB 1.x `/write` (v1) or influxdb-client (v2), or none.

No collector (an empty `collector.url`) is a supported setup, not an error: samples stay in the local spool,
the embedded store, until a collector is configured (DESIGN.md, "Agent configuration"). Nothing here touches
the network; a wrong URL or password shows at the first flush.
"""

from __future__ import annotations

from homeshore.collector.writer import Writer
from homeshore.probe.agent_config import CollectorSettings, Credentials

WRITE_TIMEOUT_S = 10.0  # one request; a stalled server costs this, then RETRY


def writer_for(settings: CollectorSettings, credentials: Credentials, *,
               timeout_s: float = WRITE_TIMEOUT_S) -> Writer | None:
    """A new writer (one per thread: both keep a connection), or None when no collector is configured.

    Raises ValueError for settings a writer refuses (load_config has validated them already)."""
    if not settings.url:
        return None
    if settings.api == "v2":
        from homeshore.collector.writer_v2 import V2Writer

        return V2Writer(settings.url, token=credentials.token, org=settings.org, bucket=settings.bucket,
                        timeout_s=timeout_s, verify_tls=settings.verify_tls)
    from homeshore.collector.writer_v1 import V1Writer

    return V1Writer(settings.url, settings.database, retention_policy=settings.retention_policy,
                    username=credentials.username, password=credentials.password, timeout_s=timeout_s,
                    verify_tls=settings.verify_tls)
