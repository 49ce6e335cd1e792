"""One `chiso up` per state directory, and its HTTP port checked before anything starts.

``hold_instance(state_dir)`` takes an exclusive ``fcntl.flock`` on
``<state_dir>/up.lock`` for the life of the process (the kernel releases it when
the process ends, however it ends: no stale lock after a SIGKILL). A second
`chiso up` with the same state directory is refused with one line naming the
first one's pid. ``running_instance(state_dir)`` tells the other commands whether
the runtime file they read belongs to a live `chiso up`.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
from pathlib import Path

from chiso.errors import UserError

LOCK_NAME = "up.lock"


def hold_instance(state_dir: Path) -> int:
    """The lock's file descriptor (keep it open); UserError if another `chiso up` holds it."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by children (O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno not in (errno.EWOULDBLOCK, errno.EACCES):
            raise
        pid = _pid_in(path)
        raise UserError(f"another `chiso up`{f' (pid {pid})' if pid else ''} is running with state directory "
                        f"{state_dir}; stop it, or give this one its own CHISO_STATE_DIR", 1) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def running_instance(state_dir: Path) -> int | None:
    """The pid of the `chiso up` holding ``state_dir``'s lock, or None when none runs."""
    path = state_dir / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return _pid_in(path) or -1  # held: a live instance
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _pid_in(path: Path) -> int | None:
    try:
        return int(path.read_text().strip() or 0) or None
    except (OSError, ValueError):
        return None


def check_port_free(host: str, port: int) -> None:
    """UserError when the HTTP port cannot be bound (taken, or not ours to take):
    said before anything starts, not after a banner for another process's server."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is no obstacle
        try:
            sock.bind((host, port))
        except OSError as exc:
            reason = "already in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
            raise UserError(f"cổng / port {port} on {host}: {reason}; is another server running? "
                            "Choose another with CHISO_HTTP_PORT", 1) from None
