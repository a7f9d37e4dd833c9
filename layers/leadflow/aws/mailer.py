"""Data access for SES (v2): the one place that sends email.

Each email goes out as a raw MIME message (text and HTML alternatives) through the stack's
configuration set, so that SES's bounce and complaint events reach the stack. Headers are
built by Python's email package with the SMTP policy, which refuses CR or LF in a header
value: nothing a lead typed can add a header.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid
from typing import Any

from leadflow.aws.client import LazyClient
from leadflow.aws.retry import with_backoff
from leadflow.nurture.templates import Rendered
from leadflow.route.notice import Email


class Mailer(LazyClient):
    service = "sesv2"

    def __init__(
        self,
        from_address: str,
        from_name: str,
        configuration_set: str | None = None,
        client: Any = None,
        on_retry: Callable[[Exception], None] | None = None,
    ):
        super().__init__(client)
        self.sender = Address(display_name=from_name, addr_spec=from_address)
        self.configuration_set = configuration_set
        self.on_retry = on_retry

    def mime(self, email: Email, headers: Mapping[str, str] | None = None) -> bytes:
        message = EmailMessage(policy=SMTP)
        message["From"] = self.sender
        message["To"] = email.to
        message["Subject"] = email.subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain=self.sender.domain)
        for name, value in (headers or {}).items():
            message[name] = value
        message.set_content(email.text)
        message.add_alternative(email.html, subtype="html")
        return message.as_bytes()

    def send(
        self, email: Email, headers: Mapping[str, str] | None = None, tags: Mapping[str, str] | None = None
    ) -> str:
        """Send one email; SES's message id. Throttling is retried with backoff.

        `tags` come back in SES's events for this email (a bounce names the lead it was sent to).
        """
        request: dict[str, Any] = {
            "FromEmailAddress": str(self.sender),
            "Destination": {"ToAddresses": [email.to]},
            "Content": {"Raw": {"Data": self.mime(email, headers)}},
        }
        if tags:
            request["EmailTags"] = [{"Name": name, "Value": value} for name, value in tags.items()]
        if self.configuration_set:
            request["ConfigurationSetName"] = self.configuration_set
        answer = with_backoff(lambda: self.client.send_email(**request), on_retry=self.on_retry)
        return str(answer.get("MessageId", ""))

    def send_email(self, to: str, rendered: Rendered, headers: dict[str, str], tags: dict[str, str]) -> str:
        """A nurture email (leadflow.nurture.send.MailPort): rendered, with its own headers and tags."""
        return self.send(Email(to, rendered.subject, rendered.text, rendered.html), headers, tags)
