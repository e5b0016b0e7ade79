"""The compiled build of the capture analyser's hot modules with mypyc; everything else is in pyproject.toml.

Every regular build (`pip install .`, `pip wheel .`, install/install.sh, `make check`) compiles the modules in
COMPILED_MODULES from their unchanged source, as black and charset-normalizer ship theirs: mypy is a build
requirement (pyproject.toml), so only a C compiler is needed. Without a working one the build installs pure
Python and says so in one warning. Editable installs stay pure (compiled modules would shadow the source being
edited), and HOMESHORE_COMPILE=0 forces pure Python. Either way the results are the same:
tests/quality/test_fastscan.py runs both paths, `make test` runs the suite against a compiled build too, and
tests/install/test_wheel.py compares an installed wheel with the working tree.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).resolve().parent
COMPILED_MODULES = [
    "pcapfile", "decode", "rtp", "sequence", "jitter", "jitterbuffer", "stream", "analyzer", "fastscan", "capture",
    "bursts", "emodel", "emodel_wb", "scoring",
]
# The repository keeps quality/ at the top (DESIGN.md); mypyc names modules by their path, so it compiles a
# copy laid out as the installed package.
MIRROR = HERE / "build" / "mypyc-src"
# setup.py also runs for metadata (egg_info, dist_info) and sdists: mypyc's type check and C generation only for
# the commands that build extensions. Editable builds (PEP 660's editable_wheel, the legacy develop) stay pure.
BUILD_COMMANDS = {"build", "build_ext", "bdist_wheel", "install"}
EDITABLE_COMMANDS = {"editable_wheel", "develop"}
WARNING = "homeshore: warning: {reason}: the capture analyser is installed as pure Python, several times slower"


def compiling() -> bool:
    commands = set(sys.argv[1:])
    return (os.environ.get("HOMESHORE_COMPILE") != "0" and bool(BUILD_COMMANDS & commands)
            and not EDITABLE_COMMANDS & commands)


def c_compiler_problem() -> str | None:
    """Why the configured C compiler (CC, as setuptools uses it) cannot build a Python extension, or None.

    Checked once up front: mypyc's extensions are optional, but a failing compiler would warn once per module."""
    from setuptools._distutils.ccompiler import new_compiler
    from setuptools._distutils.sysconfig import customize_compiler

    compiler = new_compiler()
    customize_compiler(compiler)
    with tempfile.TemporaryDirectory() as directory:
        source = Path(directory) / "probe.c"
        source.write_text("#include <Python.h>\nint probe(void) { return Py_IsNone(Py_None); }\n")
        try:
            compiler.compile([str(source)], output_dir=directory, include_dirs=[sysconfig.get_paths()["include"]])
        except Exception:  # CompileError, whose module moved between setuptools versions, or OSError
            return f"no working C compiler with Python's headers ({' '.join(compiler.compiler_so[:1])})"
    return None


def compiled_extensions() -> list:
    try:
        from mypyc.build import mypycify
    except ImportError:
        print(WARNING.format(reason="mypy is not installed"), file=sys.stderr)
        return []
    problem = c_compiler_problem()
    if problem:
        print(WARNING.format(reason=problem), file=sys.stderr)
        return []
    shutil.rmtree(MIRROR, ignore_errors=True)
    package = MIRROR / "homeshore"
    shutil.copytree(HERE / "quality", package / "quality", ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    shutil.copy(HERE / "homeshore" / "__init__.py", package / "__init__.py")
    cwd = os.getcwd()
    os.chdir(MIRROR)  # module names come from the paths given
    try:
        extensions = mypycify([f"homeshore/quality/{name}.py" for name in COMPILED_MODULES],
                              group_name="homeshore_quality", target_dir=str(MIRROR / "c"))
    finally:
        os.chdir(cwd)
    for extension in extensions:
        extension.optional = True  # a failed compile: setuptools warns, and the pure modules stay in charge
        extension.sources = [str(MIRROR / source) if not os.path.isabs(source) else source
                             for source in extension.sources]
        extension.include_dirs = [str(MIRROR / d) if not os.path.isabs(d) else d for d in extension.include_dirs]
        # The same float results as the interpreter: no fused multiply-add where the CPU has one (aarch64).
        extension.extra_compile_args = [*extension.extra_compile_args, "-ffp-contract=off"]
    return extensions


setup(ext_modules=compiled_extensions() if compiling() else [])
