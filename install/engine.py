"""Says in one line which capture analyser the homeshore this interpreter imports runs (after an install).

A regular build compiles it with mypyc (setup.py); without a C compiler it installs pure Python, and pip shows
build output only with -v, so install.sh and the Makefile print this line to make that visible.
"""

from __future__ import annotations

import sys

from homeshore.quality import fastscan

if fastscan.COMPILED:
    print("homeshore: the capture analyser is compiled (mypyc)")
else:
    print("homeshore: warning: the capture analyser is pure Python, several times slower (built without a working"
          " C compiler, or with HOMESHORE_COMPILE=0): install gcc and python3-dev, then install again",
          file=sys.stderr)
