"""`leadflow local`: the whole client stack on a laptop, moto-backed, no AWS account, no Docker."""
