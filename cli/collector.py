"""`homeshore collector`: set up the InfluxDB a contact centre's agents write to."""

from __future__ import annotations

import click


@click.group()
def collector() -> None:
    """Provision and query the InfluxDB collector."""
