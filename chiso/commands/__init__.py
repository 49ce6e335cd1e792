"""One module per `chiso` command; ``chiso/cli.py`` parses the command line and
calls the module's ``run(args)``."""

from __future__ import annotations

import sys

from chiso.errors import UserError
from chiso.runtime import connections_line, resolve
from chiso.settings import Settings

_sources: dict[str, str] = {}  # where CHISO_KAFKA / CHISO_REDIS came from, for `need`


def settings_for_command() -> Settings:
    """The settings, completed from the running `chiso up` of the state directory where unset."""
    settings, sources = resolve(Settings())
    _sources.clear()
    _sources.update(sources)
    return settings


def need(settings: Settings, *names: str, also: tuple[str, ...] = ()) -> None:
    """The command uses these ("kafka", "redis"): a UserError when one is unset, else
    one stderr line saying which it uses and where each came from (``also``: used,
    with its default when unset)."""
    missing = [n for n in names if not getattr(settings, n)]
    if missing:
        vars_ = ", ".join(f"CHISO_{n.upper()}" for n in missing)
        raise UserError(f"{vars_} not set and no running `chiso up` found (state directory {settings.state_dir})")
    print(f"chiso: {connections_line(settings, _sources, names + also)}", file=sys.stderr, flush=True)
