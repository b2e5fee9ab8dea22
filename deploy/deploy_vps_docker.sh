#!/usr/bin/env bash
# Deploy lakectl on a VPS with Docker: the compose stack runs as a systemd service (restarted on
# failure and at boot), and a systemd timer runs 'promote all' hourly (flock: never twice at once).
# Safe to run again (idempotent).
#
#   sudo deploy/deploy_vps_docker.sh [--dry-run] [--root DIR] [--data DIR] [--reports DIR]
#
# --dry-run  change nothing, print every step      --root DIR  install into DIR (tests)
# --data     where the lake lives on the host (default /srv/lakectl/data)
# --reports  where the HTML reports go, for nginx (default /srv/lakectl/reports)
# Backups: daily into /srv/lakectl/backups, the newest 7 kept. Reports site: deploy/nginx_site.sh DOMAIN.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
DATA=/srv/lakectl/data
APP=/opt/lakectl
EXTRA_ARGS=()
REPORTS=/srv/lakectl/reports
BACKUPS=/srv/lakectl/backups
usage() { sed -n '2,12p' "$0"; }
# shellcheck source=deploy/lib.sh
. "$HERE/lib.sh"
parse_common "$@"
set -- "${EXTRA_ARGS[@]+"${EXTRA_ARGS[@]}"}"
while [ $# -gt 0 ]; do
  case "$1" in
    --data) DATA="${2%/}"; shift ;;
    --reports) REPORTS="${2%/}"; shift ;;
    *) say "unknown option: $1"; usage; exit 2 ;;
  esac
  shift
done

say "== lakectl docker deploy (root: ${ROOT:-/}, data: $DATA)"
if [ -z "$ROOT" ] && [ "$DRY_RUN" != 1 ] && ! docker compose version >/dev/null 2>&1; then
  say "Docker with the compose plugin is needed: https://docs.docker.com/engine/install/debian/"
  exit 1
fi
# The container runs as 10001: it must own the data (Docker would create a missing one as root).
ensure_dir /srv/lakectl root:root 0751  # nginx passes through to reports/, and reads nothing else
for folder in "" /landing_zone /delta_lake; do
  ensure_dir "$DATA$folder" 10001:10001 0750
done
# reports: group www-data with setgid, so nginx reads every report the container writes
ensure_dir "$REPORTS" 10001:www-data 2750
fix_mode "$REPORTS" 2750
fix_owner "$REPORTS" 10001:www-data
ensure_dir "$BACKUPS" 10001:10001 0700
put_file "$APP/bin/lakectl-backup" 0755 < "$HERE/backup.sh"
# the build context: only what the image needs
for item in Dockerfile .dockerignore pyproject.toml uv.lock README.md; do
  put_file "$APP/src/$item" 0644 < "$REPO/$item"
done
while IFS= read -r -d '' file; do
  put_file "$APP/src/${file#"$REPO"/}" 0644 < "$file"
done < <(find "$REPO/src" -type f -name '*.py' -print0 | sort -z)
put_file "$APP/src/src/lakectl/py.typed" 0644 < /dev/null
put_file "$APP/src/deploy/docker-entrypoint.sh" 0755 < "$REPO/deploy/docker-entrypoint.sh"
put_file "$APP/deploy/nginx/lakectl-compose.conf" 0644 < "$REPO/deploy/nginx/lakectl-compose.conf"
# serve's token, made once (compose reads .env beside the compose file)
keep_file "$APP/.env" 0600 < <(printf 'LAKECTL_SERVE__TOKEN=%s\n' "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')")
sed -e "s#^    build: .#    build: $APP/src#" -e "s#- ./data:/data#- $DATA:/data#" -e "s#- ./reports:#- $REPORTS:#" \
  "$REPO/docker-compose.yml" | put_file "$APP/docker-compose.yml" 0644

put_file /etc/systemd/system/lakectl-compose.service 0644 <<UNIT
[Unit]
Description=lakectl (docker compose stack: the landing-zone watcher)
Requires=docker.service
After=docker.service network-online.target
Wants=network-online.target

[Service]
Type=simple
WorkingDirectory=$APP
ExecStartPre=/usr/bin/docker compose -f $APP/docker-compose.yml build --quiet
ExecStart=/usr/bin/docker compose -f $APP/docker-compose.yml up --remove-orphans
ExecStop=/usr/bin/docker compose -f $APP/docker-compose.yml down
Restart=on-failure
RestartSec=10s
TimeoutStartSec=900

[Install]
WantedBy=multi-user.target
UNIT
put_file /etc/systemd/system/lakectl-compose-promote.service 0644 <<UNIT
[Unit]
Description=lakectl promote all and the HTML report (in the compose stack)
Requires=docker.service
After=docker.service lakectl-compose.service

[Service]
Type=oneshot
# flock -n -E 75: if the previous run is still going, this one does nothing and exits 75 (busy)
ExecStart=/usr/bin/flock -n -E 75 /run/lock/lakectl-promote.lock /usr/bin/docker compose -f $APP/docker-compose.yml run --rm lakectl promote all
ExecStartPost=/usr/bin/docker compose -f $APP/docker-compose.yml run --rm lakectl report --format html --out /data/reports/index.html
# 75: another promotion holds the lock (that run does the work); any other failure is a failure
SuccessExitStatus=75
UNIT
# the timers are the native install's: a timer starts the service of its own name
put_file /etc/systemd/system/lakectl-compose-promote.timer 0644 < "$HERE/systemd/lakectl-promote.timer"
put_file /etc/systemd/system/lakectl-compose-backup.service 0644 <<UNIT
[Unit]
Description=lakectl backup (lake and customer_key salt, verified, 7 kept; in the compose stack)
Requires=docker.service
After=docker.service lakectl-compose.service

[Service]
Type=oneshot
Environment="LAKECTL=/usr/bin/docker compose -f $APP/docker-compose.yml run --rm -v $BACKUPS:/backups lakectl"
Environment=LAKECTL_BACKUP_TARGET=/backups
ExecStart=$APP/bin/lakectl-backup $BACKUPS 7
UNIT
put_file /etc/systemd/system/lakectl-compose-backup.timer 0644 < "$HERE/systemd/lakectl-backup.timer"
if [ "$CHANGED" = 1 ]; then
  system_step systemctl daemon-reload
fi
enable_units lakectl-compose.service lakectl-compose-promote.timer lakectl-compose-backup.timer
say "== done: drop files into $DATA/landing_zone/<cluster>/; reports in $REPORTS/"
