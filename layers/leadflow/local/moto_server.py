"""moto's server, keeping connections open between requests as AWS's endpoints do.

moto's `ThreadedMotoServer` serves through werkzeug's development server, which answers every
request with `Connection: close`: each boto3 request then opens a new TCP connection, and a
handler's processor time locally is half connecting (a bare SendEmail took about 1.3 ms of the
client's processor time that way, about 0.9 ms over a kept connection). AWS's endpoints keep
connections, and botocore pools them. `MotoServer` serves the same moto application (the same
backends, the same request handler and WSGI environ) and keeps each connection for the next
request:

- the request's body is read whole before moto sees it (by its Content-Length, or chunk by
  chunk), so the next request on the connection starts where this one ended (werkzeug instead
  drains whatever the socket holds after answering, which would eat that request);
- the answer is written with its Content-Length, headers and body in one flush, on a socket
  with Nagle's algorithm off, so a small answer never waits for the client's delayed ACK;
- a connection idle for IDLE_SECONDS is closed (boto3 opens another when it needs one).

Nothing changes what boto3 sends or receives.
"""

from __future__ import annotations

import io
import logging
import socket
import threading
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, DechunkedInput, make_server

IDLE_SECONDS = 120
NO_BODY_STATUSES = frozenset({204, 304})

logger = logging.getLogger(__name__)


class KeepAliveHandler(MotoRequestHandler):
    """moto's request handler, answering over HTTP/1.1 with the connection kept (see the module doc)."""

    protocol_version = "HTTP/1.1"
    wbufsize = -1  # buffered: an answer goes out in one flush
    timeout = IDLE_SECONDS

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_error(self, format: str, *args: Any) -> None:
        if format.startswith("Request timed out"):
            return  # a kept connection idle for IDLE_SECONDS, closed: nothing went wrong
        super().log_error(format, *args)

    def handle_expect_100(self) -> bool:
        """http.server's 100 Continue, sent at once: the buffered writer would hold it until the answer."""
        answered = super().handle_expect_100()
        self.wfile.flush()
        return answered

    def run_wsgi(self) -> None:
        answer: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answer["status"], answer["headers"] = status, headers
            return lambda data: answer.setdefault("written", []).append(data)

        try:
            environ = self.make_environ()
            body = _request_body(self.rfile, environ)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            environ.pop("wsgi.input_terminated", None)
            environ.pop("HTTP_TRANSFER_ENCODING", None)
            chunks = self.server.app(environ, start_response)
            try:
                returned = list(chunks)
            finally:
                if hasattr(chunks, "close"):
                    chunks.close()
            content = b"".join([*answer.get("written", []), *returned])
            if "status" not in answer:
                raise RuntimeError("the application answered without a status")
        except Exception:
            logger.exception("moto failed to answer %s %s", self.command, self.path)
            self.close_connection = True  # the request may not have been read to its end
            answer = {"status": "500 Internal Server Error", "headers": [("Content-Type", "text/plain")]}
            content = b"moto failed to answer this request: see the local stack's log"
        code_text, _, reason = answer["status"].partition(" ")
        code = int(code_text)
        self.send_response(code, reason)
        named = set()
        for name, value in answer["headers"]:
            if name.lower() in ("transfer-encoding", "connection"):
                continue  # this server says how the body ends and whether the connection stays
            named.add(name.lower())
            self.send_header(name, value)
        has_body = self.command != "HEAD" and code >= 200 and code not in NO_BODY_STATUSES
        if "content-length" not in named and has_body:
            self.send_header("Content-Length", str(len(content)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if has_body:
            self.wfile.write(content)
        self.wfile.flush()


def _request_body(stream: Any, environ: dict[str, Any]) -> bytes:
    """The whole body of the request being read: by its Content-Length, or its chunks."""
    if environ.get("wsgi.input_terminated"):  # Transfer-Encoding: chunked
        return DechunkedInput(stream).readall()
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return stream.read(length) if length > 0 else b""


class MotoServer:
    """moto's server on a thread of this process, keeping connections (see the module doc).

    Started, it also makes this process's moto what the local stack needs: DynamoDB that costs
    what a request touches (`moto_dynamodb`), SES v2's SendBulkEmail (`moto_sesv2`), no list of
    every instance moto ever made (`moto_models`), and werkzeug's one line per request silenced.
    """

    def __init__(self, ip_address: str = "127.0.0.1", port: int = 5000):
        self.ip_address, self.port = ip_address, port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        from leadflow.local import moto_dynamodb, moto_models, moto_sesv2

        moto_dynamodb.install()
        moto_sesv2.install()
        moto_models.stop_tracking_instances()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per AWS call drowns the useful output
        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(self.ip_address, self.port, app, threaded=True, request_handler=KeepAliveHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto-server", daemon=True)
        self._thread.start()

    def get_host_and_port(self) -> tuple[str, int]:
        assert self._server is not None, "start() the server first"
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()
