"""Where the agent keeps things (its state directory, spool and id), resolved the same way for every command.

`homeshore agent run`, `agent status`, `check` and `map --from spool` all call `agent_place`, so a check's result
lands in the spool the agent sends, and the map reads that spool. The order (DESIGN.md `agent.state_dir`):
the configuration (the `--config` file, else the agent's default files, each overridden by
HOMESHORE_AGENT_STATE_DIR: probe/agent_config.py), then systemd's `$STATE_DIRECTORY`, then the platform's
per-user data directory (collector/state.py). The agent's id follows `agent.id`, else the id kept in the state
directory (collector/identity.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from homeshore.collector.identity import agent_id
from homeshore.collector.state import spool_path, state_directory
from homeshore.probe.agent_config import AgentConfig, load_config


@dataclass(frozen=True)
class AgentPlace:
    """One configuration's state directory and spool on this machine (neither created here)."""

    config: AgentConfig
    state_dir: Path
    spool_path: Path

    def agent_id(self) -> str:
        """The configured id, else the one kept in the state directory (created there on first use)."""
        return agent_id(self.state_dir, self.config.agent.id)


def place_of(config: AgentConfig, env: Mapping[str, str] = os.environ) -> AgentPlace:
    """Raises ValueError when nothing locates the state directory (no home directory in the environment)."""
    state_dir = Path(state_directory(env, configured=config.agent.state_dir))
    return AgentPlace(config, state_dir, Path(spool_path(state_dir)))


def agent_place(config_path: Path | None = None, env: Mapping[str, str] = os.environ) -> AgentPlace:
    """The configuration from `config_path` (else the agent's default files) and where it keeps things.

    Raises ConfigError (a ValueError) for a bad configuration, ValueError for an unlocatable directory."""
    return place_of(load_config(config_path, env), env)
