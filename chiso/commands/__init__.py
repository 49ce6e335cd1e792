"""One module per `chiso` command; ``chiso/cli.py`` parses the command line and
calls the module's ``run(args)``."""

from __future__ import annotations

from chiso.errors import UserError
from chiso.runtime import with_runtime
from chiso.settings import Settings


def settings_for_command() -> Settings:
    """The settings, completed from a running `chiso up` where unset."""
    return with_runtime(Settings())


def need(settings: Settings, *names: str) -> None:
    missing = [n for n in names if not getattr(settings, n)]
    if missing:
        vars_ = ", ".join(f"CHISO_{n.upper()}" for n in missing)
        raise UserError(f"{vars_} not set and no running `chiso up` found (state directory {settings.state_dir})")
