"""The local API checks ID tokens of the stack's user pool as API Gateway's Cognito authorizer does.

A request it refuses gets API Gateway's 401 and never reaches the function; one it lets
through reaches the function with the token's claims where a REST API puts them.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from leadflow.aws.users import UserPool
from leadflow.local import authorizer as authorizer_module
from leadflow.local.api import LocalApi
from leadflow.local.authorizer import CognitoAuthorizer, issuer, jwks_url, rest_api_claims
from tests.integration.conftest import Stack
from tests.support import access_token, expired_id_token, forged_id_token, sign_in

PASSWORD = "Correct-horse-1"
EMAIL = "ada@example.com"
UNAUTHORIZED = {"message": "Unauthorized"}
JAVA_DATE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} \d{2} \d{2}:\d{2}:\d{2} UTC \d{4}$")


class Recorded:
    """The function behind the routes: what it was invoked with."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        self.events.append(event)
        return {"statusCode": 200, "body": "{}"}


class SignedInApi:
    def __init__(self, stack: Stack, moto_endpoint: str, api: LocalApi, function: Recorded) -> None:
        self.stack = stack
        self.moto_endpoint = moto_endpoint
        self.api = api
        self.function = function
        self.pool_name = stack.definition.user_pool("users").name

    def get(self, path: str, authorization: str | None = None) -> requests.Response:
        headers = {"Authorization": authorization} if authorization is not None else {}
        return requests.get(f"{self.api.url}{path}", headers=headers, timeout=10)

    def token(self) -> str:
        return sign_in(self.moto_endpoint, self.pool_name, EMAIL, PASSWORD)


@pytest.fixture
def signed_in_api(stack: Stack, moto_endpoint: str) -> Iterator[SignedInApi]:
    """GET /me behind the demo pool's authorizer, GET /openapi.json public; Ada in groups rep and manager."""
    spec = stack.definition.user_pool("users")
    people = UserPool(spec.name, spec.client_name, client=stack.session.client("cognito-idp"))
    people.add_person(EMAIL, ("rep", "manager"), invite=False)
    people.set_password(EMAIL, PASSWORD)
    pool_id = stack.resources.user_pool_ids["users"]
    function = Recorded()
    checks = CognitoAuthorizer(spec.name, issuer("us-east-1", pool_id), jwks_url(moto_endpoint, pool_id))
    api = LocalApi(
        "127.0.0.1",
        0,
        {("GET", "/me"): function, ("GET", "/openapi.json"): function},
        {},
        authorizers={("GET", "/me"): checks},
    )
    threading.Thread(target=api.serve_forever, daemon=True).start()
    yield SignedInApi(stack, moto_endpoint, api, function)
    api.shutdown()


def refused(answer: requests.Response) -> bool:
    return answer.status_code == 401 and answer.json() == UNAUTHORIZED


def test_a_request_without_an_authorization_header_is_401_and_the_function_is_not_called(
    signed_in_api: SignedInApi,
) -> None:
    answer = signed_in_api.get("/me")

    assert refused(answer)
    assert answer.headers["x-amzn-ErrorType"] == "UnauthorizedException"
    assert signed_in_api.function.events == []


@pytest.mark.parametrize("authorization", ["", "not-a-token", "a.b.c", "Bearer ", "Basic YWRhOnNlY3JldA=="])
def test_a_malformed_token_is_401_and_the_function_is_not_called(
    signed_in_api: SignedInApi, authorization: str
) -> None:
    assert refused(signed_in_api.get("/me", authorization))
    assert signed_in_api.function.events == []


def test_a_token_signed_by_another_key_under_the_pools_key_id_is_401(signed_in_api: SignedInApi) -> None:
    forged = forged_id_token(signed_in_api.moto_endpoint, signed_in_api.pool_name, EMAIL, ["ops", "manager"])

    assert refused(signed_in_api.get("/me", forged))
    assert signed_in_api.function.events == []


