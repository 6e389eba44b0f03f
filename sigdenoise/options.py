"""How each front end names an option, so an error message can say what to do where the user is.

Library code writes advice with placeholders such as ``{sample_rate}`` and raises the error; the
API shows ``sample_rate=``, the command line ``--sample-rate`` and the web UI "the Sample rate box".
Imports nothing from the package, so any module can use it.
"""
from __future__ import annotations

import string

FRONT_ENDS = ("api", "cli", "ui")

# option -> how the API, the CLI and the web UI spell it.
OPTION_NAMES: dict[str, dict[str, str]] = {
    "sample_rate": {"api": "sample_rate=", "cli": "--sample-rate", "ui": "the Sample rate (Hz) box"},
    "time_column": {"api": "time_column=", "cli": "--time-column", "ui": "a time column named time or timestamp"},
    "columns": {"api": "columns=", "cli": "--columns", "ui": "the Columns box"},
    "repair_nan": {"api": "repair_nan=True", "cli": "(gaps are repaired by default)",
                   "ui": "(gaps are repaired by default)"},
    "steps": {"api": "steps=", "cli": "--steps", "ui": "the Network calls slider"},
    "num_samples": {"api": "num_samples=", "cli": "--uncertainty", "ui": "the band's sample count"},
    "shifts": {"api": "shifts=", "cli": "--shifts", "ui": "shifts"},
    "resample": {"api": "resample_to=", "cli": "--resample", "ui": "the Resample box"},
    "layout": {"api": "a (channels, time) array", "cli": "a file with one column per channel",
               "ui": "a file with one column per channel"},
}


class _Names(dict):
    def __init__(self, front_end: str):
        super().__init__()
        self.front_end = front_end

    def __missing__(self, key: str) -> str:
        spelled = OPTION_NAMES.get(key)
        return spelled[self.front_end] if spelled else "{" + key + "}"


def render(template: str, front_end: str = "api") -> str:
    """Fill ``{option}`` placeholders with ``front_end``'s spelling; unknown ones are left as they are."""
    if front_end not in FRONT_ENDS:
        raise ValueError(f"front_end must be one of {FRONT_ENDS}, got {front_end!r}")
    try:
        return string.Formatter().vformat(template, (), _Names(front_end))
    except (ValueError, IndexError, KeyError, AttributeError):  # stray braces from a repr: show it as it is
        return template


class AdviceError(ValueError):
    """A user-facing error whose advice names options through ``{placeholders}``.

    ``str(error)`` reads as the Python API would say it; front ends call :meth:`for_front_end`.
    """

    def __init__(self, template: str):
        self.template = template
        super().__init__(render(template, "api"))

    def for_front_end(self, front_end: str) -> str:
        return render(self.template, front_end)


def message_for(exc: BaseException, front_end: str) -> str:
    """The text of ``exc`` as ``front_end`` should show it (any exception; only AdviceError is rewritten)."""
    if isinstance(exc, AdviceError):
        return exc.for_front_end(front_end)
    template = getattr(exc, "template", None)
    return render(template, front_end) if isinstance(template, str) else str(exc)
