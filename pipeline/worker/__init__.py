"""The worker: its faust agents, what they share and its web pages, wired by ``pipeline.app``.

    conf.py         the faust App, configured from our settings
    events.py       record-batch events: what the agents read
    producer.py     one librdkafka producer per worker, made on first use
    deadletters.py  dead letters counted, logged and encoded (never raises)
    acks.py         PendingAcks: which events the sink agent may acknowledge, and when
    enrich.py       EnrichAgent: the Kong topic → the traces topic (here or in helpers)
    sink.py         SinkAgent: a traces topic → Litefuse, one per destination
    watch.py        PartitionWatch: lag, re-reading stalled partitions, feeding liveness
    web.py          /metrics, /healthz and /readyz, and none of faust's own pages

Each part is a small class with an ``attach(app)`` that registers its agent, timer or pages,
and whatever it holds is closed on the app's shutdown.
"""
