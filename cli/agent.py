"""`homeshore agent`: the daemon (`agent run`) and its state (`agent status`)."""

from __future__ import annotations

import click


@click.group()
def agent() -> None:
    """The monitoring agent that runs on a homeworker's machine."""
