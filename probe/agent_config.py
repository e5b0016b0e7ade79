"""The agent's configuration (DESIGN.md "Agent configuration"): TOML files, then `HOMESHORE_<SECTION>_<KEY>`
environment overrides, validated once, all at start and without the network (as Telegraf's `Init()`).

Where it comes from:
- `load_config(path)` with a path (the `--config FILE` option): that file only, and it must exist;
- otherwise `/etc/homeshore/agent.toml`, then `$XDG_CONFIG_HOME/homeshore/agent.toml` (`~/.config` when
  XDG_CONFIG_HOME is unset or relative, as the XDG Base Directory specification says), layered: a key in the
  user's file overrides the same key of the system file; neither present gives the defaults.

The postcode: `agent.postcode` is reduced to its district here ("NG5 1AB" -> "NG5"), and both
`AgentSettings.postcode` and `AgentSettings.area` hold that district, so the full postcode is dropped at load,
never in the returned config, never in an error message, and cannot leave the machine by any later path.

Secrets are not configuration values: the password and the token live in 0600 files named by the config
(`password_file`, `token_file`) or come from HOMESHORE_COLLECTOR_PASSWORD / HOMESHORE_COLLECTOR_TOKEN, and are
read only by `collector_credentials`, whose result hides them from repr().
"""

from __future__ import annotations

import difflib
import math
import os
import re
import stat
import tomllib
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping, Sequence
from urllib.parse import urlsplit

from homeshore.collector.identity import agent_id
from homeshore.planning.postcode import PostcodeError, postcode_district

SYSTEM_CONFIG = Path("/etc/homeshore/agent.toml")
USER_CONFIG = Path("homeshore", "agent.toml")  # under $XDG_CONFIG_HOME
ENV_PREFIX = "HOMESHORE_"
ENV_SOURCE = "environment"
# Secrets from the environment: read by collector_credentials, never configuration keys.
PASSWORD_VARIABLE = "HOMESHORE_COLLECTOR_PASSWORD"
TOKEN_VARIABLE = "HOMESHORE_COLLECTOR_TOKEN"
_SECRET_VARIABLES = frozenset({PASSWORD_VARIABLE, TOKEN_VARIABLE})
_SECRET_MAX_BYTES = 64 * 1024  # a larger "secret" file is the wrong file
_TAG_VALUE = re.compile(r"[A-Za-z0-9_.-]{1,64}")  # a bounded InfluxDB tag value (agent.site)


class ConfigError(ValueError):
    """A bad configuration; str() is one line naming the file (or variable) and the key, never a secret."""


@dataclass(frozen=True)
class AgentSettings:
    id: str = ""  # empty: the stable random id kept in the state directory (collector/identity.py)
    postcode: str = ""  # the district only: the full postcode is dropped at load
    area: str = ""  # the postcode district ("NG5"), derived; not a key of the file
    site: str = ""
    state_dir: str = ""  # empty: $STATE_DIRECTORY, else the platform's user data directory (collector/state.py)
    spool_max_mb: float = 200.0


@dataclass(frozen=True)
class CollectorSettings:
    url: str = ""  # empty: samples stay in the local spool
    api: str = "v1"  # "v1" (InfluxDB 1.x /write) or "v2" (influxdb-client)
    database: str = "homeshore"  # v1
    retention_policy: str = ""  # v1
    username: str = ""  # v1
    password_file: str = ""  # v1, a 0600 file
    org: str = ""  # v2
    bucket: str = "homeshore"  # v2
    token_file: str = ""  # v2, a 0600 file
    flush_interval_s: float = 10.0
    batch_size: int = 5000
    verify_tls: bool = True


@dataclass(frozen=True)
class HostSettings:
    interval_s: float = 10.0  # every second while a call is up (probe/agent/host_source.py)
    policy_file: str = ""  # a policy file whose [cause] table sets the cause thresholds; empty: the defaults


@dataclass(frozen=True)
class SpeedtestSettings:
    server: str = "ookla"  # or the URL of a `homeshore serve`
    interval_h: float = 4.0  # the mean; the agent randomises the actual times


@dataclass(frozen=True)
class CaptureSettings:
    interface: str = "any"
    enabled: bool = True


