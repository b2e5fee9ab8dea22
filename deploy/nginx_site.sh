#!/usr/bin/env bash
# The nginx site for the reports, with TLS that works on the first start: a self-signed certificate
# until certbot has one for DOMAIN, then certbot's (run this again from certbot's --deploy-hook).
# Safe to run again (idempotent). Needs nginx and openssl.
#
#   sudo deploy/nginx_site.sh DOMAIN [--dry-run] [--root DIR]
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
EXTRA_ARGS=()
usage() { sed -n '2,6p' "$0"; }
# shellcheck source=deploy/lib.sh
. "$HERE/lib.sh"
parse_common "$@"
[ "${#EXTRA_ARGS[@]}" = 1 ] || { usage; exit 2; }
DOMAIN="${EXTRA_ARGS[0]}"
case "$DOMAIN" in *[!A-Za-z0-9.-]*|"") say "not a domain name: $DOMAIN"; exit 2 ;; esac
TLS=/etc/lakectl/tls
LIVE=/etc/letsencrypt/live/$DOMAIN

say "== lakectl nginx site for $DOMAIN (root: ${ROOT:-/})"
ensure_dir /etc/lakectl root:root 0755
ensure_dir "$TLS" root:root 0750
ensure_dir /var/www/letsencrypt root:root 0755
if [ -f "$ROOT$LIVE/fullchain.pem" ]; then
  cert="../../letsencrypt/live/$DOMAIN/fullchain.pem" key="../../letsencrypt/live/$DOMAIN/privkey.pem"
else
  cert=selfsigned.pem key=selfsigned.key
  if [ ! -f "$ROOT$TLS/$cert" ]; then
    if [ "$DRY_RUN" = 1 ]; then
      say "would create: $TLS/$cert (self-signed for $DOMAIN)"
    else
      openssl req -x509 -newkey rsa:2048 -nodes -days 90 -subj "/CN=$DOMAIN" \
        -addext "subjectAltName=DNS:$DOMAIN" -keyout "$ROOT$TLS/$key" -out "$ROOT$TLS/$cert" 2>/dev/null
      chmod 0600 "$ROOT$TLS/$key"
      say "created: $TLS/$cert (self-signed for $DOMAIN, until certbot has a certificate)"
    fi
  fi
fi
for pair in "fullchain.pem:$cert" "privkey.pem:$key"; do
  link="$TLS/${pair%%:*}" target="${pair#*:}"
  [ "$(readlink "$ROOT$link" 2>/dev/null)" = "$target" ] && continue
  if [ "$DRY_RUN" = 1 ]; then say "would link: $link -> $target"; continue; fi
  ln -sfn "$target" "$ROOT$link"  # relative: the same with and without --root
  say "linked: $link -> $target"
done
sed "s/reports\.example\.com/$DOMAIN/g" "$HERE/nginx/lakectl-reports.conf" \
  | put_file /etc/nginx/sites-available/lakectl-reports.conf 0644
if [ ! -L "$ROOT/etc/nginx/sites-enabled/lakectl-reports.conf" ]; then
  if [ "$DRY_RUN" = 1 ]; then
    say "would link: /etc/nginx/sites-enabled/lakectl-reports.conf"
  else
    install -d "$ROOT/etc/nginx/sites-enabled"
    ln -s ../sites-available/lakectl-reports.conf "$ROOT/etc/nginx/sites-enabled/lakectl-reports.conf"
    say "linked: /etc/nginx/sites-enabled/lakectl-reports.conf"
  fi
fi
[ -e "$ROOT/etc/nginx/lakectl.htpasswd" ] || say "next: htpasswd -c /etc/nginx/lakectl.htpasswd owner"
system_step nginx -t
system_step systemctl reload nginx
say "== done: https://$DOMAIN/ (self-signed until: certbot certonly --webroot -w /var/www/letsencrypt -d $DOMAIN)"
