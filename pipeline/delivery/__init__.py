"""Delivery, free of faust so it is tested directly.

batcher.py     traces batched by count, bytes and time
deliverer.py   one batch to its sink until settled: holding through outages, retries
dedup.py       the de-duplication window (exactly-once as Litefuse sees it)
deadletter.py  dead letters: the scrubbed original plus why, where and when
redrive.py     dead letters back onto their source topics
stalls.py      partitions whose committed offset stopped moving, to re-read
liveness.py    whether the worker makes progress (/healthz)
"""
