"""Alert instances into incidents, pure: an incident is one alert instance (a rule and its series' labels)
firing at consecutive evaluations; it is announced once, when it starts, and ends at the first evaluation
it does not fire at. A later firing of the same instance is a new incident.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from homeshore.collector.alert_rules import AlertRule

InstanceKey = tuple[str, tuple[tuple[str, str], ...]]  # (rule uid, sorted series tags)


@dataclass(frozen=True)
class Firing:
    rule: AlertRule
    labels: Mapping[str, str]  # the series' tags: agent, and direction for calls
    value: float

    @property
    def key(self) -> InstanceKey:
        return self.rule.uid, tuple(sorted(self.labels.items()))


def new_incidents(open_keys: Iterable[InstanceKey], firing: Iterable[Firing]) -> list[Firing]:
    """The firings that start an incident: those not firing at the previous evaluation."""
    previous = set(open_keys)
    return [one for one in firing if one.key not in previous]


def webhook_payload(firing: Firing, starts_at: str) -> dict[str, Any]:
    """One incident, shaped like Grafana's webhook notification (status, alerts[] with labels, annotations,
    startsAt, values), so a receiver written for Grafana reads it. Labels are bounded tags only."""
    return {"status": "firing", "alerts": [{
        "status": "firing",
        "labels": {"alertname": firing.rule.title, "rule_uid": firing.rule.uid, **dict(firing.labels)},
        "annotations": {"summary": firing.rule.summary},
        "startsAt": starts_at,
        "values": {"B": firing.value},
    }]}
