"""Benchmarks shipped with the package: ``kong-litefuse bench …``.

``mix`` generates a realistic, seeded mix of Kong kafka-log records (no files needed, so the
commands work from a plain ``pip install``); ``enrich`` measures the enrich stage on it, ``e2e``
the whole path (with ``receiver`` as Litefuse and ``worker`` running the workers); ``plot`` draws
their results as PNG charts (matplotlib, the ``bench`` extra).
"""
