"""Web front end for sigdenoise: ``python app.py`` then open http://127.0.0.1:7860.

A thin launcher; the page lives in ``sigdenoise/webui/``. Needs the ``[app]`` extra.
"""
from __future__ import annotations

import argparse
import errno
import os
import signal
import socket
import sys

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported anywhere: nothing leaves this machine
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the sigdenoise web page (voice recordings and sensor logs).")
    parser.add_argument("--host", default=os.environ.get("SIGDENOISE_HOST", "127.0.0.1"),
                        help="address to bind (env SIGDENOISE_HOST; default 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("SIGDENOISE_PORT", "7860")),
                        help="port (env SIGDENOISE_PORT; default 7860)")
    parser.add_argument("--max-upload-mb", type=float, default=200.0, help="largest accepted upload (default 200 MB)")
    parser.add_argument("--max-minutes", type=float, default=20.0,
                        help="most work per request, in minutes of mono 16 kHz audio (default 20)")
    args = parser.parse_args(argv)
    busy = port_problem(args.host, args.port)
    if busy:
        parser.exit(2, f"sigdenoise: {busy}\n")

    from sigdenoise.webui import serve

    # SIGTERM (kill, systemd, docker stop) ends the server like Ctrl+C, so its uploads and results are removed.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    print(f"sigdenoise web UI on http://{args.host}:{args.port}  (Ctrl+C to stop)")
    try:
        serve(args.host, args.port, max_upload_mb=args.max_upload_mb, max_minutes=args.max_minutes)
    except OSError as exc:  # taken between the check and the start
        if "port" not in str(exc).lower():
            raise
        parser.exit(2, f"sigdenoise: port {args.port} on {args.host} is already in use; "
                       "start with --port N for another one\n")
    finally:
        signal.signal(signal.SIGTERM, previous)


def port_problem(host: str, port: int) -> str | None:
    """Why the server cannot listen on ``host:port`` (in the launcher's words), or None when it can."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        return f"cannot use --host {host} ({exc.strerror})"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        if sys.platform != "win32":  # as uvicorn does: a port in TIME_WAIT is free
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"port {port} on {host} is already in use; start with --port N for another one"
            if exc.errno == errno.EACCES:
                return f"no permission to listen on port {port}; use --port with a number above 1023"
            return f"cannot listen on {host}:{port} ({exc.strerror}); check --host and --port"
    return None


def _interrupt(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    main()
