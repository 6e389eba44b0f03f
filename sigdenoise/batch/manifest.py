"""The batch's record of work: the append-only manifest, the output folder's lock, stale temp files."""
from __future__ import annotations

import contextlib
import errno
import json
import os
from pathlib import Path
from typing import Iterator, Sequence


MANIFEST_NAME = "manifest.jsonl"
CLAIMS_NAME = ".sigdenoise-claims"  # every output a run into this folder set out to write (relative paths, one a line)


def _manifest_records(path: str | Path) -> Iterator[dict]:
    """The manifest's records in order; lines cut short by a kill (or not objects) are skipped."""
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                yield record


def read_manifest(path: str | Path) -> dict[str, dict]:
    """The last record per input in a manifest; lines cut short by a kill are ignored."""
    records: dict[str, dict] = {}
    with contextlib.suppress(FileNotFoundError):
        for record in _manifest_records(path):
            if "input" in record:
                records[record["input"]] = record
    return records


class BatchDiskError(OSError):
    """The manifest could not be written (a full disk, most often); the run stops, the manifest stays whole."""


class _Manifest:
    """Appends records to ``manifest.jsonl``, each written whole and fsynced before the next file counts as done.

    Writes go straight to the file (no buffer), and a write that fails part-way (a full disk) is cut back
    to the last whole line, so the manifest never ends in half a record.
    """

    def __init__(self, path: Path):
        self.path = path
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | getattr(os, "O_BINARY", 0), 0o666)
        end = os.lseek(self.fd, 0, os.SEEK_END)
        if end:
            os.lseek(self.fd, end - 1, os.SEEK_SET)
            if os.read(self.fd, 1) != b"\n":  # a kill mid-line leaves no newline
                self._write(b"\n")

    def append(self, record: dict) -> None:
        self._write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))

    def write_lines(self, lines: Sequence[str]) -> None:
        self._write("".join(f"{line}\n" for line in lines).encode("utf-8"))

    def _write(self, data: bytes) -> None:
        end = os.lseek(self.fd, 0, os.SEEK_END)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self.fd, view):]
            os.fsync(self.fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, end)
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise BatchDiskError(exc.errno, f"disk full: cannot write the manifest {self.path}. Free some space "
                                                "and run the same command again: the manifest is whole, and the "
                                                "files it lists as done are skipped") from None
            raise BatchDiskError(exc.errno, f"cannot write the manifest {self.path} ({exc.strerror or exc}); "
                                            "the run stopped, and the manifest is whole") from None

    def close(self) -> None:
        os.close(self.fd)


def _real(path: Path) -> Path:
    """``path`` with its links resolved; a looping or broken link resolves as far as it can (never raises)."""
    return Path(os.path.realpath(path))


def _own_outputs(manifest: Path) -> set[Path]:
    """Real paths of every file a run into this manifest's folder wrote, or claimed before writing it."""
    own: set[Path] = set()
    with contextlib.suppress(OSError), open(manifest.with_name(CLAIMS_NAME), encoding="utf-8") as handle:
        own.update(_real(manifest.parent / line.rstrip("\n")) for line in handle if line.strip())
    with contextlib.suppress(OSError):
        for record in _manifest_records(manifest):
            for key in ("output", "std_output"):
                if isinstance(record.get(key), str):
                    own.add(_real(Path(record[key])))
    return own
