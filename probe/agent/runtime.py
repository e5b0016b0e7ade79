"""What one configuration resolves to on this machine: the state directory, the agent's id, the collector's
secrets and the tags every sample carries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from homeshore.probe.agent_config import AgentConfig, Credentials, collector_credentials
from homeshore.probe.agent_samples import common_tags


class AgentError(Exception):
    """The agent cannot start (state directory unusable); one line."""


@dataclass(frozen=True)
class Runtime:
    """What one configuration resolves to on this machine."""

    config: AgentConfig
    state_dir: Path
    spool_path: Path
    spool_max_bytes: int
    tags: Mapping[str, str]
    credentials: Credentials = field(repr=False)


def resolve(config: AgentConfig, env: Mapping[str, str]) -> Runtime:
    """The state directory (created 0700), the agent's id and the collector's secrets. Raises ConfigError for
    a secret that cannot be read, AgentError for a state directory that cannot be used."""
    from homeshore.probe.agent_state import place_of

    credentials = collector_credentials(config.collector, env) if config.collector.url else Credentials()
    try:
        place = place_of(config, env)
        if not place.state_dir.exists():
            place.state_dir.mkdir(mode=0o700, parents=True)
        name = place.agent_id()
    except (ValueError, OSError) as error:
        raise AgentError(f"state directory: {error}") from None
    return Runtime(config, place.state_dir, place.spool_path, max(1, int(config.agent.spool_max_mb * 2**20)),
                   common_tags(name, config.agent.area, config.agent.site), credentials)
