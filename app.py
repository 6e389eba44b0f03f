"""Web front end for sigdenoise: ``python app.py`` then open http://127.0.0.1:7860.

A thin launcher; the page lives in ``sigdenoise/webui.py``. Needs the ``[app]`` extra.
"""
from __future__ import annotations

import argparse
import os

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

    from sigdenoise.webui import serve

    print(f"sigdenoise web UI on http://{args.host}:{args.port}  (Ctrl+C to stop)")
    serve(args.host, args.port, max_upload_mb=args.max_upload_mb, max_minutes=args.max_minutes)


if __name__ == "__main__":
    main()
