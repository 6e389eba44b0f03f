"""Serve the page on loopback by default: uploaded files only, small JSON, a private temp folder."""
from __future__ import annotations

import json
import logging
import os
import re

import gradio as gr

from .files import _private_root, _start_sweeper, sweep_results, sweep_stale_roots
from .page import CSS, SAMPLES_DIR, THEME, build_app
from .voice import _not_audio_script

log = logging.getLogger(__name__)


_FOREIGN_PATH = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:|^[\\/]{2}")  # a URL (https:, data:, file:) or //host
MAX_JSON_BYTES = 4 << 20  # the page and gradio_client send small JSON; files come through /upload


def _foreign_file(value, allowed: tuple[str, ...]) -> str | None:
    """The first file path in a request body that did not come from an upload (or a bundled example)."""
    if isinstance(value, dict):
        path = value.get("path")
        if isinstance(path, str) and ("meta" in value or "orig_name" in value or "url" in value
                                      or len(value) == 1):
            if _FOREIGN_PATH.match(path):
                return path
            resolved = os.path.normpath(os.path.join(os.sep, path))  # text only: no lookup on the server's disk
            if resolved != path.rstrip(os.sep) or not any(resolved.startswith(root + os.sep) for root in allowed):
                return path
        values = value.values()
    elif isinstance(value, list):
        values = value
    else:
        return None
    for item in values:
        found = _foreign_file(item, allowed)
        if found is not None:
            return found
    return None


class OnlyUploadedFiles:
    """ASGI middleware: refuse a request whose JSON names a file that was not uploaded to this server.

    Gradio fetches a ``FileData`` whose path is a URL (resolving its host on the way) and reads a local
    path it is allowed to; a client must not make the server do either. Checked on the raw body, before
    gradio sees it, so nothing is looked up.
    """

    def __init__(self, app, allowed: tuple[str, ...] = ()):
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or not self._is_json(scope):
            return await self.app(scope, receive, send)
        messages, body, more = [], b"", True
        while more:
            message = await receive()
            messages.append(message)
            body += message.get("body", b"")
            more = message.get("more_body", False) and message["type"] == "http.request"
            if len(body) > MAX_JSON_BYTES:
                return await self._refuse(send, 413, "The request is too large; send files through the upload.")
        try:
            found = _foreign_file(json.loads(body or b"null"), self.allowed + (_private_root_str(),))
        except ValueError:
            found = None  # not JSON after all: gradio answers it
        if found is not None:
            log.warning("refused a request naming a file that was not uploaded: %.200s", found)
            return await self._refuse(send, 400, "Only files uploaded to this server can be denoised; upload the "
                                                 "file (gradio_client: handle_file) instead of sending a URL or path.")

        async def replay():
            return messages.pop(0) if messages else await receive()

        return await self.app(scope, replay, send)

    @staticmethod
    def _is_json(scope) -> bool:
        for key, value in scope.get("headers", ()):
            if key == b"content-type":
                return b"json" in value.lower()
        return False

    @staticmethod
    async def _refuse(send, status: int, message: str) -> None:
        body = json.dumps({"error": message, "detail": message}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def _private_root_str() -> str:
    return os.path.normpath(str(_private_root()))


_USER_TEMP_DIR = os.environ.get("GRADIO_TEMP_DIR")  # a folder the user chose for gradio is kept


def serve(host: str = "127.0.0.1", port: int = 7860, *, max_upload_mb: float = 200, max_minutes: float = 20.0,
          block: bool = True) -> gr.Blocks:
    """Build the page, queue requests (one model run at a time) and serve it; ``block=False`` returns at once.

    Uploads, Gradio's cache and results go to one private folder of this process (0700; results 0600),
    swept every :data:`SWEEP_EVERY_S` and removed when the process exits; folders that killed servers
    left behind are removed on start.
    """
    from starlette.middleware import Middleware

    sweep_stale_roots()
    root = _private_root()
    if not _USER_TEMP_DIR:
        os.environ["GRADIO_TEMP_DIR"] = str(root / "gradio")  # read when the page and the server are built
    sweep_results()
    _start_sweeper()
    demo = build_app(max_minutes=max_minutes)
    demo.queue(default_concurrency_limit=1)
    allowed = (os.path.normpath(str(SAMPLES_DIR)), os.path.normpath(os.environ.get("GRADIO_TEMP_DIR", str(root))))
    demo.launch(server_name=host, server_port=port, share=False, max_file_size=f"{max_upload_mb:g}mb",
                theme=THEME, css=CSS, show_error=True, ssr_mode=False, prevent_thread_lock=not block,
                allowed_paths=[str(SAMPLES_DIR)], footer_links=["api"], quiet=not block, js=_not_audio_script(),
                app_kwargs={"middleware": [Middleware(OnlyUploadedFiles, allowed=allowed)]})
    return demo