@dataclass(frozen=True)
class AgentConfig:
    agent: AgentSettings = AgentSettings()
    collector: CollectorSettings = CollectorSettings()
    host: HostSettings = HostSettings()
    speedtest: SpeedtestSettings = SpeedtestSettings()
    capture: CaptureSettings = CaptureSettings()
    sources: tuple[str, ...] = ()  # the files read, in order, then "environment" when a variable overrode a key


@dataclass(frozen=True)
class Credentials:
    username: str = ""
    password: str = field(default="", repr=False)
    token: str = field(default="", repr=False)


SECTIONS: Mapping[str, type] = {
    "agent": AgentSettings, "collector": CollectorSettings, "host": HostSettings,
    "speedtest": SpeedtestSettings, "capture": CaptureSettings,
}
DERIVED: Mapping[str, frozenset[str]] = {"agent": frozenset({"area"})}  # fields that are not keys of the file


def config_keys(section: str) -> dict[str, type]:
    """The keys a file may set in `section`, with their Python types."""
    hints = typing.get_type_hints(SECTIONS[section])
    return {f.name: hints[f.name] for f in fields(SECTIONS[section])
            if f.name not in DERIVED.get(section, frozenset())}


def default_config_paths(env: Mapping[str, str] = os.environ) -> tuple[Path, ...]:
    """The files read when no --config is given, lowest precedence first (they need not exist)."""
    xdg = env.get("XDG_CONFIG_HOME", "")
    if xdg and Path(xdg).is_absolute():
        return (SYSTEM_CONFIG, Path(xdg) / USER_CONFIG)
    if env.get("HOME"):
        return (SYSTEM_CONFIG, Path(env["HOME"], ".config") / USER_CONFIG)
    return (SYSTEM_CONFIG,)


def load_config(path: Path | None = None, env: Mapping[str, str] = os.environ, *,
                search: Sequence[Path] | None = None) -> AgentConfig:
    """The configuration from `path` alone (which must exist), else from the existing files of `search`
    (default: `default_config_paths(env)`) layered in order, then the environment's overrides, validated.

    Raises ConfigError on the first problem. Reads files only: no network."""
    values: dict[tuple[str, str], Any] = {}
    origins: dict[tuple[str, str], str] = {}  # where each set value came from, for the messages
    sources: list[str] = []
    if path is not None:
        if not Path(path).exists():
            raise ConfigError(f"{path}: config file not found")
        candidates: Sequence[Path] = [Path(path)]
    else:
        candidates = [p for p in (default_config_paths(env) if search is None else search) if Path(p).exists()]
    for candidate in candidates:
        for key, value in _read_file(Path(candidate)).items():
            values[key], origins[key] = value, str(candidate)
        sources.append(str(candidate))
    overrides = _environment_overrides(env)
    for key, (variable, value) in overrides.items():
        values[key], origins[key] = value, variable
    if overrides:
        sources.append(ENV_SOURCE)
    return _validated(values, origins, tuple(sources))


def collector_credentials(settings: CollectorSettings, env: Mapping[str, str] = os.environ) -> Credentials:
    """The secrets to write with: v1 a password (password_file, else HOMESHORE_COLLECTOR_PASSWORD), v2 a token
    (HOMESHORE_COLLECTOR_TOKEN, else token_file). Raises ConfigError, whose text never holds the secret."""
    if settings.api == "v2":
        token = env.get(TOKEN_VARIABLE, "").strip()
        if not token and settings.token_file:
            token = _read_secret("collector.token_file", settings.token_file)
        if not token:
            raise ConfigError(f"collector.api 'v2' needs a token: set collector.token_file or {TOKEN_VARIABLE}")
        return Credentials(token=token)
    if settings.password_file:
        password = _read_secret("collector.password_file", settings.password_file)
    else:
        password = env.get(PASSWORD_VARIABLE, "").strip()
    if settings.username and not password:
        raise ConfigError(f"collector.username is set but there is no password: "
                          f"set collector.password_file or {PASSWORD_VARIABLE}")
    if password and not settings.username:
        raise ConfigError("a collector password is set but collector.username is empty")
    return Credentials(username=settings.username, password=password)


