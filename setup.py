"""Optional compiled build of the capture analyser's hot modules with mypyc; everything else is in pyproject.toml.

`HOMESHORE_COMPILE=1 pip install .` (or `pip wheel .`) compiles the modules in COMPILED_MODULES from their
unchanged source, as black and charset-normalizer ship theirs; without the variable, and for editable installs
(whose compiled modules would shadow the source being edited), the install is pure Python. Either way the
results are the same: tests/quality/test_fastscan.py runs both paths, and `make test` runs the suite against a
compiled build too. A machine without a C compiler or mypy installs pure Python with a warning.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).resolve().parent
COMPILED_MODULES = [
    "pcapfile", "decode", "rtp", "sequence", "jitter", "jitterbuffer", "stream", "analyzer", "fastscan", "capture",
    "bursts", "emodel",
]
# The repository keeps quality/ at the top (DESIGN.md); mypyc names modules by their path, so it compiles a
# copy laid out as the installed package.
MIRROR = HERE / "build" / "mypyc-src"


def compiled_extensions() -> list:
    try:
        from mypyc.build import mypycify
    except ImportError:
        print("homeshore: mypy is not installed: installing pure Python", file=sys.stderr)
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
        extension.optional = True  # no compiler: a warning, and the pure modules stay in charge
        extension.sources = [str(MIRROR / source) if not os.path.isabs(source) else source
                             for source in extension.sources]
        extension.include_dirs = [str(MIRROR / d) if not os.path.isabs(d) else d for d in extension.include_dirs]
        # The same float results as the interpreter: no fused multiply-add where the CPU has one (aarch64).
        extension.extra_compile_args = [*extension.extra_compile_args, "-ffp-contract=off"]
    return extensions


setup(ext_modules=compiled_extensions() if os.environ.get("HOMESHORE_COMPILE") == "1" else [])
