"""Atomic writes: a temp file in the same folder, fsynced, then ``os.replace``; a failed write leaves nothing."""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Callable

from .common import PathLike, SignalFileError, _error


def _umask() -> int:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # no other portable way to read it
    os.umask(mask)
    return mask


def atomic_write(path: PathLike, write_fn: Callable[[Path], None]) -> None:
    """Write ``path`` atomically: ``write_fn(tmp_path)``, fsync, then ``os.replace`` onto ``path``.

    The temp file sits in the same folder (so the rename is atomic) and ends with the same
    extension (so libraries that pick the format from the name behave). Readers never see
    a half-written file; on any error the temp file is removed and an existing ``path`` is
    left exactly as it was. A replaced file keeps its permission bits.
    """
    path = Path(path)
    folder = path.parent
    if path.is_dir():
        raise _error(path, "is a folder, so a file cannot be written there", "give a file name inside it")
    if not folder.is_dir():
        raise _error(path, f"the output folder {folder} does not exist", "create it first (mkdir -p)")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=folder)
    except PermissionError:
        raise _error(path, f"permission denied: cannot create files in {folder}",
                     "choose an output folder you can write to") from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write_fn(tmp)
        mode = (os.stat(path).st_mode & 0o7777) if path.exists() else (0o666 & ~_umask())
        os.chmod(tmp, mode)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError) and not isinstance(exc, SignalFileError):
            raise _error(path, f"could not be written ({exc.strerror or exc})",
                         "check free disk space and write permission on the folder") from exc
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable; not possible everywhere
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
