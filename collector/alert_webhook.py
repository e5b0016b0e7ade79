"""`homeshore collector alerts`: evaluate the alert rules on the collector and POST each incident to a webhook
when it starts and when it ends, for contact centres without Grafana alerting.

The open incidents (with their start time and last value, for the resolved notification) live in a JSON state
file, replaced atomically after each evaluation, so an evaluator restarted while a call is still poor does not
announce it again, and one restarted after the call recovered still sends its end. An incident whose firing POST
failed is not recorded as open: the next evaluation sends it again; one whose resolved POST failed stays open:
the next evaluation that does not see it fire sends the end again.
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

from homeshore.collector.alert_incidents import (Firing, InstanceKey, OpenIncident, ended_incidents, new_incidents,
                                                 resolved_payload, webhook_payload)
from homeshore.collector.alert_rules import RULES, AlertRule, expand_query, fires, reduce_values
from homeshore.collector.query import QueryClient


class WebhookError(Exception):
    pass


@dataclass(frozen=True)
class Evaluation:
    firing: int  # alert instances firing now
    sent: int  # incidents announced by this evaluation
    failed: int  # POSTs that failed (sent again next time)
    resolved: int = 0  # incidents whose end this evaluation announced


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


def load_state(path: Path) -> dict[InstanceKey, OpenIncident]:
    """The open incidents by instance; none when the file does not exist yet. A corrupt file is a ValueError.
    Entries as [uid, labels] (before resolved notifications) have no start time."""
    try:
        document = json.loads(path.read_text())
        found = {}
        for entry in document["open"]:
            if isinstance(entry, dict):
                uid, labels, starts_at, value = entry["rule"], entry["labels"], entry["starts_at"], entry["value"]
            else:  # [uid, labels]
                (uid, labels), starts_at, value = entry, None, None
            key = (str(uid), tuple((str(name), str(tag)) for name, tag in labels))
            found[key] = OpenIncident(key, starts_at, value)
        return found
    except FileNotFoundError:
        return {}
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"--state-file {path} is not an alerts state file ({error}); move it away") from None


def save_state(path: Path, open_incidents: dict[InstanceKey, OpenIncident]) -> None:
    document = {"open": [{"rule": incident.key[0], "labels": [list(pair) for pair in incident.key[1]],
                          "starts_at": incident.starts_at, "value": incident.value}
                         for _, incident in sorted(open_incidents.items())]}
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
    """One evaluation: POST the incidents that start now and those that ended, record those open. Returns the
    counts and one line per failed POST."""
    previous = load_state(state_path)
    firing = evaluate(client, now_ms)
    now = datetime.fromtimestamp(now_ms / 1000, timezone.utc).isoformat().replace("+00:00", "Z")
    still_open = {one.key: previous[one.key] for one in firing if one.key in previous}
    sent = resolved = 0
    problems: list[str] = []
    for one in new_incidents(previous, firing):
        try:
            post(webhook, webhook_payload(one, now))
            sent += 1
            still_open[one.key] = OpenIncident(one.key, now, one.value)
        except WebhookError as error:
            problems.append(str(error))
    for incident in ended_incidents(previous.values(), firing):
        try:
            post(webhook, resolved_payload(incident, now))
            resolved += 1
        except WebhookError as error:
            still_open[incident.key] = incident
            problems.append(str(error))
    save_state(state_path, still_open)
    return Evaluation(firing=len(firing), sent=sent, failed=len(problems), resolved=resolved), problems