def test_an_expired_id_token_of_the_pool_is_401(signed_in_api: SignedInApi) -> None:
    expired = expired_id_token(signed_in_api.moto_endpoint, signed_in_api.pool_name, EMAIL)

    assert refused(signed_in_api.get("/me", expired))
    assert signed_in_api.function.events == []


def test_an_access_token_of_the_pool_is_401_it_takes_an_id_token(signed_in_api: SignedInApi) -> None:
    token = access_token(signed_in_api.moto_endpoint, signed_in_api.pool_name, EMAIL, PASSWORD)

    assert refused(signed_in_api.get("/me", token))
    assert signed_in_api.function.events == []


def test_an_id_token_of_another_pool_is_401(signed_in_api: SignedInApi) -> None:
    cognito = signed_in_api.stack.session.client("cognito-idp")
    other = cognito.create_user_pool(PoolName="another-stack-users")["UserPool"]["Id"]
    cognito.create_user_pool_client(
        UserPoolId=other, ClientName="another-stack-api", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )
    people = UserPool("another-stack-users", "another-stack-api", client=cognito)
    people.add_person(EMAIL, (), invite=False)
    people.set_password(EMAIL, PASSWORD)
    token = sign_in(signed_in_api.moto_endpoint, "another-stack-users", EMAIL, PASSWORD)  # signed by moto's one key

    assert refused(signed_in_api.get("/me", token))
    assert signed_in_api.function.events == []


def test_a_valid_id_token_reaches_the_function_with_its_claims_in_the_rest_apis_shape(
    signed_in_api: SignedInApi,
) -> None:
    answer = signed_in_api.get("/me", signed_in_api.token())

    assert answer.status_code == 200
    [event] = signed_in_api.function.events
    claims = event["requestContext"]["authorizer"]["claims"]
    assert all(isinstance(value, str) for value in claims.values())
    assert sorted(claims["cognito:groups"].split(",")) == ["manager", "rep"]
    assert (claims["email"], claims["email_verified"], claims["token_use"]) == (EMAIL, "true", "id")
    assert claims["cognito:username"] == EMAIL
    assert claims["iss"] == issuer("us-east-1", signed_in_api.stack.resources.user_pool_ids["users"])
    assert claims["aud"] == signed_in_api.stack.resources.user_pool_client_ids["users"]
    assert JAVA_DATE.match(claims["exp"])
    assert JAVA_DATE.match(claims["iat"])
    assert claims["auth_time"].isdigit()


def test_a_token_after_bearer_is_taken_too(signed_in_api: SignedInApi) -> None:
    assert signed_in_api.get("/me", f"Bearer {signed_in_api.token()}").status_code == 200


def test_a_public_route_needs_no_token_and_its_event_has_no_authorizer(signed_in_api: SignedInApi) -> None:
    answer = signed_in_api.get("/openapi.json")

    assert answer.status_code == 200
    [event] = signed_in_api.function.events
    assert "authorizer" not in event["requestContext"]


def test_the_pools_keys_are_fetched_once_for_many_requests(
    signed_in_api: SignedInApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    fetched: list[str] = []
    real_urlopen = authorizer_module.urllib.request.urlopen

    def counting(url: str, timeout: float) -> Any:
        fetched.append(url)
        return real_urlopen(url, timeout=timeout)

    monkeypatch.setattr(authorizer_module.urllib.request, "urlopen", counting)
    token = signed_in_api.token()

    answers = [signed_in_api.get("/me", token).status_code for _ in range(5)]

    assert answers == [200] * 5
    assert len(fetched) == 1


def test_claims_are_flattened_to_strings_as_a_rest_api_passes_them() -> None:
    claims = {
        "exp": 1795430460,
        "iat": 1794221000,
        "auth_time": 1794221000,
        "email_verified": True,
        "cognito:groups": ["rep", "manager"],
    }

    assert rest_api_claims(claims) == {
        "exp": "Mon Nov 23 10:41:00 UTC 2026",
        "iat": "Mon Nov 09 10:43:20 UTC 2026",  # the day with two digits, as Java's Date writes it
        "auth_time": "1794221000",
        "email_verified": "true",
        "cognito:groups": "rep,manager",
    }
