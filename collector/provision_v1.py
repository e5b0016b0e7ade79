"""Provisioning an InfluxDB 1.x collector over `/query` (the plan comes from provision.py), and the secrets
directory both provisioners write passwords and tokens to.

Idempotent, checked against Debian's influxd 1.6: every object is looked up first (SHOW ...) and created only
when missing, so a second run changes nothing and reports each object `present`.
- Retention policies that exist with another duration or default flag are altered (`updated`).
- A continuous query cannot be altered on 1.x; one that exists is re-created with the same text, which 1.x
  accepts as a no-op, and answers "continuous query already exists" when the text differs: that one is
  dropped and created again (`replaced`), so a changed downsampling table reaches old collectors.
- A user that exists keeps its password (its secrets file is not rewritten) and its privilege is re-applied:
  on 1.x a GRANT replaces the user's privilege on the database, so a writer that had READ loses it.
- A user missing while its secrets file exists (a collector rebuilt) is created with the password in the file,
  so agents already deployed keep working. A new password is written to its file before the user is created:
  a crash in between leaves a file that the next run reuses, never a user whose password is lost.
- A writer or reader name that is an admin on the server is refused: demoting an admin is not init's job.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Callable

from homeshore.collector.private_files import private_directory, write_private
from homeshore.collector.provision import (ContinuousQuery, Outcome, PlanError, UserPlan, V1Plan,
                                           create_user_statement)
from homeshore.collector.query import QueryClient, QueryError, quote_ident

PASSWORD_BYTES = 24  # secrets.token_urlsafe(24): 32 characters, 192 bits


class SecretStore:
    """A directory (0700) of one-secret files (0600): `<name>.password` for 1.x users, `<name>.token` for 2.x."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def path(self, name: str, suffix: str) -> Path:
        return self.directory / f"{name}.{suffix}"

    def read(self, name: str, suffix: str) -> str | None:
        path = self.path(name, suffix)
        try:
            text = path.read_text().strip()
        except FileNotFoundError:
            return None
        return text or None

    def write(self, name: str, suffix: str, secret: str) -> Path:
        """Atomically: a 0600 temporary file renamed into place, so no reader ever sees a partial secret."""
        private_directory(self.directory)  # an existing directory others could read is tightened
        return write_private(self.path(name, suffix), secret + "\n")


def _hours(duration: str) -> int:
    """SHOW RETENTION POLICIES durations ("2160h0m0s", "0s" for infinite) in whole hours."""
    match = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", duration)
    if not match:
        return -1
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return hours + (minutes * 60 + seconds) // 3600


def provision_v1(client: QueryClient, plan: V1Plan, store: SecretStore, *,
                 new_password: Callable[[], str] = lambda: secrets.token_urlsafe(PASSWORD_BYTES)) -> list[Outcome]:
    """Creates what is missing; returns one Outcome per object, in plan order. Raises QueryError (I/O, refused
    credentials, a statement the server rejects) or PlanError (a planned user is an admin)."""
    db = plan.database
    outcomes = []

    databases = {row["name"] for series in client.query("SHOW DATABASES") for row in series.rows()}
    if db in databases:
        outcomes.append(Outcome("database", db, "present"))
    else:
        client.query(f"CREATE DATABASE {quote_ident(db)}")
        outcomes.append(Outcome("database", db, "created"))

    existing = {row["name"]: row for series in client.query(f"SHOW RETENTION POLICIES ON {quote_ident(db)}")
                for row in series.rows()}
    for policy in plan.retention_policies:
        row = existing.get(policy.name)
        if row is None:
            client.query(policy.create_statement(db))
            outcomes.append(Outcome("retention_policy", policy.name, "created"))
        elif _hours(row["duration"]) != policy.duration_h or bool(row["default"]) != policy.default:
            client.query(policy.alter_statement(db))
            outcomes.append(Outcome("retention_policy", policy.name, "updated"))
        else:
            outcomes.append(Outcome("retention_policy", policy.name, "present"))

    queries = {row["name"] for series in client.query("SHOW CONTINUOUS QUERIES") if series.name == db
               for row in series.rows()}
    for cq in plan.continuous_queries:
        outcomes.append(Outcome("continuous_query", cq.name, _ensure_cq(client, cq, cq.name in queries)))

    users = {row["user"]: bool(row["admin"]) for series in client.query("SHOW USERS") for row in series.rows()}
    for user in plan.users:
        outcomes.append(_ensure_user(client, db, user, users, store, new_password))
    return outcomes


def _ensure_cq(client: QueryClient, cq: ContinuousQuery, exists: bool) -> str:
    if not exists:
        client.query(cq.create_statement())
        return "created"
    try:
        client.query(cq.create_statement())  # the same text: a no-op on 1.x
        return "present"
    except QueryError as error:
        if "already exists" not in str(error):
            raise
    client.query(cq.drop_statement())
    client.query(cq.create_statement())
    return "replaced"


def _ensure_user(client: QueryClient, db: str, user: UserPlan, users: dict[str, bool], store: SecretStore,
                 new_password: Callable[[], str]) -> Outcome:
    if users.get(user.name):
        raise PlanError(f"user {user.name!r} is an admin on this collector; choose another name for the {user.role}")
    kept = store.read(user.name, "password")
    if user.name in users:
        grants = {row["database"]: row["privilege"]
                  for series in client.query(f"SHOW GRANTS FOR {quote_ident(user.name)}") for row in series.rows()}
        client.query(user.grant_statement(db))
        status = "present" if grants.get(db) == user.privilege else "updated"
        secret_file = str(store.path(user.name, "password")) if kept else ""
        return Outcome("user", user.name, status, secret_file)
    password = kept or new_password()
    path = store.path(user.name, "password") if kept else store.write(user.name, "password", password)
    client.query(create_user_statement(user.name, password))
    client.query(user.grant_statement(db))
    return Outcome("user", user.name, "created", str(path))
