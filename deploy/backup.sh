#!/usr/bin/env bash
# The daily backup (lakectl-backup.timer): a full snapshot of the lake and the customer_key salt in
# BACKUPS/<UTC time>, verified, then only the newest KEEP backups are kept. A failed run leaves the
# older backups as they were (its own folder stays *.partial until the next run removes it).
#
#   backup.sh BACKUPS [KEEP]     (KEEP default 7)
#
# LAKECTL                how to run lakectl (default: lakectl), e.g. "docker compose ... run --rm lakectl"
# LAKECTL_BACKUP_TARGET  BACKUPS as lakectl sees it, when it runs in a container (default: BACKUPS)
set -euo pipefail
[ $# -ge 1 ] && [ $# -le 2 ] || { sed -n '2,9p' "$0"; exit 2; }
backups="${1%/}" keep="${2:-7}"
case "$keep" in ''|*[!0-9]*|0) echo "backup.sh: KEEP must be a whole number above 0, not '$keep'" >&2; exit 2 ;; esac
read -ra lakectl <<< "${LAKECTL:-lakectl}"
target="${LAKECTL_BACKUP_TARGET:-$backups}"
stamp="$(date -u +%Y%m%dT%H%M%S.%NZ)"  # sorts by time; two runs never share one

rm -rf -- "$backups"/*.partial
"${lakectl[@]}" backup "$target/$stamp.partial"
"${lakectl[@]}" backup verify "$target/$stamp.partial" > /dev/null
mv -T -- "$backups/$stamp.partial" "$backups/$stamp"
echo "backup.sh: $backups/$stamp verified"
# names sort by time: everything before the newest KEEP goes
find "$backups" -mindepth 1 -maxdepth 1 -type d -name '2*Z' | sort | head -n -"$keep" | while read -r old; do
  rm -rf -- "$old"
  echo "backup.sh: removed $old (keeping $keep)"
done
