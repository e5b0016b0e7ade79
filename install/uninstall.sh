#!/usr/bin/env bash
# Removes the homeshore agent installed by install.sh: stops and disables the service, removes the unit and the
# prefix. The configuration (/etc/homeshore) and the state (/var/lib/homeshore: the spool of unsent samples
# and the agent id) are kept unless --purge is given. Idempotent: a second run has nothing to do and succeeds.
#
#   uninstall.sh [--prefix DIR] [--destdir DIR] [--purge]
#
# --destdir acts on a staged install under DIR: nothing outside it is changed and systemctl is not run.
# The system user homeshore is kept (files it owned elsewhere would otherwise be left to a reused uid).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

prefix=/opt/homeshore
destdir=""
purge=no

. "$here/common.sh"

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; prefix="$2"; shift 2 ;;
    --destdir) [ $# -ge 2 ] || die "--destdir needs a directory"; destdir="$2"; shift 2 ;;
    --purge) purge=yes; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

prefix="$(normalised_prefix "$prefix")"
if [ -n "$destdir" ]; then
  [ -d "$destdir" ] || { echo "nothing installed under $destdir"; exit 0; }
  destdir="$(cd "$destdir" && pwd)"
elif [ "$(id -u)" -ne 0 ]; then
  die "a system uninstall needs root (or act on a staged one with --destdir DIR)"
fi

root="$destdir$prefix"
unit="$destdir/etc/systemd/system/homeshore-agent.service"
config_dir="$destdir/etc/homeshore"
state_dir="$destdir/var/lib/homeshore"
changed=no

if [ -z "$destdir" ] && [ -d /run/systemd/system ] && [ -e "$unit" ]; then
  systemctl disable --now homeshore-agent.service >/dev/null 2>&1 || true
  echo "stopped and disabled homeshore-agent"
  changed=yes
fi

if [ -e "$unit" ]; then
  rm -f "$unit"
  echo "removed $unit"
  changed=yes
  if [ -z "$destdir" ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    echo "reloaded systemd"
  fi
fi

# Only a directory install.sh made is removed, so a mistyped --prefix cannot delete something else.
if [ -d "$root" ]; then
  if [ -e "$root/venv/bin/homeshore" ] || [ -L "$root/bin/homeshore" ]; then
    rm -rf "$root"
    echo "removed $root"
    changed=yes
  else
    die "$root does not look like a homeshore install (no venv/bin/homeshore): left alone"
  fi
fi

if [ "$purge" = yes ]; then
  for directory in "$config_dir" "$state_dir"; do
    if [ -e "$directory" ]; then
      rm -rf "$directory"
      echo "removed $directory"
      changed=yes
    fi
  done
else
  [ -e "$config_dir" ] && echo "kept $config_dir (--purge removes it)"
  [ -e "$state_dir" ] && echo "kept $state_dir (--purge removes it)"
fi

[ "$changed" = yes ] || echo "nothing to remove"
exit 0
