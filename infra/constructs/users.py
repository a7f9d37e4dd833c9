"""Amazon Cognito: each UserPoolSpec becomes the user pool reps, managers and ops sign in to.

Only ops add people (`admin_create_user`: no self sign-up); a person's username is their email
address, and Cognito emails them a temporary password. Each of the spec's groups (rep, manager,
ops) is a Cognito group, so an ID token's `cognito:groups` claim says what its holder may do.
People sign in through the pool's one app client, which holds no secret (a phone or a script
holds it): username and password (USER_PASSWORD_AUTH, or SRP) and the refresh token. API
Gateway's Cognito authorizer (infra/constructs/api.py) checks the ID tokens it issues.

The pool and its groups hold the client's people and who may do what, stored nowhere else:
they are kept when the stack is deleted, and `infra/retained.py` imports them into the next
deploy. The app client holds nothing of theirs: a new deploy makes a new one (a new id).
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Validations
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from leadflow.definition import UserPoolSpec


def password_policy(spec: UserPoolSpec) -> cognito.PasswordPolicy:
    """Strong enough for cdk-nag's COG1 (length, upper case, digits, symbols); the local pool asks the same."""
    return cognito.PasswordPolicy(
        min_length=spec.password_min_length,
        require_lowercase=True,
        require_uppercase=True,
        require_digits=True,
        require_symbols=True,
    )


# An ID token is good for an hour; the app signs in again silently with the refresh token for 30 days.
ID_TOKEN_VALIDITY = Duration.hours(1)
ACCESS_TOKEN_VALIDITY = Duration.hours(1)
REFRESH_TOKEN_VALIDITY = Duration.days(30)

POOL_ACKNOWLEDGMENTS = (
    Acknowledgment(
        id="AwsSolutions::AwsSolutions-COG2",
        reason="MFA is optional, not required: a rep often answers a lead from a phone, in the field, and must not be "
        "locked out of a hot lead by a lost authenticator. Each person may turn on TOTP (authenticator app) MFA; "
        "SMS MFA is off. Passwords follow a strong policy and only ops add people (no self sign-up).",
    ),
    Acknowledgment(
        id="AwsSolutions::AwsSolutions-COG8",
        reason="Threat protection (adaptive authentication, compromised-credential checks) needs Cognito's Plus "
        "feature plan, billed for every monthly active user, where this pool's few dozen people sign in free on the "
        "Lite plan. Only ops add people, passwords are strong and TOTP MFA is offered; switch the plan per client "
        "when its risk warrants the cost.",
    ),
)


class UserPools(Construct):
    """The stack's user pools and their app clients, by their key in the definition."""

    def __init__(self, scope: Construct, construct_id: str, *, specs: tuple[UserPoolSpec, ...]) -> None:
        super().__init__(scope, construct_id)
        self._pools: dict[str, cognito.UserPool] = {}
        self._clients: dict[str, cognito.UserPoolClient] = {}
        for spec in specs:
            self._pools[spec.key], self._clients[spec.key] = self._declare_pool(spec)

    def pool(self, key: str) -> cognito.UserPool:
        return self._pools[key]

    def client(self, key: str) -> cognito.UserPoolClient:
        return self._clients[key]

    def _declare_pool(self, spec: UserPoolSpec) -> tuple[cognito.UserPool, cognito.UserPoolClient]:
        scope = Construct(self, spec.key)
        pool = cognito.UserPool(
            scope,
            "Pool",
            user_pool_name=spec.name,
            self_sign_up_enabled=False,  # ops add people
            # Signed in by username, which is the person's email address (any case).
            sign_in_aliases=cognito.SignInAliases(username=True),
            sign_in_case_sensitive=False,
            standard_attributes=cognito.StandardAttributes(
                email=cognito.StandardAttribute(required=True, mutable=True)  # ops correct it: mutable
            ),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            # A changed address takes effect only once its owner confirms it, so nobody takes on another person's
            # email (the app client cannot forbid the change: Cognito keeps a required attribute writable).
            keep_original=cognito.KeepOriginalAttrs(email=True),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            password_policy=password_policy(spec),
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            feature_plan=cognito.FeaturePlan.LITE,
            # The client's people and their groups: deleting the stack must never delete them.
            removal_policy=RemovalPolicy.RETAIN,
        )
        Validations.of(pool).acknowledge(*POOL_ACKNOWLEDGMENTS)
        for group in spec.groups:
            cognito.CfnUserPoolGroup(
                scope, f"Group-{group}", user_pool_id=pool.user_pool_id, group_name=group
            ).apply_removal_policy(RemovalPolicy.RETAIN)  # deleting a group would forget who is in it
        client = pool.add_client(
            "ApiClient",
            user_pool_client_name=spec.client_name,
            generate_secret=False,
            auth_flows=cognito.AuthFlow(user_password=True, user_srp=True),  # and the refresh token, always
            disable_o_auth=True,  # no hosted sign-in page: the app posts the username and password itself
            prevent_user_existence_errors=True,
            id_token_validity=ID_TOKEN_VALIDITY,
            access_token_validity=ACCESS_TOKEN_VALIDITY,
            refresh_token_validity=REFRESH_TOKEN_VALIDITY,
            enable_token_revocation=True,
        )
        return pool, client
