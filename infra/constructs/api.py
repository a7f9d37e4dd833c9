"""API Gateway: a REST API whose routes are the definition's RouteSpecs, each a Lambda proxy.

A route's path may hold path parameters (`/r/{token}`): API Gateway passes them to the
function as `pathParameters`. A route that names a user pool (RouteSpec.authorizer) needs an ID
token of that pool (infra/constructs/users.py) in its `Authorization` header: API Gateway's
Cognito user pools authorizer checks it, answers 401 without calling the function when it is
missing, expired or not the pool's, and passes its claims on (`requestContext.authorizer.claims`).
It asks for no OAuth scope, so it takes the pool's ID tokens.
The other routes are public, and each says why in its own acknowledgment (ROUTE_ACKNOWLEDGMENTS,
by the function behind it), so a new public route without one stops synth: the website endpoints
(a form on a client's site posts to them), the one-tap link page (authorized by the signed token
in its path) and the signed-in API's own description. Abuse is held back by stage throttling, by
the functions' own checks and, when the client's file switches it on, by a per-caller rate limit
in AWS WAF.
CORS, including the OPTIONS preflight, is answered by the capture function from the client's
allowed origins. API Gateway's own answers (throttled 429, 5xx, 401 from the authorizer, 403 for
a missing route or a WAF block) never reach capture, so they carry CORS headers of their own: the
browser script then sees them and can retry.

The API owns nothing account-wide: API Gateway's CloudWatch role is an account setting made
once per account and region (README: "Before the first deploy in an account").
"""

from __future__ import annotations

import json

from aws_cdk import Acknowledgment, RemovalPolicy, Size, Validations
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra.constructs.functions import Functions
from infra.constructs.users import UserPools
from leadflow.config import ProtectionSettings
from leadflow.definition import StackDefinition

STAGE_NAME = "v1"
# Steady requests per second and burst for the whole stage: far above what a website's forms
# send, low enough that a flood costs little before the alarms speak.
THROTTLING_RATE_LIMIT = 50
THROTTLING_BURST_LIMIT = 100
# Answers from this size on are gzip-compressed for clients that accept it (leadflow.js: ~6 KB -> ~2 KB).
MIN_COMPRESSION_SIZE = Size.bytes(1024)
# The rate-based rule counts each caller's requests over this window (what the client file's
# rate_limit_per_5_minutes is per).
RATE_LIMIT_WINDOW_S = 300

# API Gateway's own error answers. A gateway response cannot answer with the request's Origin
# only when it is allowed, so it allows any: these answers hold nothing private, and the script
# posts without credentials, for which "*" is enough. Retry-After is exposed so the script can
# read it (capture's 503 and the throttled 429 send one).
CORS_ON_GATEWAY_ERRORS = {
    "Access-Control-Allow-Origin": "'*'",
    "Access-Control-Expose-Headers": "'Retry-After'",
}
THROTTLED_RETRY_AFTER_S = 1
# The request header the Cognito authorizer reads a signed-in person's ID token from.
AUTHORIZATION_HEADER = "Authorization"


def _public_route(why: str) -> tuple[Acknowledgment, ...]:
    """A route without an authorizer (cdk-nag's APIG4, and COG4: no Cognito authorizer), and why."""
    return (
        Acknowledgment(id="AwsSolutions::AwsSolutions-APIG4", reason=why),
        Acknowledgment(id="AwsSolutions::AwsSolutions-COG4", reason=why),
    )