def _read_file(path: Path) -> dict[tuple[str, str], Any]:
    """The (section, key) -> value pairs of one file, each key known and of its type."""
    try:
        with open(path, "rb") as handle:
            document = tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {_one_line(str(error))}") from None
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else "not readable"
        raise ConfigError(f"{path}: cannot read the config file: {reason}") from None
    found: dict[tuple[str, str], Any] = {}
    for section, table in document.items():
        if not isinstance(table, dict):
            owners = [s for s in SECTIONS if section in config_keys(s)]
            hint = f": put it under [{owners[0]}]" if len(owners) == 1 else ""
            raise ConfigError(f"{path}: key {section!r} is outside any section{hint}")
        if section not in SECTIONS:
            raise ConfigError(f"{path}: unknown section [{section}]{_did_you_mean(section, SECTIONS, '[{}]')}")
        keys = config_keys(section)
        for key, value in table.items():
            if key not in keys:
                raise ConfigError(f"{path}: unknown key {section}.{key}"
                                  f"{_did_you_mean(key, keys, section + '.{}')}")
            found[section, key] = _typed(value, keys[key], f"{path}: {section}.{key}")
    return found


def _environment_overrides(env: Mapping[str, str]) -> dict[tuple[str, str], tuple[str, Any]]:
    """(section, key) -> (variable, value) for every HOMESHORE_<SECTION>_<KEY> of our sections.

    Other HOMESHORE_* variables (HOMESHORE_REQUIRE_NETNS, ...) are not ours and ignored; an unknown key of one
    of our sections is a typo and an error."""
    overrides = {}
    for variable in sorted(env):
        if not variable.startswith(ENV_PREFIX) or variable in _SECRET_VARIABLES:
            continue
        rest = variable[len(ENV_PREFIX):]
        section = next((s for s in SECTIONS if rest.startswith(s.upper() + "_")), None)
        if section is None:
            continue
        keys = config_keys(section)
        key = rest[len(section) + 1:].lower()
        if key not in keys:
            known = {f"{ENV_PREFIX}{section.upper()}_{k.upper()}" for k in keys} | _SECRET_VARIABLES
            raise ConfigError(f"{ENV_SOURCE}: unknown variable {variable}{_did_you_mean(variable, known, '{}')}")
        overrides[section, key] = (variable, _parsed(env[variable], keys[key], f"{variable}: {section}.{key}"))
    return overrides


_TYPE_NAMES = {str: "a string", float: "a number", int: "an integer", bool: "true or false"}


def _typed(value: Any, kind: type, where: str) -> Any:
    """A TOML value checked against the key's type (an integer is a number too; a boolean is neither)."""
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, kind) and (kind is bool or not isinstance(value, bool)):
        return value
    raise ConfigError(f"{where} must be {_TYPE_NAMES[kind]}, not {_shown(value)}")


_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}


def _parsed(text: str, kind: type, where: str) -> Any:
    """An environment variable's text converted to the key's type."""
    try:
        if kind is bool:
            if text.strip().lower() in _TRUE | _FALSE:
                return text.strip().lower() in _TRUE
            raise ValueError(text)
        return kind(text.strip()) if kind in (int, float) else text
    except ValueError:
        expected = "true/false/1/0/yes/no" if kind is bool else _TYPE_NAMES[kind]
        raise ConfigError(f"{where} must be {expected}, not {_shown(text)}") from None


