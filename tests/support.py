"""Paths and loaders that tests of every tier share."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from leadflow.lead.ids import LeadIds

ROOT = Path(__file__).resolve().parents[1]
# The demo stack's lead id key in tests: the ids in events/ samples are derived with it.
SAMPLE_LEAD_ID_KEY = "sample-lead-id-key-for-tests-and-events-only"
SAMPLE_IDS = LeadIds("demo", SAMPLE_LEAD_ID_KEY.encode())
CLIENTS = ROOT / "clients"
EVENTS = ROOT / "events"


def coming_tuesday() -> date:
    """The next Tuesday after today (UTC), never today.

    Tests that capture a lead at the real now and then run a fixed clock (a sweep's tick, routing's
    hour) take their clock from this day, so that the clock always comes after the capture.
    """
    today = datetime.now(UTC).date()
    return today + timedelta(days=(1 - today.weekday()) % 7 or 7)


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


def sent_emails(moto_endpoint: str) -> list[Any]:
    """What SES (moto) was asked to send, as parsed MIME messages, oldest first."""
    from email import message_from_string, policy

    import requests

    state = requests.get(f"{moto_endpoint}/moto-api/data.json", timeout=30).json()
    raw = state.get("ses", {}).get("RawMessage", [])
    return [message_from_string(message["raw_data"], policy=policy.default) for message in raw]


# --- people who sign in: tokens of the stack's Cognito user pool, as moto issues them ---------------

COGNITO_REGION = "us-east-1"  # the region `leadflow local` and the integration stack create the pool in


def _cognito(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "cognito-idp",
        endpoint_url=endpoint,
        region_name=COGNITO_REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def _pool_ids(cognito: Any, pool_name: str) -> tuple[str, str]:
    """The pool's id and its (first) app client's id."""
    [pool_id] = [p["Id"] for p in cognito.list_user_pools(MaxResults=60)["UserPools"] if p["Name"] == pool_name]
    client_id = cognito.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"][0]["ClientId"]
    return pool_id, client_id


def _tokens(endpoint: str, pool_name: str, email: str, password: str) -> dict[str, Any]:
    cognito = _cognito(endpoint)
    _, client_id = _pool_ids(cognito, pool_name)
    answer = cognito.initiate_auth(
        ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": email, "PASSWORD": password}
    )
    return dict(answer["AuthenticationResult"])


def sign_in(endpoint: str, pool_name: str, email: str, password: str) -> str:
    """An ID token of the pool for the person, issued by moto (USER_PASSWORD_AUTH)."""
    return str(_tokens(endpoint, pool_name, email, password)["IdToken"])


def access_token(endpoint: str, pool_name: str, email: str, password: str) -> str:
    """An access token of the pool (valid, but not the ID token API Gateway's authorizer wants)."""
    return str(_tokens(endpoint, pool_name, email, password)["AccessToken"])


def moto_signing_key() -> Any:
    """The RSA key moto signs every pool's tokens with (it ships it: moto/cognitoidp/resources)."""
    import gzip
    from importlib.resources import files

    from joserfc.jwk import RSAKey

    packed = (files("moto.cognitoidp") / "resources" / "jwks-private.json.gz").read_bytes()
    return RSAKey.import_key(json.loads(gzip.decompress(packed)))


def _id_claims(endpoint: str, pool_name: str, email: str, issued_at: int, groups: list[str] | None = None) -> Any:
    """The claims moto puts in the person's ID token, issued at `issued_at`, valid for an hour."""
    import uuid

    cognito = _cognito(endpoint)
    pool_id, client_id = _pool_ids(cognito, pool_name)
    user = cognito.admin_get_user(UserPoolId=pool_id, Username=email)
    attributes = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    if groups is None:
        groups = [
            g["GroupName"] for g in cognito.admin_list_groups_for_user(UserPoolId=pool_id, Username=email)["Groups"]
        ]
    claims: dict[str, Any] = {
        "iss": f"https://cognito-idp.{COGNITO_REGION}.amazonaws.com/{pool_id}",
        "sub": attributes["sub"],
        "aud": client_id,
        "token_use": "id",
        "iat": issued_at,
        "auth_time": issued_at,
        "exp": issued_at + 3600,
        "jti": str(uuid.uuid4()),
        "cognito:username": user["Username"],
        "email": attributes.get("email", email),
        "email_verified": attributes.get("email_verified", "true"),
        "origin_jti": str(uuid.uuid4()),
    }
    if groups:
        claims["cognito:groups"] = groups
    return claims


def _pool_key_id(endpoint: str, pool_name: str) -> str:
    import requests

    pool_id, _ = _pool_ids(_cognito(endpoint), pool_name)
    return str(requests.get(f"{endpoint}/{pool_id}/.well-known/jwks.json", timeout=10).json()["keys"][0]["kid"])


def expired_id_token(endpoint: str, pool_name: str, email: str) -> str:
    """A real ID token of the pool for the person, signed with moto's own key, whose `exp` has passed."""
    import time

    from joserfc import jwt

    claims = _id_claims(endpoint, pool_name, email, issued_at=int(time.time()) - 7200)
    return jwt.encode({"kid": _pool_key_id(endpoint, pool_name), "alg": "RS256"}, claims, moto_signing_key())


def forged_id_token(endpoint: str, pool_name: str, email: str, groups: list[str]) -> str:
    """The person's ID token claims with the groups given, signed under the pool's `kid` by a key not the pool's."""
    import time

    from joserfc import jwt
    from joserfc.jwk import RSAKey

    claims = _id_claims(endpoint, pool_name, email, issued_at=int(time.time()), groups=groups)
    return jwt.encode(
        {"kid": _pool_key_id(endpoint, pool_name), "alg": "RS256"}, claims, RSAKey.generate_key(2048, private=True)
    )
