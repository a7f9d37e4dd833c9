"""The CDK app that deploys leadflow: one stack per client (see app.py)."""
