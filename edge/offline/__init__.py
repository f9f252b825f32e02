"""Consumers of whole recordings: predict, evaluate, explain and the report."""
