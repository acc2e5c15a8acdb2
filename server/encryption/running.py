"""A lock file that keeps key rotation and running servers on one data folder apart.

Servers hold a shared lock on ``data_dir/running.lock`` while they run; a rotation takes
it exclusively. A server started on another host (PostgreSQL, shared storage) is not seen:
stop every server before rotating.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from server.keys import KeyFileError

LOCK_NAME = "running.lock"


class RunningLock:
    """One hold of the data folder's lock file; ``release()`` lets it go."""

    def __init__(self, data_dir: Path, *, exclusive: bool) -> None:
        self._fd = os.open(data_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(self._fd)
            if exclusive:
                raise KeyFileError(
                    "a Candor server is running on this data folder; stop it before rotating "
                    "the master key"
                ) from exc
            raise KeyFileError(
                "the master key is being rotated; start the server when the rotation is done"
            ) from exc

    def release(self) -> None:
        """Unlock and close the lock file."""
        if self._fd >= 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = -1
