"""Who signs in, and where a token is needed: the user pool, its app client and the API's Cognito authorizer."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra.template_surface import deployed_surface, resources_of_type
from leadflow.definition import StackDefinition

pytestmark = pytest.mark.infra

DEMO_STACK = "Leads-demo"
USER_POOL = "users"


def the_only(template: Template, resource_type: str) -> tuple[str, dict[str, Any]]:
    """The logical id and the resource of the one resource of a type in the template."""
    [(found_id, resource)] = resources_of_type(template.to_json(), resource_type).items()
    return found_id, resource


def pool_properties(template: Template) -> dict[str, Any]:
    return the_only(template, "AWS::Cognito::UserPool")[1]["Properties"]


def client_properties(template: Template) -> dict[str, Any]:
    return the_only(template, "AWS::Cognito::UserPoolClient")[1]["Properties"]


def methods(template: Template) -> dict[tuple[str, str], dict[str, Any]]:
    """Each API method's properties by (method, path as the definition spells it)."""
    resources = resources_of_type(template.to_json(), "AWS::ApiGateway::Resource")

    def path_of(resource_id: Any) -> str:
        if not (isinstance(resource_id, dict) and "Ref" in resource_id):
            return ""
        resource = resources[resource_id["Ref"]]["Properties"]
        return f"{path_of(resource['ParentId'])}/{resource['PathPart']}"

    return {
        (method["Properties"]["HttpMethod"], path_of(method["Properties"]["ResourceId"]) or "/"): method["Properties"]
        for method in resources_of_type(template.to_json(), "AWS::ApiGateway::Method").values()
    }


# --- the user pool --------------------------------------------------------------------------


def test_the_user_pool_has_its_definition_name_and_a_group_for_reps_managers_and_ops(
    demo_template: Template, demo_definition: StackDefinition
) -> None:
    spec = demo_definition.user_pool(USER_POOL)
    pool_id, pool = the_only(demo_template, "AWS::Cognito::UserPool")
    assert pool["Properties"]["UserPoolName"] == spec.name == "leadflow-demo-users"
    groups = resources_of_type(demo_template.to_json(), "AWS::Cognito::UserPoolGroup").values()
    assert sorted(group["Properties"]["GroupName"] for group in groups) == ["manager", "ops", "rep"]
    assert all(group["Properties"]["UserPoolId"] == {"Ref": pool_id} for group in groups)


def test_only_ops_add_people_to_the_user_pool(demo_template: Template) -> None:
    assert pool_properties(demo_template)["AdminCreateUserConfig"] == {"AllowAdminCreateUserOnly": True}


def test_people_sign_in_with_their_email_as_username_in_any_case_and_every_person_has_an_email(
    demo_template: Template,
) -> None:
    pool = pool_properties(demo_template)
    # Neither an alias nor Cognito's "email as username" mode: the username is the address ops typed in.
    assert "UsernameAttributes" not in pool
    assert "AliasAttributes" not in pool
    assert pool["UsernameConfiguration"] == {"CaseSensitive": False}
    assert {"Name": "email", "Required": True, "Mutable": True} in pool["Schema"]


def test_passwords_need_twelve_characters_of_every_kind_and_are_recovered_by_email_only(
    demo_template: Template,
) -> None:
    pool = pool_properties(demo_template)
    assert pool["Policies"]["PasswordPolicy"] == {
        "MinimumLength": 12,
        "RequireLowercase": True,
        "RequireUppercase": True,
        "RequireNumbers": True,
        "RequireSymbols": True,
    }
    assert pool["AccountRecoverySetting"] == {"RecoveryMechanisms": [{"Name": "verified_email", "Priority": 1}]}
    assert pool["AutoVerifiedAttributes"] == ["email"]


def test_a_changed_email_takes_effect_only_once_its_owner_confirms_it(demo_template: Template) -> None:
    # Else a person could set another's address on themselves, and their ID token's email claim would say it.
    pool = pool_properties(demo_template)
    assert pool["UserAttributeUpdateSettings"] == {"AttributesRequireVerificationBeforeUpdate": ["email"]}
    assert pool["AutoVerifiedAttributes"] == ["email"]


