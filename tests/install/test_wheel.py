"""The build users get (pip wheel ., as install.sh and the README's `make check` build it): the capture analyser
compiled by mypyc where there is a C compiler, installed from the wheel and giving the working tree's results;
pure Python with exactly one warning where there is none, or with HOMESHORE_COMPILE=0.

The mypyc build takes about a minute on two cores, so one wheel is built per session and shared."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import PCAPS, REPO, require_tool
from tests.install.test_install import source_copy

ENGINE = REPO / "install" / "engine.py"
WARNING = "homeshore: warning:"
# One pcap (read in place by the compiled scan) and one pcapng (frame by frame), each with several RTP streams.
CAPTURES = [PCAPS / "shanewa_SIP_call_RTP_G711.pcap", PCAPS / "ndpi_stun_wa_call.pcapng"]


def compiled_modules() -> list[str]:
    """setup.py's COMPILED_MODULES, read without running setup()."""
    for node in ast.parse((REPO / "setup.py").read_text()).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "COMPILED_MODULES":
            return ast.literal_eval(node.value)
    raise AssertionError("setup.py has no COMPILED_MODULES")


def build_wheel(directory: Path, **env: str) -> tuple[Path, str]:
    """pip wheel of a copy of this tree (build isolation, as a user's install), verbose so that the build's own
    output shows; the wheel and that output."""
    source = source_copy(directory)
    dist = directory / "dist"
    environment = {k: v for k, v in os.environ.items() if k not in ("HOMESHORE_COMPILE", "CC")} | env
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", str(dist), str(source)],
                            capture_output=True, text=True, timeout=900, env=environment)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    [wheel] = dist.glob("homeshore-*.whl")
    return wheel, result.stdout + result.stderr


def extensions(wheel: Path) -> list[str]:
    return sorted(name for name in zipfile.ZipFile(wheel).namelist() if name.endswith((".so", ".pyd")))


def warnings(output: str) -> list[str]:
    return [line.strip() for line in output.splitlines() if WARNING in line]


@pytest.fixture(scope="session")
def compiled_wheel(tmp_path_factory) -> Path:
    require_tool("cc")
    wheel, output = build_wheel(tmp_path_factory.mktemp("compiled-wheel"))
    assert warnings(output) == []
    return wheel


def test_the_wheel_carries_every_compiled_module(compiled_wheel):
    assert not compiled_wheel.name.endswith("-none-any.whl"), compiled_wheel.name  # tagged for this platform
    built = extensions(compiled_wheel)
    for module in compiled_modules():
        assert any(name.startswith(f"homeshore/quality/{module}.") for name in built), (module, built)
    assert any("__mypyc" in name for name in built), built  # the group's shared runtime


def test_installed_wheel_runs_compiled_with_the_working_trees_results(compiled_wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    install = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(compiled_wheel)],
                             capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr
    # Both run outside the repository, whose homeshore/ would shadow an installed one.
    engine = subprocess.run([str(venv / "bin" / "python"), str(ENGINE)], capture_output=True, text=True,
                            timeout=60, cwd=tmp_path)
    assert engine.stdout.strip() == "homeshore: the capture analyser is compiled (mypyc)", engine.stderr
    # The suite's own interpreter: the editable install of the working tree, pure Python.
    pure_engine = subprocess.run([sys.executable, str(ENGINE)], capture_output=True, text=True, timeout=60)
    assert pure_engine.stdout == "" and len(warnings(pure_engine.stderr)) == 1, pure_engine.stderr

    arguments = ["analyze", "--json", *map(str, CAPTURES)]
    compiled = subprocess.run([str(venv / "bin" / "homeshore"), *arguments], capture_output=True, text=True,
                              timeout=300, cwd=tmp_path)
    pure = subprocess.run([sys.executable, "-m", "homeshore.cli.main", *arguments], capture_output=True, text=True,
                          timeout=300, cwd=REPO)
    assert compiled.returncode == 0 and pure.returncode == 0, compiled.stderr + pure.stderr
    compiled_result, pure_result = json.loads(compiled.stdout), json.loads(pure.stdout)
    assert [len(c["streams"]) for c in pure_result["captures"]] == [5, 5]  # something to compare
    assert compiled_result == pure_result


@pytest.mark.parametrize("env, reason", [({"CC": "/bin/false"}, "no working C compiler"),
                                         ({"HOMESHORE_COMPILE": "0"}, None)])
def test_without_a_compiler_or_when_told_pure_python(tmp_path, env, reason):
    wheel, output = build_wheel(tmp_path, **env)
    assert wheel.name.endswith("-py3-none-any.whl") and extensions(wheel) == []
    if reason:
        [line] = warnings(output)  # exactly one, however many modules there are
        assert reason in line and "pure Python" in line, line
    else:
        assert warnings(output) == []
