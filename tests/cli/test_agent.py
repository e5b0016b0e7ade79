"""`homeshore agent run` and `homeshore agent status` as real processes, writing to a real InfluxDB 1.6 with
authentication on, as a user that may only WRITE (what an agent gets in production).

Each test drives the agent through its real configuration: a TOML file in tmp_path (its own state directory,
its own agent id, so tests sharing the InfluxDB never count each other's points), with short intervals and
capture disabled where capture is not the point.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from homeshore.cli.status import ExitStatus
from homeshore.collector.schema import Sample
from tests.cli.agent_home import DATABASE, STOP_LIMIT_S, WRITER, AgentSetup, agent_environment, influx_with_writer
from tests.references.influxd import closed_port

@pytest.fixture(scope="module")
def influx():
    yield from influx_with_writer()


@pytest.fixture
def home(tmp_path, influx, request):
    setup = AgentSetup(tmp_path, "t-" + request.node.name[5:40].replace("_", "-").strip("-"), influx)
    yield setup
    setup.kill()


def run_agent(args: list[str], env: dict[str, str] | None = None, timeout_s: float = 30):
    return subprocess.run([sys.executable, "-m", "homeshore.cli.main", "agent", *args], capture_output=True,
                          text=True, timeout=timeout_s, env=env or agent_environment())


# --- configuration --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, env, key", [
    ('[collector]\nurl = "http://127.0.0.1:1"\napi = "v3"\n', {}, "collector.api"),
    ('[host]\ninterval = 5\n', {}, "host.interval"),
    ('[host]\ninterval_s = -1\n', {}, "host.interval_s"),
    ('[agent]\npostcode = "NOT A POSTCODE"\n', {}, "agent.postcode"),
    ('', {"HOMESHORE_HOST_INTERVAL_S": "often"}, "HOMESHORE_HOST_INTERVAL_S"),
])
def test_a_bad_configuration_stops_the_agent_with_one_line_naming_the_key_and_exit_2(tmp_path, text, env,
                                                                                     key) -> None:
    config = tmp_path / "agent.toml"
    config.write_text(text)
    result = run_agent(["run", "--config", str(config)], env=agent_environment(**env))  # exited: no timeout
    assert result.returncode == ExitStatus.CANNOT_MEASURE, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("homeshore agent run: ") and key in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    status = run_agent(["status", "--config", str(config)], env=agent_environment(**env))
    assert status.returncode == ExitStatus.CANNOT_MEASURE and key in status.stderr


# --- delivery -------------------------------------------------------------------------------------------------
def _influx_samples(home: AgentSetup, measurement: str) -> set[Sample]:
    """Every point of the measurement for this agent, as Samples built from what InfluxDB returns."""
    out = set()
    answer = home.influx.query(f"SELECT * FROM {measurement} WHERE agent = '{home.agent_id}' GROUP BY *", DATABASE)
    for series in answer["results"][0].get("series", []):
        tags = {key: value for key, value in series["tags"].items() if value != ""}
        for values in series["values"]:
            row = dict(zip(series["columns"], values))
            time_ns = row.pop("time")
            out.add(Sample(measurement, tags, {k: v for k, v in row.items() if v is not None}, time_ns))
    return out


def test_samples_come_back_from_influxdb_with_the_same_values_types_and_tags(home) -> None:
    # First without a collector: what the agent produced stays in the spool, where the test can read it.
    home.configure(to=False)
    home.start()
    home.wait_for(lambda: home.status().get("samples_spooled", {}).get("host", 0) >= 8, 20, "host samples")
    assert home.stop()[0] == 0
    produced = home.spooled_samples()
    by_measurement = {m: {s for s in produced if s.measurement == m} for m in ("host", "agent")}
    assert len(by_measurement["host"]) >= 8 and len(by_measurement["agent"]) == 1
    assert all(dict(s.tags) == {"agent": home.agent_id, "area": "NG5", "site": "hub-a", "conn": s.tags["conn"]}
               for s in by_measurement["host"])

    # Then with one, and nothing new to produce: the spool is delivered.
    home.configure(host={"interval_s": 3600})
    home.start("--self-metrics-interval", "3600")
    home.wait_for(lambda: home.spool_stats().rows == 0 and home.points("host") == len(
        by_measurement["host"]), 20, "the spool delivered", explain=lambda: (
        f"spool rows {home.spool_stats().rows}, host points in InfluxDB {home.points('host')} of "
        f"{len(by_measurement['host'])}, status {json.dumps(home.status().get('collector_state', home.status()))}"))
    assert home.stop()[0] == 0
    assert _influx_samples(home, "host") == by_measurement["host"]
    assert by_measurement["agent"] <= _influx_samples(home, "agent")  # plus the second run's own
    field_types = home.influx.rows("SHOW FIELD KEYS FROM host", DATABASE)
    assert field_types and {row["fieldType"] for row in field_types} == {"float"}
    tag_keys = {row["tagKey"] for row in home.influx.rows("SHOW TAG KEYS FROM host", DATABASE)}
    assert tag_keys == {"agent", "area", "conn", "site"}
    # The postcode left the machine as its district only.
    assert "1AB" not in json.dumps(home.influx.query(
        f"SELECT * FROM /.*/ WHERE agent = '{home.agent_id}' GROUP BY *", DATABASE))


def test_the_agent_delivers_while_running_and_exits_within_5_s_of_sigterm_with_nothing_left_behind(home) -> None:
    home.configure()
    home.start()
    home.wait_for(lambda: home.count("host", "mem_pct") >= 5, 20, "host samples in InfluxDB")
    home.wait_for(lambda: home.status().get("samples_spooled", {}).get("host", 0) >= 10, 20, "ten host samples")
    code, exit_s = home.stop()
    print(f"exit after SIGTERM: {exit_s:.2f} s")
    assert code == 0 and exit_s < STOP_LIMIT_S, home.log()
    status = home.status()
    assert status["stopped"] is True and status["spool"]["rows"] == 0
    assert home.spool_stats().rows == 0  # the last flush took everything, the final agent sample included
    assert home.counts() == status["samples_spooled"] and status["samples_spooled"]["host"] >= 10
    log = home.log().splitlines()
    assert log and all(line.startswith("homeshore agent: ") for line in log), log
    assert WRITER[1] not in home.log()


def test_sighup_reloads_the_configuration_and_keeps_the_running_one_when_the_new_one_is_bad(home) -> None:
    home.configure()
    home.start()
    home.wait_for(lambda: home.count("host", "mem_pct", " AND site = 'hub-a'") >= 3, 20, "hub-a samples")
    home.configure(agent={"site": "hub-b"})
    home.process.send_signal(signal.SIGHUP)
    home.wait_for(lambda: home.count("host", "mem_pct", " AND site = 'hub-b'") >= 3, 20, "hub-b samples")
    assert "configuration reloaded" in home.log()

    home.config_path.write_text(home.config_path.read_text() + '[capture]\ninterface = ""\n')  # TOML: duplicate
    home.process.send_signal(signal.SIGHUP)
    home.wait_for(lambda: "reload refused" in home.log(), 10, "the refusal")
    before = home.count("host", "mem_pct", " AND site = 'hub-b'")
    home.wait_for(lambda: home.count("host", "mem_pct", " AND site = 'hub-b'") >= before + 3, 20,
                  "samples after the refused reload")
    code, _ = home.stop()
    assert code == 0
    last_a = home.influx.rows(f"SELECT last(mem_pct) FROM host WHERE agent = '{home.agent_id}' AND site = 'hub-a'",
                              DATABASE)[0]["time"]
    first_b = home.influx.rows(f"SELECT first(mem_pct) FROM host WHERE agent = '{home.agent_id}' "
                               "AND site = 'hub-b'", DATABASE)[0]["time"]
    assert last_a < first_b  # after the reload, every sample carries the new tag
    refused = [line for line in home.log().splitlines() if "reload refused" in line]
    assert len(refused) == 1 and "agent.toml" in refused[0]


def test_agent_status_json_with_the_agent_running_and_after_it_stopped(home) -> None:
    home.configure()
    never = run_agent(["status", "--config", str(home.config_path), "--json"])
    assert never.returncode == ExitStatus.FAILED
    assert json.loads(never.stdout)["running"] is False and json.loads(never.stdout)["spool"]["rows"] == 0

    home.start()
    home.wait_for(lambda: home.status().get("collector", {}).get("last_write_ok"), 20, "a successful write")
    running = run_agent(["status", "--config", str(home.config_path), "--json"])
    report = json.loads(running.stdout)
    assert running.returncode == ExitStatus.OK, running.stdout
    assert report["running"] is True and report["pid"] == home.process.pid
    assert report["collector"]["state"] == "ok" and report["collector"]["last_write_ok"]
    assert report["collector"]["description"].startswith(f"InfluxDB v1 {home.influx.url}")
    assert report["capture"]["state"] == "disabled" and report["speedtest"]["next"]
    assert set(report["spool"]) >= {"rows", "oldest_unsent", "dropped", "quarantined"}
    panel = run_agent(["status", "--config", str(home.config_path)])
    assert panel.returncode == ExitStatus.OK and "running (pid" in panel.stdout
    assert WRITER[1] not in running.stdout + panel.stdout

    assert home.stop()[0] == 0
    stopped = run_agent(["status", "--config", str(home.config_path), "--json"])
    assert stopped.returncode == ExitStatus.FAILED and json.loads(stopped.stdout)["running"] is False
    assert "not running" in run_agent(["status", "--config", str(home.config_path)]).stdout


def test_wrong_credentials_give_one_clear_log_line_an_error_in_the_status_and_the_samples_stay(home) -> None:
    home.password_file.write_text("not-the-password\n")
    home.configure(collector={"flush_interval_s": 0.2})
    home.start()
    home.wait_for(lambda: home.status().get("collector", {}).get("write_errors", 0) >= 3, 30, "failed writes")
    report = json.loads(run_agent(["status", "--config", str(home.config_path), "--json"]).stdout)
    code, _ = home.stop()
    assert code == 0
    assert report["collector"]["state"] == "failing" and "401" in report["collector"]["last_write_error"]
    errors = [line for line in home.log().splitlines() if "cannot write" in line]
    assert len(errors) == 1, home.log()  # one line for the state change, not one per attempt
    assert "401" in errors[0] and "credentials" in errors[0] and "not-the-password" not in home.log()
    status = home.status()
    assert home.spool_stats().rows == sum(status["samples_spooled"].values()) >= 5  # every sample kept
    assert home.counts() == {}


def test_no_collector_configured_keeps_samples_in_the_local_spool_and_says_so(home) -> None:
    home.configure(to=False)
    home.start()
    home.wait_for(lambda: home.status().get("samples_spooled", {}).get("host", 0) >= 3, 20, "host samples")
    report = json.loads(run_agent(["status", "--config", str(home.config_path), "--json"]).stdout)
    assert home.stop()[0] == 0
    assert report["collector"]["state"] == "not configured" and report["running"] is True
    assert home.spool_stats().rows == sum(home.status()["samples_spooled"].values())


def test_an_unreachable_collector_is_retried_without_a_line_per_attempt(home) -> None:
    with closed_port() as port:
        home.configure(to=f"http://127.0.0.1:{port}")
        home.start()
        home.wait_for(lambda: home.status().get("collector", {}).get("write_errors", 0) >= 3, 30, "failed writes")
        assert home.stop()[0] == 0
    assert len([line for line in home.log().splitlines() if "cannot write" in line]) == 1
    assert "will retry" in home.log()
    report = json.loads(run_agent(["status", "--config", str(home.config_path), "--json"]).stdout)
    assert report["collector"]["last_write_error"].endswith(
        f"; nothing listens on 127.0.0.1:{port}: is the server running?")


def test_a_capture_that_cannot_start_is_logged_once_shown_in_the_status_and_the_rest_runs_on(home) -> None:
    home.configure(capture={"enabled": True, "interface": "nosuchif0"})
    home.start()
    home.wait_for(lambda: home.count("host", "mem_pct") >= 3, 20, "host samples despite the capture")
    report = json.loads(run_agent(["status", "--config", str(home.config_path), "--json"]).stdout)
    assert home.stop()[0] == 0
    assert report["running"] is True
    assert report["capture"]["state"].startswith("failed: ") and "nosuchif0" in report["capture"]["error"]
    lines = [line for line in home.log().splitlines() if "capture cannot start" in line]
    assert len(lines) == 1 and "nosuchif0" in lines[0]


@pytest.mark.parametrize("ending", ["sigterm", "sigkill"])
def test_agent_status_after_the_agent_ended_does_not_say_capture_running(home, ending: str) -> None:
    home.configure(capture={"enabled": True, "interface": "lo"})
    home.start()
    home.wait_for(lambda: home.status().get("capture", {}).get("state") == "running", 20, "the capture running")
    if ending == "sigterm":
        assert home.stop()[0] == 0
    else:
        home.kill()
    assert home.status()["capture"]["state"] == "running"  # what the file still says
    stopped = run_agent(["status", "--config", str(home.config_path), "--json"])
    report = json.loads(stopped.stdout)
    assert stopped.returncode == ExitStatus.FAILED and report["running"] is False
    assert report["capture"]["state"] == "not running"
    assert (report["capture"]["last_state"], report["capture"]["as_of"]) == ("running", report["status_updated"])
    panel = run_agent(["status", "--config", str(home.config_path)], env=agent_environment(COLUMNS="200")).stdout
    (capture_line,) = [line for line in panel.splitlines() if "capture" in line]
    assert "not running (last status" in capture_line and "running on lo" in capture_line
    assert capture_line.split("capture", 1)[1].split()[0] == "not"
