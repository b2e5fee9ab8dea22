#!/usr/bin/env bash
# Install lakectl on a fresh Debian/Ubuntu VPS, without Docker: a system user, its folders, lakectl
# in its own venv, the watch service, an hourly promote timer and a daily backup timer. Safe to run
# again (idempotent). The reports site for nginx: deploy/nginx_site.sh DOMAIN.
#
#   sudo deploy/install.sh [--dry-run] [--root DIR] [--source DIR]
#
# --dry-run  change nothing, print every step      --root DIR  install into DIR (tests, images)
# --source   the lakectl source or wheel to install (default: this repository)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
SOURCE="$(cd "$HERE/.." && pwd)"
EXTRA_ARGS=()
usage() { sed -n '2,9p' "$0"; }
# shellcheck source=deploy/lib.sh
. "$HERE/lib.sh"
parse_common "$@"
set -- "${EXTRA_ARGS[@]+"${EXTRA_ARGS[@]}"}"
while [ $# -gt 0 ]; do
  case "$1" in
    --source) SOURCE="$2"; shift ;;
    *) say "unknown option: $1"; usage; exit 2 ;;
  esac
  shift
done

CLUSTERS=(diabetes emagrecimento rejuvenescimento relacionamento renda_extra)

say "== lakectl install (root: ${ROOT:-/}${DRY_RUN:+, dry run=$DRY_RUN})"
add_user lakectl /srv/lakectl
# /srv/lakectl 0751: nginx (www-data) may pass through to reports/, and list or read nothing else.
# reports/ is group www-data with setgid, so every report (UMask=0027: 0640) is readable by nginx.
ensure_dir /srv/lakectl lakectl:lakectl 0751
fix_mode /srv/lakectl 0751
for folder in landing_zone delta_lake; do
  ensure_dir "/srv/lakectl/$folder" lakectl:lakectl 0750
done
ensure_dir /srv/lakectl/reports lakectl:www-data 2750
fix_mode /srv/lakectl/reports 2750
fix_owner /srv/lakectl/reports lakectl:www-data
for cluster in "${CLUSTERS[@]}"; do
  ensure_dir "/srv/lakectl/landing_zone/$cluster" lakectl:lakectl 0770
done
ensure_dir /etc/lakectl root:lakectl 0750
keep_file /etc/lakectl/lakectl.toml 0640 <<TOML
# lakectl configuration (see the README). Environment variables LAKECTL_* override these keys.
landing_zone = "/srv/lakectl/landing_zone"
lake_root = "/srv/lakectl/delta_lake"
clusters = [$(printf '"%s", ' "${CLUSTERS[@]}" | sed 's/, $//')]

[silver]
# a random salt for customer_key, created once; back it up with the lake
salt_file = "/etc/lakectl/customer.salt"

[watch]
after_ingest = "archive"
TOML
keep_file /etc/lakectl/customer.salt 0640 < <(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
own root:lakectl /etc/lakectl/lakectl.toml /etc/lakectl/customer.salt

if [ ! -x "$ROOT/opt/lakectl/venv/bin/lakectl" ]; then
  system_step python3 -m venv /opt/lakectl/venv
fi
system_step /opt/lakectl/venv/bin/pip install --upgrade "$SOURCE"

# daily backups of the lake and the salt, the newest 7 kept (deploy/backup.sh)
ensure_dir /var/backups/lakectl lakectl:lakectl 0700
put_file /opt/lakectl/bin/lakectl-backup 0755 < "$HERE/backup.sh"

for unit in lakectl-watch.service lakectl-promote.service lakectl-promote.timer \
            lakectl-backup.service lakectl-backup.timer; do
  put_file "/etc/systemd/system/$unit" 0644 < "$HERE/systemd/$unit"
done
if [ "$CHANGED" = 1 ]; then
  system_step systemctl daemon-reload
fi
enable_units lakectl-watch.service lakectl-promote.timer lakectl-backup.timer
say "== done: drop files into /srv/lakectl/landing_zone/<cluster>/; 'systemctl status lakectl-watch'"