WEBSITE_ENDPOINT = _public_route(
    "Public website endpoint: anonymous visitors post inquiries from the client's forms (and load the "
    "script that enhances them), so there is no caller to authorize; capture checks origin, honeypot and limits."
)
# By the function behind the route: why its routes that name no user pool (RouteSpec.authorizer) have no authorizer.
ROUTE_ACKNOWLEDGMENTS: dict[str, tuple[Acknowledgment, ...]] = {
    "capture": WEBSITE_ENDPOINT,
    "script": WEBSITE_ENDPOINT,
    "respond": _public_route(
        "One-tap link page: an owner opens it from an email, in whatever browser the mail app opens, without a "
        "session. The token in the path is the authorization: HMAC-signed with the stack's link key, scoped to one "
        "lead, its owner and one purpose (accept or reject it), expiring; respond checks it before it shows or "
        "changes anything, and changes only on a POST."
    ),
    "email_links": _public_route(
        "Unsubscribe and click links in nurture emails: a person opens them from a mail app without a session, and "
        "a mail provider's one-click unsubscribe (RFC 8058) POSTs with no cookie or login by design. The token in "
        "the path is the authorization: HMAC-signed with the stack's link key, scoped to one lead and one purpose "
        "(and, for a click, the one URL it may redirect to), expiring; email_links checks it before it changes "
        "anything, and unsubscribes only on a POST."
    ),
    # Its other routes need a signed-in person's ID token (the Cognito authorizer): only GET /openapi.json is public.
    "follow_up": _public_route(
        "The signed-in API's own description (GET /openapi.json, an OpenAPI document generated from its routes and "
        "models): the same for every caller, no lead, no person, nothing stored; every route it describes needs an "
        "ID token of the stack's user pool, so tools and people can read how to call it before they sign in."
    ),
}
API_ACKNOWLEDGMENTS = (
    Acknowledgment(
        id="AwsSolutions::AwsSolutions-APIG2",
        reason="Each function validates its requests itself: capture its JSON and urlencoded HTML forms (which "
        "API Gateway models cannot describe) with a 4xx naming the field, respond and email_links their signed "
        "tokens and forms, follow_up its paths, queries and JSON bodies with Powertools' resolver and pydantic "
        "models, before any change.",
    ),
)
WITHOUT_WAF_ACKNOWLEDGMENT = Acknowledgment(
    id="AwsSolutions::AwsSolutions-APIG3",
    reason="This client's file leaves [protection] rate_limit_per_5_minutes = 0: a WAF web ACL costs about "
    "6 USD a month per stack. Stage throttling, capture's honeypot and size limits hold the form endpoint.",
)


