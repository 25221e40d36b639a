"""Delivery: dead letters (and, later, de-duplication and redrive)."""
