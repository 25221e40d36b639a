# kong-litefuse: the pipeline worker (and the ingest-http / topics / replay commands).
#   docker build -t kong-litefuse .
#   docker run --rm -e KAFKA_BOOTSTRAP_SERVERS=kafka:9092 kong-litefuse worker
# Two stages: the wheel is built with the build tools, the runtime image holds only what runs.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY pipeline ./pipeline
COPY schemas ./schemas
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
# A fixed non-root uid, so Kubernetes' runAsNonRoot can check it.
RUN useradd --system --uid 10001 --home-dir /app --create-home kong-litefuse
COPY --from=build /install /usr/local
# No data directory: the worker keeps its tables in memory (faust would make one in the
# working directory; see PipelineApp._create_directories).
WORKDIR /app
USER 10001
ENV PYTHONUNBUFFERED=1 \
    WORKER_WEB_HOST=0.0.0.0 \
    WORKER_WEB_PORT=6066
# /metrics, /healthz and /readyz of the worker.
EXPOSE 6066
ENTRYPOINT ["kong-litefuse"]
CMD ["worker"]
