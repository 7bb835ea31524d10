# Airflow image with Airlock's Python dependencies baked in (the compose file builds it).
# Versions come from uv.lock, so containers run exactly what `make test` tested.
FROM apache/airflow:3.3.2-python3.11
USER root
COPY --from=ghcr.io/astral-sh/uv:0.9 /uv /usr/local/bin/uv
USER airflow
COPY --chown=airflow:root pyproject.toml uv.lock /opt/airlock/
# Export the locked runtime dependencies (no dev group) and install them into the image's Python,
# with the official constraints keeping Airflow itself at the image's version.
RUN uv export --frozen --no-dev --no-hashes --project /opt/airlock -o /tmp/requirements.txt \
 && grep -v '^apache-airflow==' /tmp/requirements.txt > /tmp/reqs.txt \
 && pip install --no-cache-dir -r /tmp/reqs.txt "apache-airflow==${AIRFLOW_VERSION}"
