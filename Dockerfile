# One image for the API, the Dagster webserver and daemon (ECS), and SageMaker training jobs.
# Not built on the development machines (they have no Docker engine); infra/ expects it at /app.
FROM python:3.11-slim AS base
ENV PYTHONUNBUFFERED=1 UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy PATH=/app/.venv/bin:$PATH
WORKDIR /app
RUN pip install --no-cache-dir 'uv>=0.5,<1'
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY flux_core ./flux_core
COPY flux_pipelines ./flux_pipelines
COPY flux_api ./flux_api
COPY dbt_project ./dbt_project
COPY dagster.yaml workspace.yaml ./
COPY infra/dagster ./infra/dagster
RUN uv sync --frozen --no-dev \
 && python -c "from flux_pipelines.defs.features.project import flux_dbt_project; flux_dbt_project()"
# SageMaker runs the training entrypoint (script mode: /opt/ml/input, /opt/ml/model).
ENV DAGSTER_HOME=/app FLUX_DAGSTER_MAX_CONCURRENT_RUNS=2
EXPOSE 8000 3000
CMD ["uvicorn", "flux_api.main:app", "--host", "0.0.0.0", "--port", "8000"]
