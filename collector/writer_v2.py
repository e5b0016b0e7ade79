"""The v2 write API (`POST /api/v2/write`) through influxdb-client: InfluxDB 2.x, 3.x, Cloud, and 1.8+.

Its synchronous write API only, behind our own durable spool (STYLE.md: the batching write API loses points
unless it is a closed singleton, influxdb-client-python issue #504). Retries are ours too: the client's urllib3
pool is built with `retries=False` (influxdb-client's own default since its PR #140, passed explicitly here
so an upgrade cannot change it), so a refused connection or a timeout surfaces at once as a urllib3 error
instead of being retried behind the flush loop's back; the write-retry strategy (`WritesRetry`) applies to the
batching API only.

How its errors arrive, and what they become:
- a non-2xx answer: `ApiException` with `.status`, `.headers` (Retry-After among them) and `.body`;
- a TLS failure: `ApiException` with status 0 (the client wraps urllib3's SSLError) → RETRY;
- no answer (refused, reset, DNS, timeout): urllib3's `HTTPError` subclasses, or an `OSError` → RETRY.
The client's `str(ApiException)` prints every response header; we never use it, only the body's message,
redacted.
"""

from __future__ import annotations

import logging
from typing import Sequence

import urllib3
from influxdb_client import InfluxDBClient, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.rest import ApiException

from homeshore.collector.writer import (
    WriteOutcome, WriteResult, checked_collector_url, one_line, result_for_error, result_for_response, secret_forms,
)

log = logging.getLogger(__name__)


class V2Writer:
    def __init__(self, url: str, *, token: str, org: str, bucket: str, timeout_s: float = 10.0,
                 verify_tls: bool = True, gzip: bool = True) -> None:
        parts = checked_collector_url(url, timeout_s=timeout_s, credentials_hint="token_file")
        if not bucket:
            raise ValueError("bucket must not be empty")
        self._org = org
        self._bucket = bucket
        self._secrets = secret_forms(token)
        if parts.scheme == "https" and not verify_tls:
            log.warning("TLS certificate verification is off for %s (verify_tls = false)", url)
        # timeout in milliseconds; one value bounds the connect and the whole answer (urllib3 Timeout(total=)).
        self._client = InfluxDBClient(url=url, token=token, org=org, timeout=int(timeout_s * 1000),
                                      verify_ssl=verify_tls, enable_gzip=gzip, retries=False)
        self._write_api = self._client.write_api(write_options=SYNCHRONOUS)
        self.description = f"InfluxDB v2 {url.rstrip('/')} org {org} bucket {bucket}"

    def __repr__(self) -> str:
        return f"V2Writer({self.description!r})"

    def write(self, lines: Sequence[str]) -> WriteResult:
        try:
            self._write_api.write(bucket=self._bucket, org=self._org, record=list(lines),
                                  write_precision=WritePrecision.NS)
        except ApiException as error:
            if not error.status:  # status 0: the client's wrapping of a TLS failure
                return WriteResult(WriteOutcome.RETRY, None, one_line(str(error.reason), self._secrets))
            retry_after = error.headers.get("Retry-After") if error.headers else None
            return result_for_response(error.status, error.body, retry_after=retry_after,
                                       reason=error.reason or "", secrets=self._secrets)
        except (urllib3.exceptions.HTTPError, OSError) as error:
            return result_for_error(error, secrets=self._secrets)
        # The synchronous API returns None on any 2xx (204 from InfluxDB).
        return WriteResult(WriteOutcome.OK, 204, "")

    def close(self) -> None:
        self._write_api.close()
        self._client.close()
