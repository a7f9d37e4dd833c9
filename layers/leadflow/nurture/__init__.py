"""Nurture: email sequences for leads not ready to buy, sent in the lead's own hours within the inbox rules."""
