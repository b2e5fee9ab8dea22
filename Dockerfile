# syntax=docker/dockerfile:1
# lakectl: one image for the watch service, serve and every command (promote, report, maintain, backup).
# Build:  make image      (podman or docker; see the README for the base image where no registry is reachable)
# Run:    docker compose up -d   (see docker-compose.yml and the README)
# PYTHON_IMAGE is the production base; any Debian bookworm image with python3 (>= 3.11) and python3-venv works.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG UV_VERSION=0.13.9
# uv comes from PyPI like every other package, so the build needs no second registry; UV_NATIVE_TLS and
# --cert use the system's CA store (an egress proxy's CA, mounted by the build, is then trusted too).
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=0 UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_NATIVE_TLS=1 PATH=/opt/uv/bin:$PATH
RUN python3 -m venv /opt/uv \
 && /opt/uv/bin/pip install --no-cache-dir --cert /etc/ssl/certs/ca-certificates.crt "uv==${UV_VERSION}"
WORKDIR /src
# Dependencies first (from the lock), so code changes do not rebuild them. Absolute mount targets:
# buildah/podman refuse relative ones.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=/src/uv.lock \
    --mount=type=bind,source=pyproject.toml,target=/src/pyproject.toml \
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
COPY deploy/docker-entrypoint.sh /usr/local/bin/lakectl-entrypoint
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LAKECTL_LANDING_ZONE=/data/landing_zone \
    LAKECTL_LAKE_ROOT=/data/delta_lake \
    LAKECTL_SILVER__SALT_FILE=/data/.lakectl-salt
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
  CMD ["lakectl", "health", "--max-age", "120"]
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/lakectl-entrypoint"]
CMD ["watch", "--log-format", "json"]