def _validated(values: dict[tuple[str, str], Any], origins: dict[tuple[str, str], str],
               sources: tuple[str, ...]) -> AgentConfig:
    def fail(section: str, key: str, problem: str, *, because: tuple[str, str] | None = None) -> typing.NoReturn:
        # A key left at its default is named with the source of the value that made it wrong (`because`).
        origin = origins.get((section, key)) or (because and origins.get(because)) or "default"
        raise ConfigError(f"{origin}: {section}.{key} {problem}")

    def get(section: str, key: str) -> Any:
        return values.get((section, key), getattr(SECTIONS[section](), key))

    for (section, key), value in values.items():
        if isinstance(value, float) and not (math.isfinite(value) and value > 0):
            fail(section, key, f"must be a number greater than 0, not {value:g}")
    if (get("collector", "batch_size")) not in range(1, 100_001):
        fail("collector", "batch_size", f"must be 1 to 100000, not {get('collector', 'batch_size')}")
    api = get("collector", "api")
    if api not in ("v1", "v2"):
        fail("collector", "api", f"must be 'v1' or 'v2', not {_shown(api)}")
    url = get("collector", "url")
    if url:
        problem = _url_problem(url)
        if problem:
            fail("collector", "url", problem)
        needed = ("org", "bucket") if api == "v2" else ("database",)
        for key in needed:
            if not get("collector", key):
                fail("collector", key, f"must be set when collector.api is {api!r} and collector.url is set",
                     because=("collector", "api") if ("collector", "api") in origins else ("collector", "url"))
    for key in ("password_file", "token_file"):
        if get("collector", key) and not Path(get("collector", key)).is_absolute():
            fail("collector", key, f"must be an absolute path, not {_shown(get('collector', key))}")
    server = get("speedtest", "server")
    if server != "ookla" and _url_problem(server):
        fail("speedtest", "server", f"must be 'ookla' or the URL of a homeshore serve: {_url_problem(server)}")
    if not get("capture", "interface").strip():
        fail("capture", "interface", "must name an interface (or 'any')")
    if get("host", "policy_file"):
        from homeshore.planning.policy import PolicyError
        from homeshore.planning.policy_file import load_cause_policy

        try:
            load_cause_policy(get("host", "policy_file"))
        except PolicyError as error:
            fail("host", "policy_file", f"is not a usable policy file: {error}")
    if get("agent", "site") and not _TAG_VALUE.fullmatch(get("agent", "site")):
        fail("agent", "site", f"must be 1-64 letters, digits, '_', '.' or '-', not {_shown(get('agent', 'site'))}")
    if get("agent", "id"):
        try:
            agent_id(Path(), get("agent", "id"))  # with an id given, only its check: no state directory is read
        except ValueError as error:
            raise ConfigError(f"{origins[('agent', 'id')]}: {error}") from None
    district = ""
    if get("agent", "postcode"):
        try:
            district = postcode_district(get("agent", "postcode"))
        except PostcodeError:
            # The value is not repeated: a mistyped full postcode still names a few dozen homes.
            fail("agent", "postcode", "is not a UK postcode or postcode district (e.g. NG5 1AB or NG5)")
    values["agent", "postcode"] = district
    values["agent", "area"] = district
    sections = {name: kind(**{key: value for (s, key), value in values.items() if s == name})
                for name, kind in SECTIONS.items()}
    return AgentConfig(**sections, sources=sources)


def _url_problem(url: str) -> str:
    """What is wrong with an http(s)://host[:port][/path] URL, or "" when nothing is.

    A URL with credentials in it is never repeated: it would put a password in the message."""
    try:
        parts = urlsplit(url)
        parts.port  # raises ValueError for a port that is not a number in 0-65535
    except ValueError:
        return "is not a valid URL" if "@" in url else f"is not a valid URL: {_shown(url)}"
    if parts.username is not None or parts.password is not None:
        return ("must not carry credentials (user:pass@): use collector.username and collector.password_file "
                "(v1) or collector.token_file (v2)")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"must be http(s)://host[:port][/path], not {_shown(url)}"
    if parts.query or parts.fragment or any(c.isspace() for c in url):
        return f"must be http(s)://host[:port][/path] with no query, fragment or spaces, not {_shown(url)}"
    return ""


def _read_secret(key: str, path_text: str) -> str:
    """The stripped contents of a secret file that only its owner may read or write.

    Messages name the key and the path, never what the file holds."""
    path = Path(path_text)
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        raise ConfigError(f"{key}: cannot read {path}: {error.strerror}") from None
    try:
        status = os.fstat(descriptor)  # of the file opened, not of whatever the path names a moment later
        if not stat.S_ISREG(status.st_mode):
            raise ConfigError(f"{key}: {path} is not a regular file")
        mode = stat.S_IMODE(status.st_mode)
        if mode & 0o077:
            raise ConfigError(f"{key}: {path} must be mode 0600 (it is {mode:04o}): chmod 600 {path}")
        content = os.read(descriptor, _SECRET_MAX_BYTES + 1)
    finally:
        os.close(descriptor)
    if len(content) > _SECRET_MAX_BYTES:
        raise ConfigError(f"{key}: {path} is too large to be a secret (more than {_SECRET_MAX_BYTES} bytes)")
    try:
        secret = content.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ConfigError(f"{key}: {path} is not UTF-8 text") from None
    if not secret:
        raise ConfigError(f"{key}: {path} is empty")
    if any(c in secret for c in "\r\n"):
        raise ConfigError(f"{key}: {path} must hold the secret on one line")
    return secret


def _did_you_mean(word: str, choices: typing.Iterable[str], shape: str) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {shape.format(close[0])}?)" if close else ""


def _shown(value: Any) -> str:
    """A value in a message: its repr, on one line and bounded."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _one_line(text: str) -> str:
    return " ".join(text.split())

