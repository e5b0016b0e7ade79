"""Alert instances into incidents, pure: an incident is one alert instance (a rule and its series' labels)
firing at consecutive evaluations; it is announced when it starts ("firing") and when it ends ("resolved", at the
first evaluation it does not fire at). A later firing of the same instance is a new incident.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from homeshore.collector.alert_rules import RULES, AlertRule

InstanceKey = tuple[str, tuple[tuple[str, str], ...]]  # (rule uid, sorted series tags)


@dataclass(frozen=True)
class Firing:
    rule: AlertRule
    labels: Mapping[str, str]  # the series' tags: agent, and direction for calls
    value: float

    @property
    def key(self) -> InstanceKey:
        return self.rule.uid, tuple(sorted(self.labels.items()))


@dataclass(frozen=True)
class OpenIncident:
    """An incident announced and not yet resolved: what its resolved notification repeats. starts_at: None for
    one recorded by a version that did not keep it."""

    key: InstanceKey
    starts_at: str | None
    value: float | None


def new_incidents(open_keys: Iterable[InstanceKey], firing: Iterable[Firing]) -> list[Firing]:
    """The firings that start an incident: those not firing at the previous evaluation."""
    previous = set(open_keys)
    return [one for one in firing if one.key not in previous]


def ended_incidents(open_incidents: Iterable[OpenIncident], firing: Iterable[Firing]) -> list[OpenIncident]:
    """The open incidents that end now: their instance no longer fires."""
    now = {one.key for one in firing}
    return [incident for incident in open_incidents if incident.key not in now]


def _alert(status: str, uid: str, labels: Mapping[str, str], starts_at: str | None, value: float | None,
           ends_at: str | None = None) -> dict[str, Any]:
    rule = next((rule for rule in RULES if rule.uid == uid), None)  # a rule since removed: named by its uid
    alert: dict[str, Any] = {
        "status": status,
        "labels": {"alertname": rule.title if rule else uid, "rule_uid": uid, **dict(labels)},
        "annotations": {"summary": rule.summary} if rule else {},
        "startsAt": starts_at,
        "values": {"B": value},
    }
    if ends_at is not None:
        alert["endsAt"] = ends_at
    return {"status": status, "alerts": [alert]}


def webhook_payload(firing: Firing, starts_at: str) -> dict[str, Any]:
    """One incident, shaped like Grafana's webhook notification (status, alerts[] with labels, annotations,
    startsAt, values), so a receiver written for Grafana reads it. Labels are bounded tags only."""
    return _alert("firing", firing.rule.uid, firing.labels, starts_at, firing.value)


def resolved_payload(incident: OpenIncident, ends_at: str) -> dict[str, Any]:
    """The end of an incident, as Grafana sends it: status "resolved", the same labels and startsAt, endsAt
    (values: the last value it fired with)."""
    uid, labels = incident.key
    return _alert("resolved", uid, dict(labels), incident.starts_at, incident.value, ends_at)
