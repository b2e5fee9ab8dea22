# syntax=docker/dockerfile:1
# lakectl: one image for the watch service and every command (promote, report, maintain, backup).
# Build:  docker build -t lakectl:0.1.0 .
# Run:    docker compose up -d   (see docker-compose.yml and the README)
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /uvx /bin/
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=0 UV_PROJECT_ENVIRONMENT=/opt/venv
WORKDIR /src
# Dependencies first (from the lock), so code changes do not rebuild them.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --locked --no-install-project --no-dev
COPY pyproject.toml uv.lock README.md /src/
COPY src /src/src
RUN --mount=type=cache,target=/root/.cache/uv uv sync --locked --no-dev --no-editable

FROM ${PYTHON_IMAGE} AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini=0.19.0-1+b3 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 lakectl \
 && useradd --system --uid 10001 --gid lakectl --no-create-home --shell /usr/sbin/nologin lakectl \
 && install -d -o lakectl -g lakectl /data /data/landing_zone /data/delta_lake /data/reports
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LAKECTL_LANDING_ZONE=/data/landing_zone \
    LAKECTL_LAKE_ROOT=/data/delta_lake \
    LAKECTL_SILVER__SALT_FILE=/data/.lakectl-salt
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
  CMD ["lakectl", "health", "--max-age", "120"]
ENTRYPOINT ["/usr/bin/tini", "--", "lakectl"]
CMD ["watch", "--log-format", "json"]
