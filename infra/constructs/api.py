"""API Gateway: a REST API whose routes are the definition's RouteSpecs, each a Lambda proxy.

The routes are public website endpoints (a form on a client's site posts to them), so they
carry no authorizer; abuse is held back by stage throttling and by capture's own checks.
CORS, including the OPTIONS preflight, is answered by the capture function from the client's
allowed origins, so API Gateway adds no CORS of its own.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, RemovalPolicy, Validations
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.constructs.functions import Functions
from leadflow.definition import RouteSpec

STAGE_NAME = "v1"
# Steady requests per second and burst for the whole stage: far above what a website's forms
# send, low enough that a flood costs little before the alarms speak.
THROTTLING_RATE_LIMIT = 50
THROTTLING_BURST_LIMIT = 100

PUBLIC_ENDPOINT_ACKNOWLEDGMENTS = (
    Acknowledgment(
        id="AwsSolutions::AwsSolutions-APIG4",
        reason="Public website endpoint: anonymous visitors post inquiries from the client's forms, "
        "so there is no caller to authorize; capture checks origin, honeypot and limits itself.",
    ),
    Acknowledgment(
        id="AwsSolutions::AwsSolutions-COG4",
        reason="Public website endpoint: visitors who post an inquiry have no Cognito account and "
        "never will; capture checks origin, honeypot and limits itself.",
    ),
)
API_ACKNOWLEDGMENTS = (
    Acknowledgment(
        id="AwsSolutions::AwsSolutions-APIG2",
        reason="Capture validates every request itself, JSON and urlencoded HTML forms alike (which "
        "API Gateway models cannot describe), and answers with a 4xx naming the field.",
    ),
    Acknowledgment(
        id="AwsSolutions::AwsSolutions-APIG3",
        reason="A WAF web ACL is billed per ACL per client stack; the public form endpoint is held back "
        "by stage throttling and capture's honeypot and size limits. Attach one per client if needed.",
    ),
    Acknowledgment(
        id="AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
        reason="API Gateway's account-level logging role; the AWS-maintained policy only lets API "
        "Gateway write its own execution and access logs.",
    ),
)


class LeadsApi(Construct):
    """The REST API websites post leads to."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        routes: tuple[RouteSpec, ...],
        functions: Functions,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        access_logs = logs.LogGroup(self, "AccessLogs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY)
        self.rest_api = apigateway.RestApi(
            self,
            "RestApi",
            description="leadflow: websites post inquiries here",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            cloud_watch_role=True,
            deploy_options=apigateway.StageOptions(
                stage_name=STAGE_NAME,
                access_log_destination=apigateway.LogGroupLogDestination(access_logs),
                access_log_format=apigateway.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=False,
                ),
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
        for route in routes:
            self.rest_api.root.resource_for_path(route.path).add_method(
                route.method,
                apigateway.LambdaIntegration(functions.function(route.function), allow_test_invoke=False),
            )
        Validations.of(self).acknowledge(*API_ACKNOWLEDGMENTS, *PUBLIC_ENDPOINT_ACKNOWLEDGMENTS)

    @property
    def url(self) -> str:
        return self.rest_api.url
