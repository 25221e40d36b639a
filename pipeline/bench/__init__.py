"""Benchmarks shipped with the package: ``kong-litefuse bench …``.

``mix`` generates a realistic, seeded mix of Kong kafka-log records (no files needed, so the
commands work from a plain ``pip install``); ``enrich`` measures the enrich stage on it.
"""
