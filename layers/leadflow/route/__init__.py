"""Routing: give each sales-ready lead one owner by the client's rules, with a deadline on working hours."""
