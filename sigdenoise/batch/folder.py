"""The output folder while a batch writes to it: one run at a time (a lock), no temp files left from a killed one."""
from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Iterable

from .plan import BatchUsageError

LOCK_NAME = ".sigdenoise-batch.lock"
_STALE_TEMP = re.compile(r"^\..+\.tmp\.[A-Za-z0-9]+$")  # io.atomic_write's and our scratch names


@contextlib.contextmanager
def _exclusive(out_dir: Path):
    """Hold a lock on the output folder so that two runs cannot write the same files; the lock file goes after."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks here; document "one run per folder"
        yield
        return
    lock = out_dir / LOCK_NAME
    while True:
        handle = open(lock, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise BatchUsageError(f"another 'sigdenoise denoise' is writing to {out_dir}; wait for it to "
                                  "finish") from None
        try:  # a run that finished meanwhile removed the file we locked: lock the one at the path now
            if os.stat(lock).st_ino == os.fstat(handle.fileno()).st_ino:
                break
        except FileNotFoundError:
            pass
        handle.close()
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            lock.unlink()  # while still held, so no other run can hold this file meanwhile
        handle.close()


def _remove_stale_temps(folders: Iterable[Path]) -> int:
    """Delete the temp files a killed run left behind (hidden ``.*.tmp.<ext>`` names)."""
    removed = 0
    for folder in folders:
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            if _STALE_TEMP.match(entry.name) and entry.is_file():
                with contextlib.suppress(OSError):
                    entry.unlink()
                    removed += 1
    return removed
