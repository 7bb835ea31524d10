"""A Slack incoming-webhook stand-in: records every message and prints it as it arrives."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def shown(text: str) -> str:
    """Text as Slack shows it: the three entities Slack text is escaped with (`&amp;` `&lt;` `&gt;`) decoded."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def message_text(payload: dict[str, Any]) -> str:
    """The readable text of a webhook payload, as Slack shows it: `text`, or the text of its
    blocks/attachments."""
    parts: list[str] = []
    if payload.get("text"):
        parts.append(str(payload["text"]))
    for block in payload.get("blocks") or []:
        text = block.get("text")
        if isinstance(text, dict) and text.get("text"):
            parts.append(str(text["text"]))
        for field in block.get("fields") or []:
            if isinstance(field, dict) and field.get("text"):
                parts.append(str(field["text"]))
        for element in block.get("elements") or []:
            if isinstance(element, dict) and element.get("text"):
                t = element["text"]
                parts.append(str(t["text"] if isinstance(t, dict) else t))
    for attachment in payload.get("attachments") or []:
        for key in ("pretext", "title", "text"):
            if attachment.get(key):
                parts.append(str(attachment[key]))
        for field in attachment.get("fields") or []:
            parts.append(f"{field.get('title', '')}: {field.get('value', '')}")
    # dict.fromkeys: keep order, drop repeats (text is often duplicated into blocks)
    return shown("\n".join(dict.fromkeys(parts)))


class SlackStandIn:
    def __init__(self, on_message: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.messages: list[dict[str, Any]] = []
        self._on_message = on_message
        self._lock = threading.Lock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    payload = json.loads(body or b"{}")
                except ValueError:
                    payload = {"text": body.decode(errors="replace")}
                with standin._lock:
                    standin.messages.append(payload)
                if standin._on_message:
                    standin._on_message(payload)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:  # keep the demo output clean
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def texts(self) -> list[str]:
        with self._lock:
            return [message_text(m) for m in self.messages]

    def __enter__(self) -> SlackStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
