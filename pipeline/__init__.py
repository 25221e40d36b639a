"""kong-litefuse: Kong Gateway request logs on Kafka → LLM traces in Litefuse.

Data flows one way and the sub-packages follow it::

    kong/      parse Kong log records (the source contract)
    enrich/    pure functions: provider → context → tokens → cost → Trace
    trace.py   the Trace model carried on the traces topic
    sinks/     batch → encode (OTLP | legacy | console) → send
    delivery/  dead letters
    app.py     the faust app wiring the two agents together
"""

__version__ = "0.1.0"
