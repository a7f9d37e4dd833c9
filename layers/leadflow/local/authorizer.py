"""API Gateway's Cognito user pools authorizer, for the local API.

On a route that names a user pool (RouteSpec.authorizer), API Gateway (a REST API, no OAuth
scopes) takes the `Authorization` header as the token, raw or after "Bearer ", and lets the
request through only when it is an ID token of that pool: an RS256 signature by one of the
pool's keys (its JWKS), the pool as issuer (`iss`), `token_use` "id", and `exp` not passed.
The function then finds the token's claims in `requestContext.authorizer.claims`, flattened
to strings as a REST API passes them (`rest_api_claims`). Any other request is answered
`401 {"message": "Unauthorized"}`, and the function is never called.

moto signs every pool's tokens with one key of its own and serves it as each pool's JWKS
(`<endpoint>/<pool id>/.well-known/jwks.json`); its tokens name the pool's AWS URL as their
issuer. So the issuer is what tells one local pool's tokens from another's, as in AWS.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

BEARER = "Bearer "
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DATE_CLAIMS = frozenset({"exp", "iat"})  # passed as dates; auth_time stays seconds (as AWS passes it)


def issuer(region: str, pool_id: str) -> str:
    """The `iss` of a pool's tokens: its AWS URL (moto names it too)."""
    return f"https://cognito-idp.{region}.amazonaws.com/{pool_id}"


def jwks_url(endpoint: str, pool_id: str) -> str:
    """Where moto's server serves a pool's signing keys."""
    return f"{endpoint.rstrip('/')}/{pool_id}/.well-known/jwks.json"


class CognitoAuthorizer:
    """Checks ID tokens of one user pool, as API Gateway's COGNITO_USER_POOLS authorizer does."""

    def __init__(
        self,
        pool_name: str,
        token_issuer: str,
        keys_url: str,
        now: Callable[[], float] = time.time,
    ):
        self.pool_name = pool_name
        self.issuer = token_issuer
        self.keys_url = keys_url
        self._now = now
        self._keys: Any = None  # the pool's JWKS as a joserfc KeySet, fetched once
        self._lock = threading.Lock()

    def claims(self, authorization: str | None) -> dict[str, str] | None:
        """The claims to pass on, as a REST API passes them; None: answer 401, call nothing."""
        from joserfc import jwt
        from joserfc.errors import JoseError

        token = _token(authorization)
        if token is None:
            return None
        try:
            decoded = jwt.decode(token, self._key_set(), algorithms=["RS256"])
        except (JoseError, ValueError, TypeError, KeyError):  # malformed, not signed by the pool, unknown key id
            return None
        claims = dict(decoded.claims)
        expires = claims.get("exp")
        if (
            claims.get("iss") != self.issuer
            or claims.get("token_use") != "id"
            or not isinstance(expires, int | float)
            or isinstance(expires, bool)
            or expires <= self._now()
        ):
            return None
        return rest_api_claims(claims)

    def _key_set(self) -> Any:
        """The pool's JWKS, fetched from moto on first use (moto's key never changes while it runs)."""
        with self._lock:
            if self._keys is None:
                from joserfc.jwk import KeySet

                # Our own moto server's URL (http://host:port/...), never one a request names.
                with urllib.request.urlopen(self.keys_url, timeout=10) as answer:  # noqa: S310
                    self._keys = KeySet.import_key_set(json.loads(answer.read()))
            return self._keys


def _token(authorization: str | None) -> str | None:
    """The token an `Authorization` header holds: the whole value, or what follows "Bearer "."""
    if not authorization:
        return None
    token = authorization[len(BEARER) :] if authorization.startswith(BEARER) else authorization
    return token or None


def rest_api_claims(claims: dict[str, Any]) -> dict[str, str]:
    """A token's claims as API Gateway's REST API passes them to a function: every value a string.

    A list is joined with commas (`cognito:groups`: "rep,manager"), a boolean is "true" or
    "false", `exp` and `iat` are dates ("Mon Nov 23 10:41:00 UTC 2026"), other numbers are
    their digits (`auth_time`: "1795430770").
    """
    flat: dict[str, str] = {}
    for name, value in claims.items():
        if name in _DATE_CLAIMS and isinstance(value, int | float) and not isinstance(value, bool):
            flat[name] = claim_date(value)
        elif isinstance(value, bool):
            flat[name] = "true" if value else "false"
        elif isinstance(value, list | tuple):
            flat[name] = ",".join(str(item) for item in value)
        elif isinstance(value, int):
            flat[name] = str(value)
        elif isinstance(value, str):
            flat[name] = value
        else:
            flat[name] = json.dumps(value, separators=(",", ":"))
    return flat


def claim_date(seconds: float) -> str:
    """A time as API Gateway writes `exp` and `iat`: "Mon Nov 23 10:41:00 UTC 2026" (never the locale's names)."""
    moment = datetime.fromtimestamp(seconds, UTC)
    return f"{_DAYS[moment.weekday()]} {_MONTHS[moment.month - 1]} {moment.day:02d} {moment:%H:%M:%S} UTC {moment.year}"
