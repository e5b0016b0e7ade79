"""The SQLite spool: queue order, durability across a SIGKILL, the size bound, quarantine, two writers at once,
file modes; and where the state directory lies (collector/state.py, which only names the spool's place)."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path, PurePosixPath, PureWindowsPath

import pytest

from homeshore.collector.schema import Sample, from_line_protocol, to_line_protocol
from homeshore.collector.spool import ROW_OVERHEAD_BYTES, Spool
from homeshore.collector.state import spool_path, state_directory
from tests.conftest import REPO


def host(i: int, agent: str = "home-1") -> Sample:
    return Sample("host", {"agent": agent, "conn": "wired"}, {"cpu_pct": i / 7, "mem_pct": 50.0}, 10**18 + i)


def test_rows_come_out_oldest_first_and_leave_only_when_deleted(tmp_path) -> None:
    first, second = [host(i) for i in range(5)], [host(i) for i in range(5, 8)]
    with Spool(tmp_path / "spool.sqlite3") as spool:
        assert spool.append(first) == 0
        assert spool.append(second, now_ns=123) == 0
        rows = spool.pending(100)
        assert [from_line_protocol(row.line) for row in rows] == first + second
        assert [row.created_ns for row in rows[5:]] == [123] * 3
        assert [r.line for r in spool.pending(2)] == [to_line_protocol(s) for s in first[:2]]
        spool.delete([rows[0].id, rows[2].id])
        assert [from_line_protocol(r.line) for r in spool.pending(3)] == [first[1], first[3], first[4]]
        spool.delete([rows[0].id])  # already gone: nothing happens
        stats = spool.stats()
    assert stats.rows == 6 and stats.dropped == 0 and stats.quarantined == 0
    assert stats.bytes == sum(len(r.line.encode()) + ROW_OVERHEAD_BYTES for r in rows) - sum(
        len(rows[i].line.encode()) + ROW_OVERHEAD_BYTES for i in (0, 2))
    with Spool(tmp_path / "spool.sqlite3") as reopened:
        assert [r.id for r in reopened.pending(100)] == [r.id for i, r in enumerate(rows) if i not in (0, 2)]
        reopened.delete(r.id for r in reopened.pending(100))
        assert reopened.stats().rows == 0 and reopened.stats().bytes == 0
        assert reopened.stats().oldest_created_ns is None


def _spawn(code: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)


def test_an_append_that_returned_survives_a_sigkill(tmp_path) -> None:
    path = tmp_path / "state" / "spool.sqlite3"
    child = _spawn(f"""
        import sys, time
        from homeshore.collector.spool import Spool
        from tests.collector.test_spool import host
        spool = Spool({str(path)!r})
        for batch in range(20):
            spool.append([host(batch * 10 + i) for i in range(10)])
        print("appended", flush=True)
        time.sleep(60)
    """)
    try:
        assert child.stdout.readline().strip() == "appended", child.stderr.read()
        os.kill(child.pid, signal.SIGKILL)  # no close(), no checkpoint: only what was committed remains
        assert child.wait(timeout=10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert (path.parent / "spool.sqlite3-wal").exists()  # the rows are in the WAL, not yet in the main file
    with Spool(path) as spool:
        rows = spool.pending(1000)
        assert [from_line_protocol(row.line) for row in rows] == [host(i) for i in range(200)]
        assert spool.stats().rows == 200


def _kept_suffix(lines: list[str], max_bytes: int) -> int:
    """Reference for the bound: the longest run of newest lines whose accounted size fits."""
    total, kept = 0, 0
    for line in reversed(lines):
        total += len(line.encode()) + ROW_OVERHEAD_BYTES
        if total > max_bytes:
            break
        kept += 1
    return kept


def test_when_full_the_oldest_rows_are_dropped_and_counted(tmp_path) -> None:
    path = tmp_path / "spool.sqlite3"
    samples = [host(i, agent="x" * (i % 13)) for i in range(1, 300)]  # lines of varied lengths
    lines = [to_line_protocol(s) for s in samples]
    max_bytes = 4000
    appended: list[str] = []
    dropped_total = 0
    with Spool(path, max_bytes=max_bytes) as spool:
        for start in range(0, 200, 25):
            dropped_total += spool.append(samples[start:start + 25])
            appended += lines[start:start + 25]
            kept = _kept_suffix(appended, max_bytes)
            assert spool.stats().dropped == len(appended) - kept == dropped_total
            assert [r.line for r in spool.pending(1000)] == appended[len(appended) - kept:]
            assert spool.stats().bytes <= max_bytes
    with Spool(path, max_bytes=max_bytes) as reopened:  # the counter persists
        assert reopened.stats().dropped == dropped_total
        # one batch bigger than the whole bound keeps only its newest rows
        dropped = reopened.append(samples[200:])
        appended += lines[200:]
        kept = _kept_suffix(appended, max_bytes)
        assert dropped == len(appended) - kept - dropped_total
        assert [r.line for r in reopened.pending(1000)] == appended[len(appended) - kept:]
        assert reopened.stats().dropped == len(appended) - kept


def test_the_file_stays_near_the_bound_however_much_is_appended(tmp_path) -> None:
    path = tmp_path / "spool.sqlite3"
    max_bytes = 256 * 1024
    with Spool(path, max_bytes=max_bytes) as spool:
        for batch in range(40):  # about 3 MB of lines through a 256 KiB spool
            spool.append([host(batch * 500 + i, agent=f"agent-{i % 50:040d}") for i in range(500)])
        assert spool.stats().dropped > 15_000
    assert path.stat().st_size < 2 * max_bytes  # SQLite reuses the pages the dropped rows freed


def test_rejected_rows_move_to_quarantine_and_stop_blocking_the_queue(tmp_path) -> None:
    with Spool(tmp_path / "spool.sqlite3") as spool:
        spool.append([host(i) for i in range(6)])
        rows = spool.pending(6)
        spool.quarantine([rows[0].id, rows[3].id], "400: partial write: field type conflict", now_ns=5)
        assert [r.id for r in spool.pending(10)] == [rows[i].id for i in (1, 2, 4, 5)]
        stats = spool.stats()
        assert stats.rows == 4 and stats.quarantined == 2 and stats.dropped == 0
        assert stats.bytes == sum(len(rows[i].line.encode()) + ROW_OVERHEAD_BYTES for i in (1, 2, 4, 5))
        assert spool.quarantined() == [(rows[3], "400: partial write: field type conflict"),
                                       (rows[0], "400: partial write: field type conflict")]
        spool.quarantine([rows[0].id], "again")  # no longer queued: nothing moves
        assert spool.stats().quarantined == 2


def test_two_processes_appending_at_once_lose_nothing(tmp_path) -> None:
    path = tmp_path / "spool.sqlite3"
    Spool(path).close()
    code = """
        import sys
        from homeshore.collector.spool import Spool
        from tests.collector.test_spool import host
        with Spool({path!r}) as spool:
            print("ready", flush=True)
            sys.stdin.readline()  # all start together
            for batch in range(200):
                spool.append([host(batch * 5 + i, agent="{agent}") for i in range(5)])
                spool.stats()
        print("done", flush=True)
    """
    children = [_spawn(code.format(agent=agent, path=str(path))) for agent in ("daemon", "check")]
    for child in children:
        assert child.stdout.readline().strip() == "ready", child.stderr.read()
    for child in children:
        child.stdin.write("go\n")
        child.stdin.flush()
    with Spool(path) as spool:  # and this process appends meanwhile too, from its own connection
        for i in range(100):
            spool.append([host(i, agent="parent")])
    for child in children:
        out, err = child.communicate(timeout=120)
        assert out.strip() == "done", err
    with Spool(path) as spool:
        samples = [from_line_protocol(row.line) for row in spool.pending(10_000)]
    for agent, count in (("daemon", 1000), ("check", 1000), ("parent", 100)):
        mine = [s for s in samples if s.tags["agent"] == agent]
        assert mine == [host(i, agent=agent) for i in range(count)]  # all there, each writer's in its order
    assert len(samples) == 2100


def test_the_spool_is_private_to_its_user_whatever_the_umask(tmp_path) -> None:
    path = tmp_path / "new" / "state" / "spool.sqlite3"
    old = os.umask(0)
    try:
        with Spool(path) as spool:
            spool.append([host(1)])
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in path.parent.iterdir()}
            assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
            assert modes == {"spool.sqlite3": 0o600, "spool.sqlite3-wal": 0o600, "spool.sqlite3-shm": 0o600}
        loose = tmp_path / "loose.sqlite3"
        loose.touch(mode=0o644)
        Spool(loose).close()
        assert stat.S_IMODE(loose.stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_a_bound_must_be_positive(tmp_path) -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        Spool(tmp_path / "s.sqlite3", max_bytes=0)


# ---- collector/state.py ------------------------------------------------------------------------------

@pytest.mark.parametrize(("env", "configured", "platform", "expected"), [
    ({"HOME": "/home/ann"}, "/srv/hs", "linux", PurePosixPath("/srv/hs")),
    ({"HOME": "/home/ann"}, "~/hs", "linux", PurePosixPath("/home/ann/hs")),
    ({"HOME": "/home/ann", "STATE_DIRECTORY": "/var/lib/homeshore"}, "", "linux",
     PurePosixPath("/var/lib/homeshore")),
    ({"STATE_DIRECTORY": "/var/lib/homeshore:/var/lib/other"}, "", "linux", PurePosixPath("/var/lib/homeshore")),
    ({"HOME": "/home/ann", "XDG_DATA_HOME": "/data/ann"}, "", "linux", PurePosixPath("/data/ann/homeshore")),
    ({"HOME": "/home/ann", "XDG_DATA_HOME": "relative"}, "", "linux",
     PurePosixPath("/home/ann/.local/share/homeshore")),
    ({"HOME": "/home/ann"}, "", "freebsd14", PurePosixPath("/home/ann/.local/share/homeshore")),
    ({"HOME": "/Users/ann"}, "", "darwin", PurePosixPath("/Users/ann/Library/Application Support/homeshore")),
    ({"LOCALAPPDATA": r"C:\Users\ann\AppData\Local", "USERPROFILE": r"C:\Users\ann"}, "", "win32",
     PureWindowsPath(r"C:\Users\ann\AppData\Local\homeshore")),
    ({"USERPROFILE": r"C:\Users\ann"}, "", "win32", PureWindowsPath(r"C:\Users\ann\AppData\Local\homeshore")),
    ({"STATE_DIRECTORY": r"D:\hs"}, "", "win32", PureWindowsPath(r"D:\hs")),
])
def test_the_state_directory_follows_config_then_systemd_then_the_platform(env, configured, platform,
                                                                           expected) -> None:
    assert state_directory(env, configured=configured, platform=platform) == expected


def test_on_this_machine_the_state_directory_is_a_concrete_path() -> None:
    directory = state_directory({"HOME": "/home/ann"}, platform=sys.platform)
    assert isinstance(directory, Path)
    assert spool_path(directory) == Path("/home/ann/.local/share/homeshore/spool.sqlite3")


def test_without_a_home_the_state_directory_must_be_configured() -> None:
    with pytest.raises(ValueError, match="agent.state_dir"):
        state_directory({}, platform="linux")


def test_opening_the_spool_again_in_one_process_keeps_its_commits_visible_to_others(tmp_path) -> None:
    """POSIX drops all of a process's locks on a file when it closes any descriptor of that file. Opening the
    spool a second time in one process must not do that to the first connection: another process that opens
    and closes the spool would otherwise think itself the last user and delete the WAL still in use here."""
    path = tmp_path / "spool.sqlite3"
    count = f"from homeshore.collector.spool import Spool; s = Spool({str(path)!r}); print(s.stats().rows); s.close()"
    with Spool(path) as first:
        first.append([host(i) for i in range(10)])
        with Spool(path):  # the agent's status reader, a second thread, a check run from the same process
            pass
        subprocess.run([sys.executable, "-c", count], check=True, capture_output=True, cwd=REPO, timeout=60)
        first.append([host(i) for i in range(10, 25)])
        seen_elsewhere = subprocess.run([sys.executable, "-c", count], check=True, capture_output=True, text=True,
                                        cwd=REPO, timeout=60).stdout
    assert int(seen_elsewhere) == 25
    with Spool(path) as reopened:
        assert [from_line_protocol(row.line) for row in reopened.pending(100)] == [host(i) for i in range(25)]
