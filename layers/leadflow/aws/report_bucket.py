"""Data access for the stack's reports bucket (S3): where the weekly report's CSVs are kept.

The bucket's lifecycle rule deletes each CSV `[report] keep_days` after it was written
(infra/constructs/buckets.py). Writing a week's CSV again (a retried tick) writes the same key.
"""

from __future__ import annotations

from leadflow.aws.client import LazyClient


class ReportBucket(LazyClient):
    service = "s3"

    def __init__(self, bucket: str, client: object = None):
        super().__init__(client)
        self.bucket = bucket

    def put_csv(self, key: str, body: str) -> str:
        """Store a CSV at `key`; its s3:// address."""
        self.client.put_object(
            Bucket=self.bucket, Key=key, Body=body.encode("utf-8"), ContentType="text/csv; charset=utf-8"
        )
        return f"s3://{self.bucket}/{key}"
