"""Capture: what websites send, checked and normalised, and the answer each request gets."""
