"""One client's stack: the definition built from its config, turned into AWS resources."""

from __future__ import annotations

from aws_cdk import CfnOutput, Environment, Stack, Tags
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.constructs.api import LeadsApi
from infra.constructs.buckets import Buckets
from infra.constructs.dashboard import OperationsDashboard
from infra.constructs.email import Emails
from infra.constructs.event_rules import EventRules
from infra.constructs.events import EventBuses
from infra.constructs.functions import Functions, SharedLayers
from infra.constructs.inbound_mail import InboundMail
from infra.constructs.monitoring import Monitoring
from infra.constructs.queues import Queues
from infra.constructs.schedules import Schedules
from infra.constructs.secrets import Secrets
from infra.constructs.table import Tables
from infra.constructs.users import UserPools
from infra.layer_build import LayerPaths
from leadflow.config import ClientConfig
from leadflow.definition import DEFAULT_STAGE, StackDefinition

LEADS_TABLE = "leads"
INTAKE_QUEUE = "intake"
EVENT_BUS = "events"
API = "api"  # the key functions name the API by (ResourceRef("api_url", "api"))
USER_POOL = "users"  # the pool reps, managers and ops sign in to

# The retention periods CloudWatch Logs offers, as the client config spells them (in days).
LOG_RETENTION_BY_DAYS = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


class LeadsStack(Stack):
    """Table, queues, event bus and its rules, secrets, email sender, functions, schedules, user pool, API and
    alarms of one client, named after the definition."""

    def __init__(
        self,
        scope: Construct,
        *,
        config: ClientConfig,
        definition: StackDefinition,
        layer_paths: LayerPaths,
    ) -> None:
        super().__init__(
            scope,
            definition.stack_name,
            description=f"leadflow lead management for {config.display_name or config.name} ({definition.stage})",
            env=Environment(account=config.aws.account, region=config.aws.region),
        )
        Tags.of(self).add("leadflow:client", config.name)
        Tags.of(self).add("leadflow:stage", definition.stage)
        log_retention = LOG_RETENTION_BY_DAYS[config.monitoring.log_retention_days]

        tables = Tables(self, "Tables", specs=definition.tables)
        queues = Queues(self, "Queues", specs=definition.queues)
        event_buses = EventBuses(self, "EventBuses", specs=definition.event_buses)
        secrets = Secrets(self, "Secrets", specs=definition.secrets)
        # The sender's identity is the account's, one per address: the client's default stage owns it.
        emails = Emails(self, "Emails", specs=definition.emails, owns_identities=definition.stage == DEFAULT_STAGE)
        EventRules(self, "EventRules", definition=definition, event_buses=event_buses, queues=queues)
        InboundMail(self, "InboundMail", specs=definition.inbound_mail, queues=queues)
        buckets = Buckets(self, "Buckets", specs=definition.buckets)
        layers = SharedLayers(self, "Layers", paths=layer_paths)
        functions = Functions(
            self,
            "Functions",
            definition=definition,
            tables=tables,
            queues=queues,
            event_buses=event_buses,
            secrets=secrets,
            emails=emails,
            buckets=buckets,
            layers=layers.layers,
            log_retention=log_retention,
        )
        Schedules(self, "Schedules", definition=definition, functions=functions)
        user_pools = UserPools(self, "Users", specs=definition.user_pools)
        api = LeadsApi(
            self,
            "Api",
            definition=definition,
            functions=functions,
            user_pools=user_pools,
            protection=config.protection,
            log_retention=log_retention,
        )
        # The stage's URL, for the functions that write links to the API (not those behind it).
        functions.provide("api_url", API, api.url)
        functions.check_all_provided()
        Monitoring(
            self,
            "Monitoring",
            alarm_email=config.monitoring.alarm_email,
            definition=definition,
            queues=queues,
            functions=functions,
            api=api,
        )
        if config.monitoring.dashboard:
            OperationsDashboard(self, "Dashboard", definition=definition, queues=queues, functions=functions, api=api)

        CfnOutput(self, "ApiUrl", value=api.url, description="The API's base URL: websites post to <ApiUrl>leads")
        CfnOutput(self, "TableName", value=tables.table(LEADS_TABLE).table_name, description="Where the leads are")
        CfnOutput(
            self,
            "IntakeQueueUrl",
            value=queues.queue(INTAKE_QUEUE).queue_url,
            description="Captured inquiries waiting to be stored",
        )
        CfnOutput(
            self,
            "EventBusName",
            value=event_buses.bus(EVENT_BUS).event_bus_name,
            description="Where each lead's state changes are published as domain events",
        )
        CfnOutput(
            self,
            "ReportsBucketName",
            value=buckets.bucket("reports").bucket_name,
            description="Where the weekly report keeps its CSVs (weekly/<first day>_<last day>/)",
        )
        CfnOutput(
            self,
            "UserPoolId",
            value=user_pools.pool(USER_POOL).user_pool_id,
            description="Where ops add reps, managers and ops (username: their email; groups rep, manager, ops)",
        )
        CfnOutput(
            self,
            "UserPoolClientId",
            value=user_pools.client(USER_POOL).user_pool_client_id,
            description="The app client people sign in through (USER_PASSWORD_AUTH or SRP, no secret); its ID token "
            "goes in the Authorization header",
        )
