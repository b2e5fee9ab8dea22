# Shared by install.sh and deploy_vps_docker.sh: idempotent steps that respect --dry-run and --root.
#   ROOT    where files go ("" = this machine); with a ROOT, units are enabled inside it
#           (systemctl --root); when ROOT has its own user database (etc/passwd and etc/group),
#           users are created in it (useradd --prefix) and files get its uids and gids; the other
#           system steps (docker, pip) are only printed, so the scripts can be tested in a
#           temporary folder.
#   DRY_RUN 1 = change nothing, print every step.
# shellcheck shell=bash

ROOT="${ROOT:-}"
DRY_RUN="${DRY_RUN:-0}"
CHANGED=0

say() { printf '%s\n' "$*"; }

system_step() {  # system_step CMD...: run it on a real install, print it otherwise
  if [ "$DRY_RUN" = 1 ] || [ -n "$ROOT" ]; then
    say "would run: $*"
  else
    say "run: $*"
    "$@"
  fi
}

root_has_users() { [ -f "$ROOT/etc/passwd" ] && [ -f "$ROOT/etc/group" ]; }

root_id() {  # root_id passwd|group NAME: NAME's number in ROOT's user database (a number stays)
  case "$2" in *[!0-9]*|"") ;; *) say "$2"; return 0 ;; esac
  awk -F: -v name="$2" '$1 == name { print $3; found = 1 } END { exit !found }' "$ROOT/etc/$1" \
    || { say "no $1 entry '$2' in $ROOT/etc/$1" >&2; return 1; }
}

add_user() {  # add_user NAME HOME: a system user with a group of its own and no login shell
  local args=(--system --user-group --home-dir "$2" --shell /usr/sbin/nologin "$1")
  if [ -z "$ROOT" ]; then
    getent passwd "$1" >/dev/null 2>&1 || system_step useradd "${args[@]}"
    return 0
  fi
  grep -q "^$1:" "$ROOT/etc/passwd" 2>/dev/null && return 0
  if [ "$DRY_RUN" = 1 ] || ! root_has_users; then say "would run: useradd ${args[*]}"; return 0; fi
  say "run: useradd --prefix $ROOT ${args[*]}"
  useradd --prefix "$ROOT" "${args[@]}"
}

own() {  # own [-R] USER:GROUP PATH...: chown here; inside ROOT, with the ids of ROOT's own users
  local flags=() owner uid gid path
  if [ "$1" = -R ]; then flags=(-R); shift; fi
  owner="$1"; shift
  if [ -z "$ROOT" ]; then system_step chown "${flags[@]}" "$owner" "$@"; return 0; fi
  if [ "$DRY_RUN" = 1 ] || ! root_has_users; then say "would run: chown ${flags[*]}${flags[*]:+ }$owner $*"; return 0; fi
  uid="$(root_id passwd "${owner%%:*}")" && gid="$(root_id group "${owner#*:}")" || return 1
  say "run: chown ${flags[*]}${flags[*]:+ }$owner $* (as $uid:$gid)"
  for path in "$@"; do chown "${flags[@]}" "$uid:$gid" "$ROOT$path"; done
}

enable_units() {  # enable_units UNIT...: enable and start them here; inside ROOT, really enable them there
  if [ -z "$ROOT" ]; then system_step systemctl enable --now "$@"; return 0; fi
  if [ "$DRY_RUN" = 1 ] || ! command -v systemctl >/dev/null 2>&1; then
    say "would run: systemctl --root=$ROOT enable $*"
    return 0
  fi
  say "run: systemctl --root=$ROOT enable $*"
  systemctl --root="$ROOT" --quiet enable "$@" 2>/dev/null  # offline: the WantedBy= symlinks in ROOT
}

ensure_dir() {  # ensure_dir PATH [OWNER] [MODE]
  local path="$ROOT$1" owner="${2:-}" mode="${3:-0755}"
  if [ -d "$path" ]; then return 0; fi
  if [ "$DRY_RUN" = 1 ]; then say "would create: $1"; return 0; fi
  install -d -m "$mode" "$path"
  say "created: $1"
  CHANGED=1
  if [ -n "$owner" ]; then own "$owner" "$1"; fi
}

fix_mode() {  # fix_mode PATH MODE: an existing folder made with an older mode gets MODE (upgrades)
  local path="$ROOT$1" mode="$2"
  [ -d "$path" ] || return 0
  [ "$(stat -c %a "$path")" = "${mode#0}" ] && return 0
  if [ "$DRY_RUN" = 1 ]; then say "would chmod $mode: $1"; return 0; fi
  chmod "$mode" "$path"
  say "chmod $mode: $1"
}

fix_owner() {  # fix_owner PATH OWNER: an existing folder (and what is in it) gets OWNER (upgrades)
  [ -d "$ROOT$1" ] || return 0
  if [ -z "$ROOT" ]; then
    [ "$(stat -c %U:%G "$1")" = "$2" ] && return 0
  else
    root_has_users || return 0  # no users inside ROOT: nothing to compare with
    [ "$(stat -c %u:%g "$ROOT$1")" = "$(root_id passwd "${2%%:*}"):$(root_id group "${2#*:}")" ] && return 0
  fi
  own -R "$2" "$1"
}

put_file() {  # put_file TARGET MODE < content: write only when the content differs
  local target="$ROOT$1" mode="$2" tmp
  tmp="$(mktemp)"
  cat > "$tmp"
  if [ -f "$target" ] && cmp -s "$tmp" "$target"; then
    rm -f "$tmp"
    say "unchanged: $1"
    return 0
  fi
  if [ "$DRY_RUN" = 1 ]; then
    rm -f "$tmp"
    say "would write: $1"
    return 0
  fi
  install -d "$(dirname "$target")"
  install -m "$mode" "$tmp" "$target"
  rm -f "$tmp"
  say "wrote: $1"
  CHANGED=1
}

keep_file() {  # keep_file TARGET MODE < content: write once, never overwrite (configuration, secrets)
  if [ -e "$ROOT$1" ]; then say "kept: $1"; cat > /dev/null; return 0; fi
  put_file "$1" "$2"
}

parse_common() {  # parse_common "$@": --dry-run, --root DIR, --help
  while [ $# -gt 0 ]; do
    case "$1" in
      --dry-run) DRY_RUN=1 ;;
      --root) ROOT="${2%/}"; shift ;;
      --help|-h) usage; exit 0 ;;
      *) EXTRA_ARGS+=("$1") ;;
    esac
    shift
  done
}