class LeadsApi(Construct):
    """The REST API websites post leads to, and the people who follow them up sign in to."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        definition: StackDefinition,
        functions: Functions,
        user_pools: UserPools,
        protection: ProtectionSettings,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = logs.LogGroup(
            self, "AccessLogs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        self.rest_api = apigateway.RestApi(
            self,
            "RestApi",
            # Named after the deployment: API Gateway's metrics are per API name (and stage).
            rest_api_name=f"{definition.name_prefix}-api",
            description="leadflow: websites post inquiries here; reps, managers and ops sign in to follow them up",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            cloud_watch_role=False,
            min_compression_size=MIN_COMPRESSION_SIZE,
            deploy_options=apigateway.StageOptions(
                stage_name=STAGE_NAME,
                access_log_destination=apigateway.LogGroupLogDestination(self.access_logs),
                access_log_format=access_log_format(definition),
                # Errors only, and never request bodies: inquiries hold names, emails and phones.
                logging_level=apigateway.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                metrics_enabled=True,
                tracing_enabled=True,
                throttling_rate_limit=THROTTLING_RATE_LIMIT,
                throttling_burst_limit=THROTTLING_BURST_LIMIT,
            ),
        )
        # The stack's ApiUrl output says the same; one output per fact is enough.
        self.rest_api.node.try_remove_child("Endpoint")
        self._definition = definition
        self._user_pools = user_pools
        # One authorizer per user pool that a route names, made with its first route (an authorizer no method
        # uses would stop synth).
        self._authorizers: dict[str, apigateway.CognitoUserPoolsAuthorizer] = {}
        for route in definition.routes:
            authorizer = self._authorizer(route.authorizer) if route.authorizer else None
            # A path part in braces ("{token}") is a path parameter, as API Gateway spells it.
            method = self.rest_api.root.resource_for_path(route.path).add_method(
                route.method,
                apigateway.LambdaIntegration(functions.function(route.function), allow_test_invoke=False),
                authorizer=authorizer,
                authorization_type=apigateway.AuthorizationType.COGNITO if authorizer else None,
            )
            if route.authorizer is None and route.function in ROUTE_ACKNOWLEDGMENTS:
                # else cdk-nag stops synth: a new public route needs its reason
                Validations.of(method).acknowledge(*ROUTE_ACKNOWLEDGMENTS[route.function])
        self._add_cors_to_gateway_errors()
        Validations.of(self).acknowledge(*API_ACKNOWLEDGMENTS)
        if protection.rate_limit_per_5_minutes:
            self._limit_each_caller(definition.name_prefix, protection.rate_limit_per_5_minutes)
        else:
            Validations.of(self).acknowledge(WITHOUT_WAF_ACKNOWLEDGMENT)

    def _authorizer(self, user_pool: str) -> apigateway.CognitoUserPoolsAuthorizer:
        """The authorizer that checks an ID token of the user pool (its key) in the Authorization header."""
        if user_pool not in self._authorizers:
            self._authorizers[user_pool] = apigateway.CognitoUserPoolsAuthorizer(
                self,
                f"{user_pool}-authorizer",
                authorizer_name=self._definition.user_pool(user_pool).name,
                cognito_user_pools=[self._user_pools.pool(user_pool)],
                identity_source=apigateway.IdentitySource.header(AUTHORIZATION_HEADER),
            )
        return self._authorizers[user_pool]

    @property
    def url(self) -> str:
        return self.rest_api.url

    @property
    def stage(self) -> apigateway.Stage:
        return self.rest_api.deployment_stage

    def _add_cors_to_gateway_errors(self) -> None:
        self.rest_api.add_gateway_response(
            "ClientErrors", type=apigateway.ResponseType.DEFAULT_4_XX, response_headers=CORS_ON_GATEWAY_ERRORS
        )
        self.rest_api.add_gateway_response(
            "ServerErrors", type=apigateway.ResponseType.DEFAULT_5_XX, response_headers=CORS_ON_GATEWAY_ERRORS
        )
        # Its own type answers instead of DEFAULT_4XX, so it repeats the CORS headers and says when to retry.
        self.rest_api.add_gateway_response(
            "Throttled",
            type=apigateway.ResponseType.THROTTLED,
            response_headers={**CORS_ON_GATEWAY_ERRORS, "Retry-After": f"'{THROTTLED_RETRY_AFTER_S}'"},
        )

    def _limit_each_caller(self, name_prefix: str, limit: int) -> None:
        """A WAF web ACL on the stage whose one rule blocks a caller (IP) over `limit` requests in 5 minutes."""

        def visibility(metric_name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
            return wafv2.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=True
            )

        web_acl = wafv2.CfnWebACL(
            self,
            "RateLimit",
            name=f"{name_prefix}-api",
            description=f"leadflow: at most {limit} requests per caller in 5 minutes",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow=wafv2.CfnWebACL.AllowActionProperty()),
            visibility_config=visibility(f"{name_prefix}-api"),
            rules=[
                wafv2.CfnWebACL.RuleProperty(
                    name="per-caller-rate-limit",
                    priority=0,
                    action=wafv2.CfnWebACL.RuleActionProperty(block=wafv2.CfnWebACL.BlockActionProperty()),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            limit=limit, aggregate_key_type="IP", evaluation_window_sec=RATE_LIMIT_WINDOW_S
                        )
                    ),
                    visibility_config=visibility(f"{name_prefix}-per-caller-rate-limit"),
                )
            ],
        )
        wafv2.CfnWebACLAssociation(
            self, "RateLimitOnStage", resource_arn=self.stage.stage_arn, web_acl_arn=web_acl.attr_arn
        )


def access_log_format(definition: StackDefinition) -> apigateway.AccessLogFormat:
    """One JSON line per request: who, what, the answer and, for API Gateway's own answers, why.

    The client and stage are written into every line, so that a metric filter can count a
    deployment's throttled requests under the same dimensions as its other metrics.
    """
    fields = {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "requestTime": "$context.requestTime",
        "httpMethod": "$context.httpMethod",
        "resourcePath": "$context.resourcePath",
        "status": "$context.status",
        "protocol": "$context.protocol",
        "responseLength": "$context.responseLength",
        "responseType": "$context.error.responseType",  # THROTTLED, WAF_FILTERED, ...; "-" for the functions' answers
        "client": definition.client,
        "stage": definition.stage,
    }
    return apigateway.AccessLogFormat.custom(json.dumps(fields, separators=(",", ":")))
