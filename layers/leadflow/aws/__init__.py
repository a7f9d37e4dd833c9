"""Data access: one module per AWS store or service. The only part of the domain that imports boto3."""
