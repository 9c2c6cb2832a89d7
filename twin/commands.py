"""The twin's sub-commands of ``pue-agent`` (entry point ``pue_agent.commands``): ``demo`` and ``twin``."""

from __future__ import annotations

from typing import Any

from twin import cli, demo

__all__ = ["register"]


def register(sub: Any) -> None:
    demo.register(sub)
    cli.register(sub)
