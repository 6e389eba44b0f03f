"""Helpers shared by the benchmarks: SI-SDR, summary statistics, machine description, Markdown."""

from __future__ import annotations

import datetime as _dt
import math
import os
import platform
import resource
import sys

import numpy as np


def si_sdr(reference: np.ndarray, estimate: np.ndarray, eps: float = 1e-10) -> float:
    """Scale-invariant SDR in dB (Le Roux et al., 2019), both signals made zero-mean first."""
    ref = np.asarray(reference, dtype=np.float64).reshape(-1)
    est = np.asarray(estimate, dtype=np.float64).reshape(-1)
    n = min(ref.size, est.size)
    ref, est = ref[:n] - ref[:n].mean(), est[:n] - est[:n].mean()
    alpha = np.dot(est, ref) / (np.dot(ref, ref) + eps)
    target = alpha * ref
    noise = est - target
    return float(10 * np.log10((np.dot(target, target) + eps) / (np.dot(noise, noise) + eps)))


def mean_ci(values) -> tuple[float, float, int]:
    """Mean, half-width of a normal-approximation 95 % interval, and count, ignoring NaNs."""
    v = np.asarray([x for x in values if x is not None and not math.isnan(x)], dtype=np.float64)
    if v.size == 0:
        return math.nan, math.nan, 0
    half = 1.96 * v.std(ddof=1) / math.sqrt(v.size) if v.size > 1 else math.nan
    return float(v.mean()), float(half), int(v.size)


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB.

    On Linux this is ``VmHWM`` from ``/proc/self/status``: the high-water mark of
    this program's own address space. ``getrusage(RUSAGE_SELF).ru_maxrss`` is
    not used there because Linux carries it over ``fork`` + ``exec``: a worker
    started by a parent that had grown to 500 MB reports at least 500 MB.
    Elsewhere ``ru_maxrss`` is the fallback (KiB on Linux, bytes on macOS).
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_description() -> dict:
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count()
    try:
        mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        mem_gib = math.nan
    try:
        load = os.getloadavg()
    except OSError:
        load = (math.nan,) * 3
    return {
        "cpu": cpu_model(),
        "cores": affinity,
        "memory_gib": round(mem_gib, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in load],
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    }


def machine_line(machine: dict) -> str:
    """One line for a result file's header: what ran it, and how busy the machine was."""
    return (f"{machine['cpu']}, {machine['cores']} cores available, {machine['memory_gib']} GiB RAM, "
            f"{machine['platform']}, Python {machine['python']}; load average at start "
            f"{', '.join(str(x) for x in machine['load_average_at_start'])}")


def fmt(value: float, digits: int = 2, half: float | None = None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    text = f"{value:.{digits}f}"
    if half is not None and not math.isnan(half):
        text += f" ± {half:.{digits}f}"
    return text


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def display_path(path: str) -> str:
    """A model path as a reader of a committed table can use it: relative to the repository when inside it."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    absolute = os.path.abspath(path)
    return os.path.relpath(absolute, root) if absolute.startswith(root + os.sep) else path
