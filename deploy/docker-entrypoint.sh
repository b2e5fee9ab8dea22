#!/bin/sh
# The image's entrypoint (under tini): lakectl with its arguments, after one check a plain
# 'docker compose up -d' gets wrong. Docker creates a missing bind-mounted ./data as root, and the
# container's user (10001) then cannot write it: say exactly what to run instead of failing later.
data="${LAKECTL_DATA:-/data}"
case "${1:-}" in
  --version|--help|-h|health) ;;
  *)
    if [ -d "$data" ] && ! [ -w "$data" ]; then
      echo "lakectl: $data is not writable by uid $(id -u) (it belongs to uid $(stat -c %u "$data"))." >&2
      echo "  on the host, give the data folder to uid $(id -u), e.g.: sudo chown -R $(id -u):$(id -g) ./data" >&2
      echo "  (or create it first: sudo install -d -o $(id -u) -g $(id -g) ./data), then start again" >&2
      exit 77
    fi
    ;;
esac
exec lakectl "$@"
