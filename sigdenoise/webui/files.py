"""The page's errors in its users' words, its private folder of uploads and results (swept), and work limits."""
from __future__ import annotations

import atexit
import functools
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

import gradio as gr

from sigdenoise.io import SignalFileError
from sigdenoise.options import message_for

log = logging.getLogger(__name__)


REFERENCE_RATE = 16000  # the work limit is counted in seconds of mono audio at this rate
MAX_AGE_S = 3600.0  # uploads and results are deleted after an hour
SWEEP_EVERY_S = 600.0  # ... checked this often, and when the server starts


# Messages not yet written with sigdenoise.options placeholders still speak Python; say the page's words.
_API_WORDS = [
    (re.compile(r",? or (?:pass )?time_column= naming the column that holds the time"), ""),
    (re.compile(r"\s*\(or pass time_column= if [^)]*\)"), ""),
    (re.compile(r"pass (?:the )?sample_rate= \(Hz\)|pass sample_rate="), "type the rate in the Sample rate (Hz) box"),
    (re.compile(r"sample_rate="), "Sample rate (Hz) = "),
    (re.compile(r"pass time_column=|time_column="), "the time column "),
]


def _readable(exc: BaseException | str, upload: str | None) -> str:
    """The message as the page should show it: the user's file name, not the server's temp path, and the
    page's controls, not Python arguments (``sigdenoise.options``)."""
    message = exc if isinstance(exc, str) else message_for(exc, "ui")
    if upload:
        message = message.replace(str(upload), Path(upload).name)
    for pattern, words in _API_WORDS:
        message = pattern.sub(words, message)
    return message


def _user_errors(fn: Callable) -> Callable:
    """Show exceptions as a readable message in the page (a ``gr.Error``); the server keeps serving.

    The wrapped function's first argument is the uploaded file's path.
    """

    @functools.wraps(fn)  # keeps the signature: gradio finds the ``progress`` parameter through it
    def wrapper(upload, *args, **kwargs):
        try:
            return fn(upload, *args, **kwargs)
        except gr.Error:
            raise
        except (SignalFileError, ValueError, TypeError, ImportError) as exc:  # CheckpointError is a ValueError
            raise gr.Error(_readable(exc, upload), title="Could not denoise this file",
                           duration=None, print_exception=False) from None
        except MemoryError:
            raise gr.Error("Out of memory: the file is too large for this machine. Cut it into shorter pieces.",
                           duration=None) from None
        except Exception as exc:
            log.exception("unexpected error in %s", fn.__name__)
            raise gr.Error(f"Unexpected error ({type(exc).__name__}: {_readable(str(exc), upload)}). "
                           "The server is still running; the details are in its log.", duration=None) from None
    return wrapper


# ---- where files live: one private folder per server process (0700), swept on start and on a timer
_ROOT_PREFIX = "sigdenoise-webui-"
_root_lock = threading.Lock()
_root: Path | None = None


def _private_root() -> Path:
    """This process's folder for uploads, Gradio's cache and results: 0700, named with the owner's pid.

    Removed when the process exits (``atexit``; ``app.py`` turns SIGTERM into a normal exit); a folder
    left by a killed server is removed by the next server's :func:`sweep_stale_roots`.
    """
    global _root
    with _root_lock:
        if _root is None or not _root.is_dir():
            _root = Path(tempfile.mkdtemp(prefix=_ROOT_PREFIX))  # mkdtemp: mode 0700
            (_root / "owner.pid").write_text(str(os.getpid()))
            (_root / "results").mkdir(mode=0o700)
            atexit.register(shutil.rmtree, _root, True)
        return _root


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def sweep_stale_roots(parent: Path | None = None) -> list[Path]:
    """Remove folders of earlier servers of this user whose process is gone; returns what was removed."""
    parent = Path(tempfile.gettempdir()) if parent is None else parent
    removed = []
    for folder in parent.glob(_ROOT_PREFIX + "*"):
        try:
            if folder == _root or folder.stat().st_uid != os.getuid():
                continue
            pid = int((folder / "owner.pid").read_text())
        except (OSError, ValueError):  # no pid file: an older server's layout; go by age
            try:
                stale = time.time() - folder.stat().st_mtime > MAX_AGE_S
            except OSError:
                continue
        else:
            stale = not _pid_alive(pid)
        if stale and folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def sweep_results(max_age_s: float = MAX_AGE_S) -> None:
    """Remove this server's result folders older than ``max_age_s``."""
    now = time.time()
    for old in (_private_root() / "results").iterdir():
        try:
            if now - old.stat().st_mtime > max_age_s:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            continue


_sweeper: threading.Thread | None = None


def _start_sweeper(every_s: float = SWEEP_EVERY_S) -> threading.Thread:
    """One daemon thread per process (however many servers it starts) that runs :func:`sweep_results`."""
    global _sweeper
    if _sweeper is not None and _sweeper.is_alive():
        return _sweeper

    def loop():
        while _sweeper is threading.current_thread():  # a replaced sweeper ends
            time.sleep(every_s)
            try:
                sweep_results()
            except Exception:  # noqa: BLE001 - the sweeper must outlive a vanished folder
                log.exception("sweeping old results failed")

    _sweeper = threading.Thread(target=loop, name="sigdenoise-sweeper", daemon=True)
    _sweeper.start()
    return _sweeper


def _output_dir() -> Path:
    """A fresh private folder (0700) for one request's output files."""
    return Path(tempfile.mkdtemp(dir=_private_root() / "results"))


def _private(path: Path) -> str:
    """Make a result file readable by the server's user only (0600); returns it as a string for gradio."""
    os.chmod(path, 0o600)
    return str(path)


def work_seconds(samples: int, channels: int, sample_rate: float, model_rate: float, passes: int) -> float:
    """The cost of a request in seconds of mono audio at :data:`REFERENCE_RATE` (one network pass).

    The network sees ``samples`` resampled to ``model_rate``; a rate-agnostic model (rate 0, the
    sensor model) sees the samples as they are, so its cost is samples x channels, not 0.
    """
    at_model = samples * model_rate / sample_rate if model_rate else samples
    return at_model * channels * passes / REFERENCE_RATE


def _check_work(work_s: float, max_minutes: float, what: str, advice: str) -> None:
    """Refuse a request that costs more than ``max_minutes`` (see :func:`work_seconds`)."""
    if work_s > max_minutes * 60:
        raise gr.Error(f"{what} is too long for this server: it is {work_s / 60 / max_minutes:.1f}× the limit "
                       f"(--max-minutes {max_minutes:g}). {advice}", title="File too long", duration=None)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _progress_callback(progress: gr.Progress, start: float, end: float, desc: str) -> Callable[[float], None]:
    return lambda fraction: progress(start + (end - start) * fraction, desc=desc)
