"""The server extra's boundary: the agent's packages (quality/, probe/, collector/, planning/ and the CLI's
commands) import and run without aiohttp and aiortc, none of them imports server/, and collector/ reaches
neither probe/ nor planning/ (data flows one way: STYLE.md, house rule 1)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from homeshore.cli.serve import NEEDS_EXTRA
from homeshore.cli.status import ExitStatus

REPO = Path(__file__).resolve().parents[2]
AGENT_PACKAGES = ("quality", "probe", "collector", "planning", "cli")

# Run first in a fresh interpreter: aiohttp and aiortc (and anything under them) then fail to import as if the
# server extra were not installed, whatever this machine has.
BLOCK_EXTRA = """
import sys
class BlockServerExtra:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("aiohttp", "aiortc"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, BlockServerExtra())
"""

IMPORT_ALL = BLOCK_EXTRA + """
import importlib, json, pkgutil
failed, imported = {}, []
for package in %r:
    for info in pkgutil.walk_packages(importlib.import_module(f"homeshore.{package}").__path__, f"homeshore.{package}."):
        try:
            importlib.import_module(info.name)
            imported.append(info.name)
        except Exception as error:
            failed[info.name] = repr(error)
for name in ("aiohttp", "homeshore.server.speed_http"):  # the blocker itself, checked: these must fail
    try:
        importlib.import_module(name)
    except ModuleNotFoundError:
        pass
    else:
        failed[name] = "imported despite the blocker"
server_loaded = sorted(name for name in sys.modules if name.startswith("homeshore.server."))
print(json.dumps({"failed": failed, "imported": imported, "server_loaded": server_loaded}))
""" % (AGENT_PACKAGES,)


def python(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)


def test_every_agent_module_imports_without_the_server_extra() -> None:
    done = python(IMPORT_ALL)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["failed"] == {}
    expected = {".".join(("homeshore", package, *path.relative_to(REPO / package).with_suffix("").parts))
                .removesuffix(".__init__") for package in AGENT_PACKAGES
                for path in (REPO / package).rglob("*.py") if path.parent != REPO / package or path.stem != "__init__"}
    assert set(report["imported"]) == expected
    # homeshore.server.speed_http was tried (and refused) above; what loaded is only what an agent module pulled
    # in before that: nothing of server/.
    assert report["server_loaded"] == []


def test_serve_without_the_extra_says_so_in_one_line_and_exits_2() -> None:
    code = BLOCK_EXTRA + "from homeshore.cli.main import main\nsys.argv[0] = 'homeshore'\nmain()\n"
    done = python(code, "serve", "--bind", "127.0.0.1", "--http-port", "0", "--udp-port", "0")
    assert done.returncode == ExitStatus.CANNOT_MEASURE
    assert done.stdout == ""
    assert done.stderr == f"homeshore serve: {NEEDS_EXTRA}\n"


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (function-level imports included), relative ones resolved."""
    package = f"homeshore.{path.parent.name}"
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module or "") if part)
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def reaches(package: str, targets: tuple[str, ...]) -> dict[str, list[str]]:
    found = {}
    for path in sorted((REPO / package).rglob("*.py")):  # subpackages too (probe/agent/)
        bad = sorted(name for name in imported_modules(path)
                     if any(name == f"homeshore.{t}" or name.startswith(f"homeshore.{t}.") for t in targets))
        if bad:
            found[str(path.relative_to(REPO))] = bad
    return found


def test_collector_imports_neither_probe_nor_planning() -> None:
    assert reaches("collector", ("probe", "planning")) == {}


def test_no_agent_package_imports_server() -> None:
    # cli/ is left out: cli/serve.py imports server/ inside the command (the test above shows no CLI module
    # loads it at import)
    for package in ("quality", "probe", "collector", "planning"):
        assert reaches(package, ("server",)) == {}, package


def test_the_import_reader_sees_each_form_of_import(tmp_path: Path) -> None:
    module = tmp_path / "collector" / "example.py"
    module.parent.mkdir()
    module.write_text("import homeshore.probe.latency\nfrom homeshore.planning import policy\n"
                      "def f():\n    from ..server import speed_http\n    from . import spool\n")
    assert imported_modules(module) == {
        "homeshore.probe.latency", "homeshore.planning", "homeshore.planning.policy", "homeshore.server",
        "homeshore.server.speed_http", "homeshore.collector", "homeshore.collector.spool"}
