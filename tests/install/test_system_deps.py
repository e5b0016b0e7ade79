"""scripts/install-system-deps installs every program the tests and bench/ run: each one found in their source
(a tool tuple or require_tool/which, or the first word of a command they start) resolves with `dpkg -S` to a
package the script lists, or to an Essential one, which every Debian system has (bash, coreutils, util-linux).
The reference is dpkg's own file database, not a list kept by hand."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from tests.conftest import REPO, require_tool

SCRIPT = REPO / "scripts" / "install-system-deps"
# `make test` is what .ci/run runs; no test starts make itself.
RUN_OUTSIDE_THE_TESTS = ("make",)

_QUOTED = re.compile(r'"([A-Za-z0-9][\w.+-]*)"')
_TOOL_LISTS = re.compile(r"(?:TOOLS\s*=|require_lab\()\s*\(([^)]*)\)")
_NAMED = re.compile(r'(?:require_tool|which)\(\s*"([^"]+)"\s*\)')
# The first word of a command list: given to a call that starts it, assigned as argv, or returned (as_nobody).
_COMMAND = re.compile(r'(?:\b(?:run|Popen|popen|check_output|_running)\(\s*(?:[\w.]+,\s*)?|\bargv\s*=\s*|return\s+)'
                      r'\[\s*"([a-z][\w.+-]*)"')


def programs_in(source: str) -> set[str]:
    found = set(_NAMED.findall(source)) | set(_COMMAND.findall(source))
    for listed in _TOOL_LISTS.findall(source):
        found |= set(_QUOTED.findall(listed))
    return found


def programs_the_suite_runs() -> set[str]:
    files = [*sorted((REPO / "tests").rglob("*.py")), *sorted((REPO / "bench").rglob("*.py"))]
    return set().union(*(programs_in(path.read_text(encoding="utf-8")) for path in files)) | set(RUN_OUTSIDE_THE_TESTS)


def listed_packages() -> set[str]:
    text = SCRIPT.read_text(encoding="utf-8")
    (listing,) = re.findall(r"^packages=\(([^)]*)\)", text, flags=re.MULTILINE)
    return set(listing.split())


def owning_package(path: str) -> str | None:
    """dpkg's owner of an installed file, trying the /usr-merged and the resolved spellings of its path."""
    resolved = str(Path(path).resolve())
    for candidate in dict.fromkeys((path, resolved, path.removeprefix("/usr"), resolved.removeprefix("/usr"))):
        result = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True, timeout=60)
        if result.returncode == 0:
            return result.stdout.split(":", 1)[0].split(",")[0].strip()
    return None


def essential(package: str) -> bool:
    result = subprocess.run(["dpkg-query", "-W", "-f=${Essential}", package], capture_output=True, text=True,
                            timeout=60)
    return result.stdout.strip() == "yes"


def dependencies(packages: set[str]) -> set[str]:
    """What the listed packages depend on directly (`gcc` brings `gcc-12`, which owns the `cc` that `gcc` sets up)."""
    result = subprocess.run(["dpkg-query", "-W", "-f=${Depends}\\n", *sorted(packages)], capture_output=True,
                            text=True, timeout=60)
    return {re.split(r"[\s:(]", alternative.strip())[0] for line in result.stdout.splitlines()
            for relation in line.split(",") for alternative in relation.split("|") if alternative.strip()}


def test_the_audit_finds_the_commands_of_each_form() -> None:
    source = '''TOOLS = ("ip", "tc")
require_lab(("setpriv",))
tshark = require_tool("tshark"); shutil.which("chromium")
netlab.run(lab.b.ns, ["sysctl", "-qw", "x"]); subprocess.run(
    ["openssl", "req"])
argv = ["iperf3", "--client"]
    return ["setpriv", "--reuid=65534"]
subprocess.run([sys.executable, "-c", "x"]); print(["not", "a", "command"])
'''
    assert programs_in(source) == {"ip", "tc", "setpriv", "tshark", "chromium", "sysctl", "openssl", "iperf3"}


def test_every_program_the_tests_run_comes_from_a_listed_or_essential_package() -> None:
    require_tool("dpkg")
    programs = programs_the_suite_runs()
    assert {"tshark", "iperf3", "sysctl", "openssl", "setpriv", "systemd-analyze"} <= programs, programs
    listed = listed_packages()
    brought = dependencies(listed)
    not_covered = {}
    for program in sorted(programs):
        path = shutil.which(program) or require_tool(program)
        package = owning_package(path)
        if package is None or not (package in listed or package in brought or essential(package)):
            not_covered[program] = package
    assert not_covered == {}, f"programs whose package scripts/install-system-deps does not install: {not_covered}"
