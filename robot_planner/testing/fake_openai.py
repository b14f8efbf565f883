"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1 (tests, bench faults).

The real `openai` client talks to it over loopback; each test queues answers (status +
JSON body, or a hang longer than the client timeout) and inspects the requests.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HANG_S = 5.0  # how long a "hang" answer stalls at most (released at teardown)


class FakeOpenAIServer:
    """A scripted POST /v1/chat/completions endpoint on 127.0.0.1."""

    def __init__(self) -> None:
        self.script: deque[tuple[int, Any, dict[str, str]] | str] = deque()
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.release = threading.Event()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    # scripting

    def reply(self, content: str | None, prompt_tokens: int = 11, completion_tokens: int = 7):
        """A 200 chat completion whose message content is `content`."""
        body = {
            "id": f"chatcmpl-{len(self.script)}",
            "object": "chat.completion",
            "created": 0,
            "model": "fake-model",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
        self.script.append((200, body, {}))

    def plan(self, data: dict[str, Any], **usage: int) -> None:
        self.reply(json.dumps(data), **usage)

    def error(self, status: int, message: str = "error", headers: dict | None = None) -> None:
        body = {"error": {"message": message, "type": "fake", "code": None}}
        self.script.append((status, body, headers or {}))

    def hang(self) -> None:
        self.script.append("hang")

    # serving

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                with server.lock:
                    server.requests.append(
                        {
                            "path": self.path,
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "body": json.loads(raw or b"{}"),
                        }
                    )
                    step = server.script.popleft() if server.script else None
                if self.path != "/v1/chat/completions":
                    step = (404, {"error": {"message": f"no route {self.path}"}}, {})
                elif step is None:
                    step = (418, {"error": {"message": "fake server: script exhausted"}}, {})
                elif step == "hang":
                    server.release.wait(HANG_S)
                    step = (500, {"error": {"message": "too late"}}, {})
                status, body, headers = step
                if isinstance(body, dict) and body.get("echo_auth"):
                    body = {"error": {"message": f"bad key {self.headers.get('Authorization')}"}}
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

        return Handler

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    # inspection

    def sent_messages(self, index: int) -> list[dict[str, str]]:
        return self.requests[index]["body"]["messages"]
