# The image of motcua's app services in docker-compose.yml (streams, sink, ingest, notify, topics): the same CLI a
# developer runs. Kafka, ClickHouse and Grafana run from their own images.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /opt/motcua

COPY pyproject.toml README.md ./
COPY motcua ./motcua
COPY wire ./wire
COPY dossier ./dossier
COPY audit ./audit
COPY producers ./producers
COPY streams ./streams
COPY sinks ./sinks
COPY dashboards ./dashboards
COPY stack ./stack
COPY notify ./notify
RUN pip install --no-cache-dir . && useradd --system --uid 10001 motcua

USER motcua
ENTRYPOINT []
CMD ["motcua", "--help"]
