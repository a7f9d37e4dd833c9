"""Qualify: verify a lead, score it against the client's lead definition, and decide its stage."""
