"""The agent configuration: defaults, layering, environment overrides, validation, the postcode, secrets, and
the sample install/agent.toml (which must document every key with its true default)."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

import pytest

from homeshore.collector.identity import agent_id
from homeshore.probe.agent_config import (
    DERIVED, SECTIONS, SYSTEM_CONFIG, AgentConfig, CollectorSettings, ConfigError, Credentials,
    collector_credentials, config_keys, default_config_paths, load_config,
)
from tests.conftest import REPO

SAMPLE = REPO / "install" / "agent.toml"


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def load_text(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> AgentConfig:
    return load_config(write(tmp_path, "agent.toml", text), env or {})


def error_of(call) -> str:
    with pytest.raises(ConfigError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message
    return message


# --- defaults and where files come from ------------------------------------------------------------------


def test_no_file_gives_the_defaults_and_no_sources(tmp_path):
    config = load_config(None, {}, search=[tmp_path / "absent.toml"])
    assert config == AgentConfig()
    assert config.sources == ()
    assert config.collector == CollectorSettings(url="", api="v1", database="homeshore", batch_size=5000,
                                                 flush_interval_s=10.0, verify_tls=True, bucket="homeshore")
    assert (config.agent.spool_max_mb, config.host.interval_s, config.speedtest.interval_h) == (200.0, 10.0, 4.0)
    assert (config.speedtest.server, config.capture.interface, config.capture.enabled) == ("ookla", "any", True)


@pytest.mark.parametrize("env, expected", [
    ({"XDG_CONFIG_HOME": "/x/cfg", "HOME": "/home/u"}, (SYSTEM_CONFIG, Path("/x/cfg/homeshore/agent.toml"))),
    ({"HOME": "/home/u"}, (SYSTEM_CONFIG, Path("/home/u/.config/homeshore/agent.toml"))),
    ({"XDG_CONFIG_HOME": "relative", "HOME": "/home/u"}, (SYSTEM_CONFIG, Path("/home/u/.config/homeshore/agent.toml"))),
    ({"XDG_CONFIG_HOME": ""}, (SYSTEM_CONFIG,)),
    ({}, (SYSTEM_CONFIG,)),
])
def test_default_config_paths(env, expected):
    assert default_config_paths(env) == expected
    assert SYSTEM_CONFIG == Path("/etc/homeshore/agent.toml")


def test_user_file_overrides_the_system_file_key_by_key(tmp_path):
    system = write(tmp_path, "system.toml", '[collector]\nurl = "http://sys:8086"\nbatch_size = 100\n'
                                            '[host]\ninterval_s = 30\n')
    user = write(tmp_path, "user.toml", '[collector]\nbatch_size = 200\n[capture]\nenabled = false\n')
    config = load_config(None, {}, search=[system, tmp_path / "absent.toml", user])
    assert config.collector.url == "http://sys:8086"  # only in the system file: kept
    assert config.collector.batch_size == 200  # in both: the user's
    assert config.host.interval_s == 30.0
    assert config.capture.enabled is False
    assert config.sources == (str(system), str(user))


def test_explicit_path_is_read_alone_and_must_exist(tmp_path):
    other = write(tmp_path, "other.toml", "[host]\ninterval_s = 99\n")
    given = write(tmp_path, "given.toml", "[host]\ninterval_s = 5\n")
    config = load_config(given, {}, search=[other])
    assert config.host.interval_s == 5.0 and config.sources == (str(given),)
    message = error_of(lambda: load_config(tmp_path / "missing.toml", {}))
    assert "missing.toml" in message and "not found" in message


def test_searched_files_come_from_the_environment(tmp_path):
    write_dir = tmp_path / "homeshore"
    write_dir.mkdir()
    write(write_dir, "agent.toml", '[agent]\nsite = "team-7"\n')
    config = load_config(None, {"XDG_CONFIG_HOME": str(tmp_path)})
    assert config.agent.site == "team-7"
    assert str(write_dir / "agent.toml") in config.sources


# --- environment overrides -------------------------------------------------------------------------------


@pytest.mark.parametrize("variable, text, section, key, expected", [
    ("HOMESHORE_COLLECTOR_URL", "https://c.example.org:8086/influx", "collector", "url",
     "https://c.example.org:8086/influx"),
    ("HOMESHORE_AGENT_SPOOL_MAX_MB", "50", "agent", "spool_max_mb", 50.0),
    ("HOMESHORE_AGENT_SPOOL_MAX_MB", "0.5", "agent", "spool_max_mb", 0.5),
    ("HOMESHORE_COLLECTOR_BATCH_SIZE", " 250 ", "collector", "batch_size", 250),
    ("HOMESHORE_CAPTURE_ENABLED", "false", "capture", "enabled", False),
    ("HOMESHORE_CAPTURE_ENABLED", "0", "capture", "enabled", False),
    ("HOMESHORE_CAPTURE_ENABLED", "No", "capture", "enabled", False),
    ("HOMESHORE_COLLECTOR_VERIFY_TLS", "YES", "collector", "verify_tls", True),
    ("HOMESHORE_COLLECTOR_VERIFY_TLS", "1", "collector", "verify_tls", True),
    ("HOMESHORE_AGENT_STATE_DIR", "/var/tmp/hs", "agent", "state_dir", "/var/tmp/hs"),
    ("HOMESHORE_SPEEDTEST_INTERVAL_H", "12", "speedtest", "interval_h", 12.0),
    ("HOMESHORE_CAPTURE_INTERFACE", "eth0", "capture", "interface", "eth0"),
])
def test_environment_overrides_every_type(tmp_path, variable, text, section, key, expected):
    path = write(tmp_path, "agent.toml", "[capture]\nenabled = true\n[agent]\nspool_max_mb = 10\n")
    config = load_config(path, {variable: text})
    value = getattr(getattr(config, section), key)
    assert value == expected and type(value) is type(expected)
    assert config.sources == (str(path), "environment")


CAUSE_POLICY = Path(__file__).resolve().parents[1] / "data" / "cause_policy.toml"
BAD_CAUSE = Path(__file__).resolve().parents[1] / "data" / "cause_policy_bad.toml"


# A value other than the default for every key, as text for its variable, and what it must become.
OTHER_VALUES = {
    ("agent", "id"): ("desk-7", "desk-7"), ("agent", "postcode"): ("NG5 1AB", "NG5"),
    ("agent", "site"): ("north", "north"), ("agent", "state_dir"): ("/srv/hs", "/srv/hs"),
    ("agent", "spool_max_mb"): ("20", 20.0),
    ("collector", "url"): ("http://h:8086", "http://h:8086"), ("collector", "api"): ("v2", "v2"),
    ("collector", "database"): ("db", "db"), ("collector", "retention_policy"): ("rp", "rp"),
    ("collector", "username"): ("u", "u"), ("collector", "password_file"): ("/etc/pw", "/etc/pw"),
    ("collector", "org"): ("o", "o"), ("collector", "bucket"): ("b", "b"),
    ("collector", "token_file"): ("/etc/tok", "/etc/tok"), ("collector", "flush_interval_s"): ("2.5", 2.5),
    ("collector", "batch_size"): ("7", 7), ("collector", "verify_tls"): ("no", False),
    ("host", "interval_s"): ("60", 60.0), ("host", "policy_file"): (str(CAUSE_POLICY), str(CAUSE_POLICY)),
    ("speedtest", "server"): ("http://10.0.0.1:8080", "http://10.0.0.1:8080"), ("speedtest", "interval_h"): ("1", 1.0),
    ("capture", "interface"): ("wlan0", "wlan0"), ("capture", "enabled"): ("off", None),
}


@pytest.mark.parametrize("section, key", sorted(OTHER_VALUES))
def test_every_key_has_an_environment_variable(section, key):
    text, expected = OTHER_VALUES[section, key]
    if expected is None:  # "off" is not one of the booleans
        assert "HOMESHORE_CAPTURE_ENABLED" in error_of(
            lambda: load_config(None, {"HOMESHORE_CAPTURE_ENABLED": text}, search=[]))
        text, expected = "0", False
    env = {f"HOMESHORE_{section.upper()}_{key.upper()}": text}
    if key == "api":
        env["HOMESHORE_COLLECTOR_ORG"] = "o"
    config = load_config(None, env, search=[])
    assert getattr(getattr(config, section), key) == expected
    assert getattr(getattr(config, section), key) != getattr(getattr(AgentConfig(), section), key)


def test_the_table_above_covers_every_key():
    assert set(OTHER_VALUES) == {(section, key) for section in SECTIONS for key in config_keys(section)}


@pytest.mark.parametrize("variable", ["HOMESHORE_REQUIRE_NETNS", "HOMESHORE_IMPORT_FROM", "HOMESHORE_COMPILE",
                                      "HOMESHORE_COLLECTOR_TOKEN", "HOMESHORE_COLLECTOR_PASSWORD", "OTHER_AGENT_ID"])
def test_variables_that_are_not_keys_are_ignored(variable):
    config = load_config(None, {variable: "whatever"}, search=[])
    assert config == AgentConfig()  # and no "environment" source


@pytest.mark.parametrize("variable, named", [
    ("HOMESHORE_COLLECTOR_UR", "HOMESHORE_COLLECTOR_URL"),
    ("HOMESHORE_AGENT_SPOOL_MAX", "HOMESHORE_AGENT_SPOOL_MAX_MB"),
    ("HOMESHORE_AGENT_AREA", None),  # derived, not a key
    ("HOMESHORE_CAPTURE_ENABLE", "HOMESHORE_CAPTURE_ENABLED"),
])
def test_unknown_variable_of_our_sections_is_an_error(variable, named):
    message = error_of(lambda: load_config(None, {variable: "1"}, search=[]))
    assert variable in message
    if named:
        assert f"did you mean {named}?" in message


# --- validation -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, named", [
    ("[colector]\nurl = 'x'\n", ["[colector]", "did you mean [collector]"]),
    ("[collector]\nurll = 'x'\n", ["collector.urll", "did you mean collector.url"]),
    ("[collector]\npassword = 's3cret-value'\n", ["collector.password", "did you mean collector.password_file"]),
    ("[agent]\narea = 'NG5'\n", ["agent.area"]),
    ("url = 'http://h'\n", ["'url'", "outside any section", "[collector]"]),
    ("[collector]\nurl = \n", ["not valid TOML", "line 2"]),
    ("[collector]\nbatch_size = '5000'\n", ["collector.batch_size", "an integer", "'5000'"]),
    ("[collector]\nbatch_size = 50.5\n", ["collector.batch_size", "an integer", "50.5"]),
    ("[collector]\nverify_tls = 'yes'\n", ["collector.verify_tls", "true or false", "'yes'"]),
    ("[capture]\nenabled = 1\n", ["capture.enabled", "true or false", "1"]),
    ("[host]\ninterval_s = true\n", ["host.interval_s", "a number", "True"]),
    ("[host]\ninterval_s = '10'\n", ["host.interval_s", "a number", "'10'"]),
    ("[agent]\nsite = 7\n", ["agent.site", "a string", "7"]),
    ("[collector]\napi = 'v3'\n", ["collector.api", "'v1' or 'v2'", "'v3'"]),
    ("[host]\ninterval_s = 0\n", ["host.interval_s", "greater than 0"]),
    ("[speedtest]\ninterval_h = -1\n", ["speedtest.interval_h", "greater than 0"]),
    ("[collector]\nflush_interval_s = 0\n", ["collector.flush_interval_s", "greater than 0"]),
    ("[agent]\nspool_max_mb = 0\n", ["agent.spool_max_mb", "greater than 0"]),
    ("[agent]\nspool_max_mb = inf\n", ["agent.spool_max_mb", "greater than 0"]),
    ("[host]\ninterval_s = nan\n", ["host.interval_s", "greater than 0"]),
    ("[collector]\nbatch_size = 0\n", ["collector.batch_size", "1 to 100000"]),
    ("[collector]\nbatch_size = 100001\n", ["collector.batch_size", "1 to 100000"]),
    ("[collector]\nurl = 'ftp://h'\n", ["collector.url", "http(s)://host"]),
    ("[collector]\nurl = 'collector:8086'\n", ["collector.url", "http(s)://host"]),
    ("[collector]\nurl = 'http://h:99999'\n", ["collector.url", "not a valid URL"]),
    ("[collector]\nurl = 'http://h/?db=x'\n", ["collector.url", "no query"]),
    ("[collector]\nurl = 'http://h'\ndatabase = ''\n", ["collector.database", "must be set"]),
    ("[collector]\nurl = 'http://h'\napi = 'v2'\n", ["collector.org", "must be set"]),
    ("[collector]\nurl = 'http://h'\napi = 'v2'\norg = 'o'\nbucket = ''\n", ["collector.bucket", "must be set"]),
    ("[collector]\npassword_file = 'pw'\n", ["collector.password_file", "absolute path"]),
    ("[collector]\ntoken_file = 'token'\n", ["collector.token_file", "absolute path"]),
    ("[speedtest]\nserver = 'speedtest.net'\n", ["speedtest.server", "'ookla' or the URL"]),
    ("[capture]\ninterface = ' '\n", ["capture.interface"]),
    ("[agent]\nid = 'has space'\n", ["agent.id", "1-64"]),
    ("[agent]\nid = '" + "x" * 65 + "'\n", ["agent.id", "1-64"]),
    ("[agent]\nsite = 'a/b'\n", ["agent.site", "1-64"]),
    ("[agent]\nsite = '" + "s" * 65 + "'\n", ["agent.site", "1-64"]),
    ("[agent]\npostcode = 'not a postcode'\n", ["agent.postcode", "not a UK postcode"]),
    ("[host]\npolicy_file = '/nonexistent/policy.toml'\n", ["host.policy_file", "cannot read the policy file"]),
    ("[host]\npolicy_file = '" + str(BAD_CAUSE) + "'\n", ["host.policy_file", "cpu_busy", "did you mean cpu_busy_pct"]),
])
def test_validation_errors_name_the_file_and_key(tmp_path, text, named):
    message = error_of(lambda: load_text(tmp_path, text))
    assert message.startswith(str(tmp_path / "agent.toml") + ": ")
    for part in named:
        assert part in message, (part, message)


def test_error_from_the_environment_names_the_variable():
    message = error_of(lambda: load_config(None, {"HOMESHORE_COLLECTOR_API": "v3"}, search=[]))
    assert message == "HOMESHORE_COLLECTOR_API: collector.api must be 'v1' or 'v2', not 'v3'"
    message = error_of(lambda: load_config(None, {"HOMESHORE_COLLECTOR_BATCH_SIZE": "lots"}, search=[]))
    assert message == "HOMESHORE_COLLECTOR_BATCH_SIZE: collector.batch_size must be an integer, not 'lots'"


def test_credentials_in_the_url_are_refused_without_repeating_them(tmp_path):
    message = error_of(lambda: load_text(tmp_path, "[collector]\nurl = 'https://admin:hunter2@h:8086'\n"))
    assert "collector.url" in message and "username" in message and "password_file" in message
    assert "hunter2" not in message and "admin" not in message


@pytest.mark.parametrize("url", ["http://127.0.0.1:8086", "https://collector.example.org", "https://h:443/influx/",
                                 "http://[::1]:8086"])
def test_good_urls(tmp_path, url):
    assert load_text(tmp_path, f"[collector]\nurl = '{url}'\n").collector.url == url


def test_v2_with_org_and_everything_set(tmp_path):
    config = load_text(tmp_path, "[collector]\nurl = 'https://h'\napi = 'v2'\norg = 'callcentre'\n"
                                 "token_file = '/etc/homeshore/token'\n[speedtest]\nserver = 'http://10.0.0.1:8080'\n")
    assert (config.collector.api, config.collector.org, config.collector.bucket) == ("v2", "callcentre", "homeshore")
    assert config.speedtest.server == "http://10.0.0.1:8080"


@pytest.mark.parametrize("ident", ["h-0123456789abcdef", "desk.12", "A", "x" * 64, "a_b-c.d"])
def test_agent_id_rule_is_identitys(tmp_path, ident):
    assert agent_id(tmp_path, ident) == ident  # the rule of collector/identity.py ...
    assert load_text(tmp_path, f"[agent]\nid = '{ident}'\n").agent.id == ident  # ... is the config's


# --- the postcode -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("postcode, district", [
    ("NG5 1AB", "NG5"), ("ng51ab", "NG5"), ("SW1A 2AA", "SW1A"), ("M1 1AE", "M1"), ("NG5", "NG5"), ("", ""),
])
def test_postcode_is_reduced_to_its_district(tmp_path, postcode, district):
    config = load_text(tmp_path, f"[agent]\npostcode = '{postcode}'\n")
    assert config.agent.area == district
    assert config.agent.postcode == district
    inward = postcode.upper().replace(" ", "")[len(district):]
    if inward:
        assert inward not in repr(config).upper().replace(" ", "")


def test_full_postcode_from_the_environment_is_dropped_too():
    config = load_config(None, {"HOMESHORE_AGENT_POSTCODE": "SW1A 2AA"}, search=[])
    assert config.agent.area == "SW1A" and "2AA" not in repr(config)


def test_invalid_postcode_is_not_repeated(tmp_path):
    message = error_of(lambda: load_text(tmp_path, "[agent]\npostcode = 'NG5 1A8'\n"))
    assert "agent.postcode" in message and "1A8" not in message


# --- secrets ----------------------------------------------------------------------------------------------


def secret(tmp_path: Path, name: str, content: str, mode: int = 0o600) -> Path:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    path.chmod(mode)
    return path


def test_v1_password_file_0600_is_read_and_stripped(tmp_path):
    path = secret(tmp_path, "pw", "  s3cret-pw\n")
    settings = CollectorSettings(username="agent", password_file=str(path))
    assert collector_credentials(settings, {}) == Credentials(username="agent", password="s3cret-pw")
    assert collector_credentials(dataclasses.replace(settings), {"HOMESHORE_COLLECTOR_PASSWORD": "other"}) \
        .password == "s3cret-pw"  # v1: the file wins
    path.chmod(0o400)
    assert collector_credentials(settings, {}).password == "s3cret-pw"


def test_v1_password_from_the_environment_and_no_credentials(tmp_path):
    settings = CollectorSettings(username="agent")
    assert collector_credentials(settings, {"HOMESHORE_COLLECTOR_PASSWORD": " pw "}).password == "pw"
    assert collector_credentials(CollectorSettings(), {}) == Credentials()
    assert "collector.username" in error_of(lambda: collector_credentials(settings, {}))
    assert "collector.username" in error_of(
        lambda: collector_credentials(CollectorSettings(), {"HOMESHORE_COLLECTOR_PASSWORD": "pw"}))


def test_v2_environment_token_wins_over_the_file(tmp_path):
    path = secret(tmp_path, "token", "file-token\n")
    settings = CollectorSettings(api="v2", org="o", token_file=str(path))
    assert collector_credentials(settings, {"HOMESHORE_COLLECTOR_TOKEN": "env-token"}).token == "env-token"
    assert collector_credentials(settings, {}).token == "file-token"
    message = error_of(lambda: collector_credentials(CollectorSettings(api="v2", org="o"), {}))
    assert "token_file" in message and "HOMESHORE_COLLECTOR_TOKEN" in message


@pytest.mark.parametrize("mode, shown", [(0o644, "0644"), (0o640, "0640"), (0o604, "0604"), (0o620, "0620")])
def test_secret_file_readable_by_others_is_refused(tmp_path, mode, shown):
    path = secret(tmp_path, "token", "the-token-value", mode)
    message = error_of(lambda: collector_credentials(CollectorSettings(api="v2", token_file=str(path)), {}))
    assert f"must be mode 0600 (it is {shown})" in message
    assert "collector.token_file" in message and str(path) in message
    assert "the-token-value" not in message


@pytest.mark.parametrize("name, content, expected", [
    ("absent", None, "No such file"),
    ("empty", b" \n", "is empty"),
    ("two", b"line-one-pw\nline-two-pw\n", "one line"),
    (".", None, "not a regular file"),
    ("binary", b"\xffbinary-pw", "not UTF-8"),
    ("large", b"big-pw" * 20000, "too large"),
])
def test_bad_secret_files(tmp_path, name, content, expected):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
        path.chmod(0o600)
    message = error_of(lambda: collector_credentials(CollectorSettings(username="u", password_file=str(path)), {}))
    assert expected in message and "collector.password_file" in message
    assert "-pw" not in message and "xff" not in message  # nothing of what the file holds


def test_secrets_never_in_repr(tmp_path):
    credentials = Credentials(username="agent", password="pw-9f8e7d", token="tok-1a2b3c")
    assert "pw-9f8e7d" not in repr(credentials) and "tok-1a2b3c" not in repr(credentials)
    assert "pw-9f8e7d" not in str(credentials)
    assert "agent" in repr(credentials)


# --- the sample configuration -----------------------------------------------------------------------------


def uncommented(text: str) -> str:
    """The sample with its commented settings ("# key = value") enabled; prose ("## ...") stays a comment."""
    return re.sub(r"^# (?=[a-z_]+ = )", "", text, flags=re.MULTILINE)


def test_sample_loads_as_the_defaults():
    config = load_config(SAMPLE, {})
    assert dataclasses.replace(config, sources=()) == AgentConfig()


def test_sample_documents_every_key_with_its_default(tmp_path):
    text = SAMPLE.read_text(encoding="utf-8")
    enabled = uncommented(text)
    document = tomllib.loads(enabled)
    keys = {(section, key) for section in SECTIONS for key in config_keys(section)}
    shown = {(section, key) for section, table in document.items() for key in table}
    assert shown == keys  # every key, and nothing that is not one
    assert len(re.findall(r"^# [a-z_]+ = ", text, flags=re.MULTILINE)) == len(keys)  # each shown once
    for section, table in document.items():
        for key, value in table.items():
            default = getattr(SECTIONS[section](), key)
            assert value == default and type(value) is type(default), (section, key, value, default)
    config = load_config(write(tmp_path, "enabled.toml", enabled), {})
    assert dataclasses.replace(config, sources=()) == AgentConfig()
    assert all(key not in document.get(section, {}) for section, derived in DERIVED.items() for key in derived)


def test_sample_says_what_leaves_the_machine():
    text = SAMPLE.read_text(encoding="utf-8")
    assert "district" in text and "0600" in text and "HOMESHORE_COLLECTOR_TOKEN" in text
