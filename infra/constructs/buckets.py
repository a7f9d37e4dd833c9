"""The definition's S3 buckets: the weekly report's CSVs.

Each bucket is private (every public access blocked, objects owned by the bucket owner), encrypted
with S3-managed keys, refuses any request not made over TLS, and deletes each object `keep_days`
after it was written (a lifecycle rule). Its name is CloudFormation's: bucket names are global, and
a name of the client's could already be anyone's. Deleting the stack keeps the bucket and what it
holds (RETAIN); the next deploy of the client makes a new one beside it.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Validations
from aws_cdk import aws_s3 as s3
from constructs import Construct

from leadflow.definition import BucketSpec


class Buckets(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, specs: tuple[BucketSpec, ...]) -> None:
        super().__init__(scope, construct_id)
        self._buckets = {spec.key: self._declare(spec) for spec in specs}

    def bucket(self, key: str) -> s3.Bucket:
        return self._buckets[key]

    def _declare(self, spec: BucketSpec) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            spec.key,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=False,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire",
                    expiration=Duration.days(spec.keep_days),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        Validations.of(bucket).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-S1",
                reason=f"{spec.description}. Only the stack's own function writes to it (its role's s3:PutObject on "
                "this bucket alone); CloudTrail records who read it. Server access logs would need a second bucket "
                "per client, kept as long, for objects nobody else writes.",
            )
        )
        return bucket
