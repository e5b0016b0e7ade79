"""Exit codes of every homeshore command, in one place (as httpie's `status.py`)."""

from enum import IntEnum


class ExitStatus(IntEnum):
    OK = 0
    FAILED = 1  # the measurement ran and the home or call did not pass
    CANNOT_MEASURE = 2  # bad input, missing file, no permission, nothing reachable
    INTERRUPTED = 130  # Ctrl-C
