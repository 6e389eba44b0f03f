"""Run ``sigdenoise <argv>`` in this process and write its exit code, wall time and peak RSS as JSON.

    python -m benchmarks.batch.child STATUS.json denoise IN -o OUT ...

Peak RSS is this process's ``VmHWM`` (the batch process itself; with ``--workers 1`` that is
every byte the batch used, reading, denoising and writing included).
"""
from __future__ import annotations

import json
import sys
import time

from ..common import peak_rss_mib


def main() -> int:
    status_path, argv = sys.argv[1], sys.argv[2:]
    started = time.perf_counter()
    from sigdenoise.cli import main as cli_main

    code = cli_main(argv)
    with open(status_path, "w") as handle:
        json.dump({"exit_code": code, "seconds": time.perf_counter() - started, "peak_rss_mib": peak_rss_mib()}, handle)
    return code


if __name__ == "__main__":
    sys.exit(main())
