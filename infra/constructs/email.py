"""SES: each EmailSpec becomes the identity the stack sends from and the configuration set it sends through.

The identity is the sender's address (`Identity.email`): deploying it makes SES mail that
address a verification link, and SES sends nothing from it until someone follows the link.
An identity is named by the address alone, once per account and region, while a client's
stages share its sender: so the client's default stage owns it, and any other stage sends from
it without declaring it (deploy the default stage first, or verify the address yourself).
The configuration set is named after the deployment, so that SES's events about this stack's
mail (bounces, complaints) can be told from another stack's.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_ses as ses
from constructs import Construct

from leadflow.definition import DEFAULT_BUS, EmailSpec


class Emails(Construct):
    """The stack's email senders, by their key in the definition."""

    def __init__(
        self, scope: Construct, construct_id: str, *, specs: tuple[EmailSpec, ...], owns_identities: bool
    ) -> None:
        super().__init__(scope, construct_id)
        self._configuration_sets = {spec.key: self._declare_configuration_set(spec) for spec in specs}
        self._identities: dict[str, ses.IEmailIdentity] = {
            spec.key: self._declare_identity(spec)
            if owns_identities
            else ses.EmailIdentity.from_email_identity_name(self, f"{spec.key}-identity", spec.from_address)
            for spec in specs
        }

    def configuration_set_name(self, key: str) -> str:
        return self._configuration_sets[key].configuration_set_name

    def send_arns(self, key: str) -> list[str]:
        """What a send from this sender is authorized against: its identity and its configuration set."""
        configuration_set_arn = Stack.of(self).format_arn(
            service="ses",
            resource="configuration-set",
            resource_name=self.configuration_set_name(key),
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        return [self._identities[key].email_identity_arn, configuration_set_arn]

    def _declare_configuration_set(self, spec: EmailSpec) -> ses.ConfigurationSet:
        name = spec.configuration_set
        configuration_set = ses.ConfigurationSet(self, f"{spec.key}-configuration-set", configuration_set_name=name)
        # Bounces and complaints go to the account's default bus (the only bus SES sends to), where the
        # stack's rule takes those of its own configuration set to the ses-events queue.
        configuration_set.add_event_destination(
            f"{spec.key}-events",
            configuration_set_event_destination_name="bounces-and-complaints",
            destination=ses.EventDestination.event_bus(
                events.EventBus.from_event_bus_name(self, f"{spec.key}-default-bus", DEFAULT_BUS)
            ),
            events=[ses.EmailSendingEvent.BOUNCE, ses.EmailSendingEvent.COMPLAINT],
        )
        return configuration_set

    def _declare_identity(self, spec: EmailSpec) -> ses.EmailIdentity:
        return ses.EmailIdentity(
            self,
            f"{spec.key}-identity",
            identity=ses.Identity.email(spec.from_address),
            # A send that names no configuration set goes through the stack's anyway.
            configuration_set=self._configuration_sets[spec.key],
        )