def test_mfa_is_optional_with_an_authenticator_app_and_never_by_sms(demo_template: Template) -> None:
    pool = pool_properties(demo_template)
    assert pool["MfaConfiguration"] == "OPTIONAL"
    assert pool["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]
    assert "SmsConfiguration" not in pool  # no SMS role, no SNS spend


def test_the_user_pool_is_on_the_lite_plan(demo_template: Template) -> None:
    # Plus (threat protection) is billed for every active user: acknowledged on the pool with that reason.
    assert pool_properties(demo_template)["UserPoolTier"] == "LITE"


def test_the_user_pool_and_its_groups_are_kept_when_the_stack_is_deleted_and_the_app_client_is_not(
    demo_template: Template,
) -> None:
    kept = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
    demo_template.all_resources("AWS::Cognito::UserPool", kept)
    demo_template.all_resources("AWS::Cognito::UserPoolGroup", kept)
    _, client = the_only(demo_template, "AWS::Cognito::UserPoolClient")
    assert "DeletionPolicy" not in client  # it holds nobody's data: the next deploy makes a new one


# --- the app client -------------------------------------------------------------------------


def test_the_app_client_has_the_definition_name_and_no_secret(
    demo_template: Template, demo_definition: StackDefinition
) -> None:
    pool_id, _ = the_only(demo_template, "AWS::Cognito::UserPool")
    client = client_properties(demo_template)
    assert client["ClientName"] == demo_definition.user_pool(USER_POOL).client_name == "leadflow-demo-api"
    assert client["UserPoolId"] == {"Ref": pool_id}
    assert client["GenerateSecret"] is False


def test_the_app_client_signs_in_with_username_and_password_or_srp_and_refreshes_without_oauth(
    demo_template: Template,
) -> None:
    client = client_properties(demo_template)
    assert sorted(client["ExplicitAuthFlows"]) == [
        "ALLOW_REFRESH_TOKEN_AUTH",
        "ALLOW_USER_PASSWORD_AUTH",
        "ALLOW_USER_SRP_AUTH",
    ]
    assert client["AllowedOAuthFlowsUserPoolClient"] is False
    assert "CallbackURLs" not in client


def test_the_app_client_hides_whether_a_person_exists(demo_template: Template) -> None:
    assert client_properties(demo_template)["PreventUserExistenceErrors"] == "ENABLED"


def test_an_id_token_lasts_an_hour_and_a_refresh_token_thirty_days(demo_template: Template) -> None:
    demo_template.has_resource_properties(
        "AWS::Cognito::UserPoolClient",
        {
            "IdTokenValidity": 60,
            "AccessTokenValidity": 60,
            "RefreshTokenValidity": 30 * 24 * 60,
            "TokenValidityUnits": {"IdToken": "minutes", "AccessToken": "minutes", "RefreshToken": "minutes"},
            "EnableTokenRevocation": True,
        },
    )


def test_stack_outputs_the_user_pool_id_and_the_app_client_id(demo_template: Template) -> None:
    pool_id, _ = the_only(demo_template, "AWS::Cognito::UserPool")
    client_id, _ = the_only(demo_template, "AWS::Cognito::UserPoolClient")
    demo_template.has_output("UserPoolId", {"Value": {"Ref": pool_id}, "Description": Match.any_value()})
    demo_template.has_output("UserPoolClientId", {"Value": {"Ref": client_id}, "Description": Match.any_value()})


# --- the API's Cognito authorizer -----------------------------------------------------------


def test_one_cognito_authorizer_reads_the_pools_id_token_from_the_authorization_header(
    demo_template: Template, demo_definition: StackDefinition
) -> None:
    pool_id, _ = the_only(demo_template, "AWS::Cognito::UserPool")
    [rest_api_id] = resources_of_type(demo_template.to_json(), "AWS::ApiGateway::RestApi")
    _, authorizer = the_only(demo_template, "AWS::ApiGateway::Authorizer")
    assert authorizer["Properties"] == {
        "Name": demo_definition.user_pool(USER_POOL).name,
        "Type": "COGNITO_USER_POOLS",
        "ProviderARNs": [{"Fn::GetAtt": [pool_id, "Arn"]}],
        "IdentitySource": "method.request.header.Authorization",
        "RestApiId": {"Ref": rest_api_id},
    }


def test_every_route_that_names_the_user_pool_needs_its_id_token_and_no_oauth_scope(
    demo_template: Template, demo_definition: StackDefinition
) -> None:
    authorizer_id, _ = the_only(demo_template, "AWS::ApiGateway::Authorizer")
    deployed = methods(demo_template)
    signed_in = [route for route in demo_definition.routes if route.authorizer == USER_POOL]
    assert len(signed_in) == 11
    for route in signed_in:
        method = deployed[route.method, route.path]
        assert method["AuthorizationType"] == "COGNITO_USER_POOLS", route
        assert method["AuthorizerId"] == {"Ref": authorizer_id}, route
        assert "AuthorizationScopes" not in method, route  # scopes would make it take access tokens instead


def test_every_public_route_has_no_authorizer(demo_template: Template, demo_definition: StackDefinition) -> None:
    deployed = methods(demo_template)
    public = [route for route in demo_definition.routes if route.authorizer is None]
    assert {(route.method, route.path) for route in public} == {
        ("POST", "/leads"),
        ("OPTIONS", "/leads"),
        ("GET", "/leadflow.js"),
        ("GET", "/r/{token}"),
        ("POST", "/r/{token}"),
        ("GET", "/openapi.json"),
        ("GET", "/u/{token}"),
        ("POST", "/u/{token}"),
        ("GET", "/c/{token}"),
    }
    for route in public:
        assert deployed[route.method, route.path]["AuthorizationType"] == "NONE", route
        assert "AuthorizerId" not in deployed[route.method, route.path], route


def test_the_openapi_document_is_public_and_served_by_follow_up(demo_template: Template) -> None:
    assert methods(demo_template)["GET", "/openapi.json"]["AuthorizationType"] == "NONE"
    surface = deployed_surface(demo_template.to_json())
    [openapi] = [route for route in surface.routes if route.path == "/openapi.json"]
    assert (openapi.function, openapi.authorizer) == ("follow_up", None)


def test_listing_leads_needs_a_token_while_posting_one_stays_public_on_the_same_resource(
    demo_template: Template,
) -> None:
    deployed = methods(demo_template)
    assert deployed["GET", "/leads"]["ResourceId"] == deployed["POST", "/leads"]["ResourceId"]
    assert deployed["GET", "/leads"]["AuthorizationType"] == "COGNITO_USER_POOLS"
    assert deployed["POST", "/leads"]["AuthorizationType"] == "NONE"
    assert deployed["OPTIONS", "/leads"]["AuthorizationType"] == "NONE"


def test_the_template_surface_names_the_pool_each_route_needs_a_token_of(
    synthesized, demo_definition: StackDefinition
) -> None:
    surface = deployed_surface(synthesized.templates[DEMO_STACK])
    assert {(route.method, route.path, route.authorizer) for route in surface.routes} == {
        (route.method, route.path, demo_definition.user_pool(route.authorizer).name if route.authorizer else None)
        for route in demo_definition.routes
    }
    assert {(pool.name, pool.client_names, pool.groups) for pool in surface.user_pools} == {
        (spec.name, (spec.client_name,), tuple(sorted(spec.groups))) for spec in demo_definition.user_pools
    }


def test_the_pool_acknowledges_optional_mfa_and_no_threat_protection_each_with_its_reason(synthesized) -> None:
    metadata = json.loads((synthesized.assembly_dir / f"{DEMO_STACK}.metadata.json").read_text())
    [pool_path] = [path for path in metadata if path.startswith(f"/{DEMO_STACK}/Users/") and path.endswith("/Pool")]
    acknowledged = {
        rule: reason
        for entry in metadata[pool_path]
        if entry["type"] == "aws:cdk:acknowledged-rules"
        for rule, reason in entry["data"].items()
    }
    assert set(acknowledged) == {"AwsSolutions::AwsSolutions-COG2", "AwsSolutions::AwsSolutions-COG8"}
    assert "phone" in acknowledged["AwsSolutions::AwsSolutions-COG2"]
    assert "TOTP" in acknowledged["AwsSolutions::AwsSolutions-COG2"]
    assert "Plus" in acknowledged["AwsSolutions::AwsSolutions-COG8"]
