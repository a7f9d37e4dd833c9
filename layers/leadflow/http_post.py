"""The one place leadflow makes an HTTP request of its own: a webhook's POST to a client's system.

The standard library's urllib, with a short timeout and no redirect followed (a webhook
points at its final URL; following one would send the signed event wherever a receiver's
server says). The answer says whether the request was delivered (a 2xx) and, if not, why, in
words fit for a log line: the body a receiver answers with is never read.
"""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

TIMEOUT_S = 5.0


@dataclass(frozen=True)
class PostAnswer:
    delivered: bool
    status: int | None  # the HTTP status, None when no answer came
    problem: str = ""  # why it was not delivered: "HTTP 500", "timed out", "connection refused", ...


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A 3xx is an answer like any other that is not a 2xx: it fails the delivery."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def post_json(url: str, body: bytes, headers: dict[str, str], timeout_s: float | None = None) -> PostAnswer:
    """POST body to url with headers, waiting at most timeout_s (TIMEOUT_S) for each step of the exchange
    (connecting, each read); never raises for what the receiver, or the network, does."""
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"a webhook URL is http(s), not {url.split(':', 1)[0]!r}")
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - http(s) only
    try:
        with _OPENER.open(request, timeout=TIMEOUT_S if timeout_s is None else timeout_s) as response:
            status = int(response.status)
    except urllib.error.HTTPError as answer:  # any status urllib does not take for success, redirects included
        answer.close()
        status = int(answer.code)
        if 300 <= status < 400:
            return PostAnswer(False, status, f"HTTP {status}: a redirect, not followed (use the target URL)")
    except urllib.error.URLError as exc:
        return PostAnswer(False, None, _reason(exc.reason))
    except (TimeoutError, OSError, http.client.HTTPException) as exc:
        return PostAnswer(False, None, _reason(exc))
    if 200 <= status < 300:
        return PostAnswer(True, status)
    return PostAnswer(False, status, f"HTTP {status}")


def _reason(reason: object) -> str:
    if isinstance(reason, TimeoutError):
        return "timed out"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, OSError) and reason.strerror:
        return f"{type(reason).__name__}: {reason.strerror}"
    return f"{type(reason).__name__}: {reason}" if isinstance(reason, BaseException) else str(reason)
