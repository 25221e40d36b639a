"""kong-litefuse: Kong Gateway request logs on Kafka → LLM traces in Litefuse.

Data flows one way and the sub-packages follow it::

    kong/      parse Kong log records (the source contract)
    enrich/    pure functions: provider → context → tokens → cost → privacy → Trace
    trace.py   the Trace model carried on the traces topic
    sinks/     batch → encode (OTLP | legacy | console) → send
    delivery/  the deliverer, de-duplication window, dead letters, redrive, stalls, liveness
    worker/    the faust agents (enrich, sink), the partition watch, the web pages
    app.py     the faust app wiring the worker's parts together
    ops/       replay, topics, kong-config, ingest-http, transform
    bench/     the benchmarks and their record mix
"""

__version__ = "0.1.0"
