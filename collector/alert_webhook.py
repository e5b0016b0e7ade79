"""`homeshore collector alerts`: evaluate the alert rules on the collector and POST each new incident to a
webhook, for contact centres without Grafana alerting.

The open incidents live in a JSON state file, replaced atomically after each evaluation, so an evaluator
restarted while a call is still poor does not announce it again. An incident whose POST failed is not
recorded as open: the next evaluation sends it again.
"""

from __future__ import annotations

import json
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from homeshore.collector.alert_incidents import Firing, InstanceKey, new_incidents, webhook_payload
from homeshore.collector.alert_rules import RULES, AlertRule, expand_query, fires, reduce_values
from homeshore.collector.query import QueryClient


class WebhookError(Exception):
    pass


@dataclass(frozen=True)
class Evaluation:
    firing: int  # alert instances firing now
    sent: int  # incidents announced by this evaluation
    failed: int  # new incidents whose POST failed (sent again next time)


def check_webhook_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"--webhook must be an http:// or https:// URL, not {url!r}")
    return url


def evaluate(client: QueryClient, end_ms: int, rules: Sequence[AlertRule] = RULES) -> list[Firing]:
    """Each rule's query for its range ending at end_ms, each series reduced and compared as Grafana does."""
    out = []
    for rule in rules:
        for series in client.query(expand_query(rule.query, end_ms, rule.range_s)):
            value = reduce_values([row[1] for row in series.values], rule.reducer)
            if fires(rule, value) and value is not None:
                out.append(Firing(rule, dict(series.tags), value))
    return out


def load_state(path: Path) -> set[InstanceKey]:
    """The open incidents; none when the file does not exist yet. A corrupt file is a ValueError."""
    try:
        document = json.loads(path.read_text())
        return {(uid, tuple((key, value) for key, value in labels)) for uid, labels in document["open"]}
    except FileNotFoundError:
        return set()
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"--state-file {path} is not an alerts state file ({error}); move it away") from None


def save_state(path: Path, open_keys: set[InstanceKey]) -> None:
    document = {"open": sorted([uid, [list(pair) for pair in labels]] for uid, labels in open_keys)}
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w") as out:
        json.dump(document, out)
    os.replace(temporary, path)


def post(url: str, payload: dict, timeout_s: float = 10) -> None:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as reply:
            reply.read()
    except urllib.error.HTTPError as error:
        raise WebhookError(f"the webhook {url} answered HTTP {error.code}") from None
    except (urllib.error.URLError, OSError) as error:
        raise WebhookError(f"cannot reach the webhook {url}: {getattr(error, 'reason', error)}") from None


def run_once(client: QueryClient, webhook: str, state_path: Path, now_ms: int) -> tuple[Evaluation, list[str]]:
    """One evaluation: POST the incidents that start now, record those firing as open. Returns the counts and
    one line per failed POST."""
    previous = load_state(state_path)
    firing = evaluate(client, now_ms)
    starts_at = datetime.fromtimestamp(now_ms / 1000, timezone.utc).isoformat().replace("+00:00", "Z")
    open_keys = {one.key for one in firing}
    sent, problems = 0, []
    for one in new_incidents(previous, firing):
        try:
            post(webhook, webhook_payload(one, starts_at))
            sent += 1
        except WebhookError as error:
            open_keys.discard(one.key)
            problems.append(str(error))
    save_state(state_path, open_keys)
    return Evaluation(firing=len(firing), sent=sent, failed=len(problems)), problems
