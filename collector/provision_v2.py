"""Provisioning an InfluxDB 2.x collector with influxdb-client's APIs (the plan comes from provision.py).

OrganizationsApi finds the org; BucketsApi, TasksApi and AuthorizationsApi create what is missing; the
generated DBRPsService maps `<bucket>/raw` and `<bucket>/hourly` to the two buckets, so InfluxQL over `/query`
(collector/query.py, Grafana's InfluxQL data source) reads a 2.x collector as it reads a 1.x one.

Idempotent like provision_v1.py: everything is looked up first (by name; authorizations by their description
"homeshore writer NAME"), so a second run creates nothing. A token exists on the server only in the answer that
created it (2.x can hash tokens at rest), so it is written to its secrets file at once, and an authorization
that already exists keeps whatever file it has. A task whose Flux differs from the plan's is updated in place.

No 2.x server can run on the machines this is tested on: tests/collector/test_provision_v2_contract.py replays
the documented v2 API from tests/data/influx_v2_provision_contract.json and checks every request.
"""

from __future__ import annotations

import re
from typing import Any

import urllib3
from influxdb_client import (Authorization, BucketRetentionRules, BucketsApi, DBRPCreate, DBRPsService,
                             InfluxDBClient, OrganizationsApi, Permission, PermissionResource, TaskCreateRequest,
                             TasksApi, TaskUpdateRequest)
from influxdb_client import AuthorizationsApi
from influxdb_client.rest import ApiException

from homeshore.collector.provision import HOURLY_RP, RAW_RP, Outcome, UserPlan, V2Plan
from homeshore.collector.provision_v1 import SecretStore


class ProvisionError(Exception):
    """One line, no secret; `kind` as QueryError's: unreachable, unauthorized, forbidden, missing or http."""

    def __init__(self, message: str, *, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


def provision_v2(client: InfluxDBClient, plan: V2Plan, store: SecretStore) -> list[Outcome]:
    """Creates what is missing; one Outcome per object. Raises ProvisionError."""
    try:
        return _provision(client, plan, store)
    except ApiException as error:
        raise _api_error(error, client.url) from None
    except urllib3.exceptions.HTTPError as error:  # connection refused, timeouts, broken answers
        reason = re.search(r"\[Errno -?\d+\] [^'\")]*", str(error))
        raise ProvisionError(f"cannot reach the collector at {client.url}: "
                             f"{reason.group(0) if reason else type(error).__name__}", kind="unreachable") from None


def _api_error(error: ApiException, url: str) -> ProvisionError:
    kinds = {401: "unauthorized", 403: "forbidden", 404: "missing"}
    detail = " ".join(str(error.reason or "").split())
    if error.status == 401:
        return ProvisionError(f"the collector at {url} refused the admin token (HTTP 401)", kind="unauthorized")
    return ProvisionError(f"the collector at {url} answered HTTP {error.status} {detail}".rstrip(),
                          kind=kinds.get(error.status, "http"))


def _provision(client: InfluxDBClient, plan: V2Plan, store: SecretStore) -> list[Outcome]:
    orgs = OrganizationsApi(client).find_organizations(org=plan.org) or []
    org = next((o for o in orgs if o.name == plan.org), None)
    if org is None:
        raise ProvisionError(f"the collector at {client.url} has no organization named {plan.org!r}", kind="missing")
    outcomes = []
    buckets = {}
    for name, retention_s in ((plan.bucket, plan.raw_retention_s), (plan.hourly_bucket, plan.hourly_retention_s)):
        bucket, status = _ensure_bucket(BucketsApi(client), org, name, retention_s)
        buckets[name] = bucket
        outcomes.append(Outcome("bucket", name, status))
    outcomes.append(Outcome("task", plan.task_name, _ensure_task(TasksApi(client), org, plan)))
    auths = {a.description: a for a in AuthorizationsApi(client).find_authorizations(org_id=org.id) or []}
    for user in plan.users:
        outcomes.append(_ensure_authorization(AuthorizationsApi(client), org.id, user, plan, buckets, auths, store))
    dbrps = DBRPsService(client.api_client)
    existing = dbrps.get_dbr_ps(org_id=org.id, db=plan.bucket).content or []
    for rp, bucket_name in ((RAW_RP, plan.bucket), (HOURLY_RP, plan.hourly_bucket)):
        outcomes.append(_ensure_dbrp(dbrps, org.id, plan.bucket, rp, buckets[bucket_name].id, existing))
    return outcomes


def _ensure_bucket(api: BucketsApi, org: Any, name: str, retention_s: int) -> tuple[Any, str]:
    found = [b for b in (api.find_buckets(name=name, org_id=org.id).buckets or []) if b.name == name]
    if found:
        return found[0], "present"
    rule = BucketRetentionRules(type="expire", every_seconds=retention_s)
    return api.create_bucket(bucket_name=name, retention_rules=rule, org=org,
                             description="homeshore, written by homeshore collector init"), "created"


def _ensure_task(api: TasksApi, org: Any, plan: V2Plan) -> str:
    found = [t for t in api.find_tasks(name=plan.task_name, org_id=org.id) or [] if t.name == plan.task_name]
    if not found:
        api.create_task(task_create_request=TaskCreateRequest(
            org_id=org.id, flux=plan.task_flux, status="active",
            description="homeshore: hourly downsampling of raw samples"))
        return "created"
    if found[0].flux == plan.task_flux:
        return "present"
    api.update_task_request(found[0].id, TaskUpdateRequest(flux=plan.task_flux))
    return "updated"


def _permissions(user: UserPlan, org_id: str, plan: V2Plan, buckets: dict[str, Any]) -> list[Permission]:
    if user.role == "writer":  # write on the raw bucket only: an agent's token can neither read nor delete
        return [Permission(action="write", resource=PermissionResource(type="buckets", id=buckets[plan.bucket].id,
                                                                       org_id=org_id))]
    return [Permission(action="read", resource=PermissionResource(type="buckets", id=buckets[name].id, org_id=org_id))
            for name in (plan.bucket, plan.hourly_bucket)]


def _ensure_authorization(api: AuthorizationsApi, org_id: str, user: UserPlan, plan: V2Plan,
                          buckets: dict[str, Any], auths: dict[str, Any], store: SecretStore) -> Outcome:
    description = plan.authorization_description(user)
    if description in auths:
        kept = store.read(user.name, "token")
        return Outcome("authorization", user.name, "present", str(store.path(user.name, "token")) if kept else "")
    created = api.create_authorization(authorization=Authorization(
        org_id=org_id, description=description, status="active",
        permissions=_permissions(user, org_id, plan, buckets)))
    path = store.write(user.name, "token", created.token)
    return Outcome("authorization", user.name, "created", str(path))


def _ensure_dbrp(service: DBRPsService, org_id: str, database: str, rp: str, bucket_id: str,
                 existing: list[Any]) -> Outcome:
    name = f"{database}/{rp}"
    for mapping in existing:
        if mapping.database == database and mapping.retention_policy == rp:
            if mapping.bucket_id != bucket_id:
                raise ProvisionError(f"DBRP {name} already maps to another bucket ({mapping.bucket_id}); "
                                     "remove that mapping first", kind="http")
            return Outcome("dbrp", name, "present")
    service.post_dbrp(DBRPCreate(org_id=org_id, bucket_id=bucket_id, database=database, retention_policy=rp,
                                 default=(rp == RAW_RP)))
    return Outcome("dbrp", name, "created")
