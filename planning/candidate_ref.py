"""A candidate's reference: how a recruiter names a candidate in homeshore, never by name or phone number.

One pattern for `homeshore check --candidate` and `homeshore invite REF`, so a reference that one accepts the
other accepts too: what recruiters already write in their records (e.g. `R-2026/0042`), at most 64
characters, with no `@` or `+`, so an e-mail address or a +44 number is refused. Pure.
"""

from __future__ import annotations

import re

CANDIDATE_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._/#:-]{0,63}$")
CANDIDATE_REF_RULE = ("a candidate reference is 1-64 letters, digits, spaces and ._/#:- "
                      "(a reference from your records, never a name or phone number)")
