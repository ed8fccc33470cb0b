"""Shared domain types and the message pipeline; imports nothing else of ours."""
