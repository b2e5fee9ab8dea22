#!/usr/bin/env bash
# Build the lakectl image with podman or docker, whichever works on this machine (`make image`).
#
#   deploy/image.sh [TAG]          (default lakectl:0.1.0)
#
# ENGINE=podman|docker        force the engine
# PYTHON_IMAGE=IMAGE          the base (default: the official python:3.11-slim-bookworm, the production
#                             base). If it can be neither found nor pulled (no registry reachable),
#                             a Debian bookworm base is made locally with mmdebstrap and used instead;
#                             LOCAL_BASE=1 asks for that base directly.
set -euo pipefail
cd "$(dirname "$0")/.."
TAG="${1:-lakectl:0.1.0}"
OFFICIAL=docker.io/library/python:3.11-slim-bookworm
LOCAL=localhost/lakectl-base:bookworm
CA=/etc/ssl/certs/ca-certificates.crt

say() { printf 'image: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

if [ -z "${ENGINE:-}" ]; then
  if command -v podman >/dev/null 2>&1; then ENGINE=podman
  elif command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then ENGINE=docker
  else die "neither podman nor a running docker engine found: install podman (apt-get install podman runc) or Docker"
  fi
fi
have() { "$ENGINE" image inspect "$1" >/dev/null 2>&1; }

local_base() {  # a minimal Debian bookworm with python3, from this host's own apt sources
  have "$LOCAL" && return 0
  command -v mmdebstrap >/dev/null 2>&1 || die "no registry reachable and mmdebstrap missing: apt-get install mmdebstrap"
  local sources=/etc/apt/sources.list.d/debian.sources tar
  [ -f "$sources" ] || sources=/etc/apt/sources.list
  tar="$(mktemp --suffix=.tar)"
  say "making the local base $LOCAL with mmdebstrap (about a minute)"
  mmdebstrap --quiet --variant=minbase --include=ca-certificates,python3,python3-venv \
    bookworm "$tar" "$sources" || { rm -f "$tar"; die "mmdebstrap failed (see above)"; }
  "$ENGINE" import "$tar" "$LOCAL" >/dev/null
  rm -f "$tar"
}

if [ "${LOCAL_BASE:-0}" = 1 ]; then
  local_base
  BASE="$LOCAL"
elif [ -n "${PYTHON_IMAGE:-}" ]; then
  BASE="$PYTHON_IMAGE"
elif have "$OFFICIAL" || timeout 120 "$ENGINE" pull -q "$OFFICIAL" >/dev/null 2>&1; then
  BASE="$OFFICIAL"
else
  say "cannot pull $OFFICIAL (no registry reachable?): building on a local Debian bookworm base"
  local_base
  BASE="$LOCAL"
fi

args=(build --tag "$TAG" --build-arg "PYTHON_IMAGE=$BASE")
if [ "$ENGINE" = podman ]; then
  # docker format keeps HEALTHCHECK; the host's CA store lets downloads through an egress proxy
  args+=(--format docker)
  [ -f "$CA" ] && args+=(--volume "$CA:$CA:ro")
fi
say "building $TAG with $ENGINE on $BASE"
start=$(date +%s)
"$ENGINE" "${args[@]}" .
seconds=$(( $(date +%s) - start ))
size=$("$ENGINE" image inspect --format '{{.Size}}' "$TAG")
say "built $TAG in ${seconds}s; size $(( size / 1000000 )) MB"
