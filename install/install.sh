#!/usr/bin/env bash
# Installs the homeshore agent: a virtual environment under the prefix, the `homeshore` command, the systemd
# unit and, when absent, the sample configuration. Idempotent: running it again upgrades the code in place and
# never touches an existing /etc/homeshore/agent.toml. It does not start the service.
#
#   install.sh [--prefix DIR] [--destdir DIR] [--source DIR] [--python PY] [--pip-args "ARGS"]
#
# --destdir stages the install under DIR (as make's DESTDIR): nothing outside it is changed, no user is created
# and systemctl is not run.
set -euo pipefail

prefix=/opt/homeshore
destdir=""
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source_dir="$(dirname "$here")"
python=python3
pip_args=""

. "$here/common.sh"

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; prefix="$2"; shift 2 ;;
    --destdir) [ $# -ge 2 ] || die "--destdir needs a directory"; destdir="$2"; shift 2 ;;
    --source) [ $# -ge 2 ] || die "--source needs a directory"; source_dir="$2"; shift 2 ;;
    --python) [ $# -ge 2 ] || die "--python needs an interpreter"; python="$2"; shift 2 ;;
    --pip-args) [ $# -ge 2 ] || die "--pip-args needs a value"; pip_args="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

prefix="$(normalised_prefix "$prefix")"
[ -f "$source_dir/pyproject.toml" ] || die "$source_dir is not a homeshore source tree (no pyproject.toml)"
[ -f "$here/homeshore-agent.service" ] || die "$here/homeshore-agent.service is missing"
if [ -n "$destdir" ]; then
  mkdir -p "$destdir"
  destdir="$(cd "$destdir" && pwd)"
elif [ "$(id -u)" -ne 0 ]; then
  die "a system install needs root (or stage one with --destdir DIR)"
fi

root="$destdir$prefix"
venv="$root/venv"
unit="$destdir/etc/systemd/system/homeshore-agent.service"
config="$destdir/etc/homeshore/agent.toml"

if [ -x "$venv/bin/python" ]; then
  echo "keeping the virtual environment $venv"
else
  command -v "$python" >/dev/null 2>&1 || die "no Python interpreter $python"
  "$python" -m venv "$venv"
  echo "created the virtual environment $venv"
fi

# Word splitting of --pip-args is wanted: it carries several pip options.
# shellcheck disable=SC2086
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade $pip_args "$source_dir"
echo "installed homeshore $("$venv/bin/python" -c 'import homeshore; print(homeshore.__version__)') from $source_dir"
# Compiled by mypyc where a C compiler is present; pip shows the build's own warning only with -v, so say which.
"$venv/bin/python" "$here/engine.py"

mkdir -p "$root/bin"
# Relative, so that it also resolves inside a --destdir staging tree.
ln -sfn ../venv/bin/homeshore "$root/bin/homeshore"
echo "linked $root/bin/homeshore"

mkdir -p "$(dirname "$unit")"
sed "s|@PREFIX@|$prefix|g" "$here/homeshore-agent.service" > "$unit.new"
chmod 0644 "$unit.new"
mv -f "$unit.new" "$unit"
echo "wrote $unit"

if [ -e "$config" ]; then
  echo "kept the existing $config"
else
  mkdir -p "$(dirname "$config")"
  # The configuration holds no secret (those are in 0600 files of their own), so everyone may read it.
  install -m 0644 "$here/agent.toml" "$config"
  echo "installed the sample configuration $config"
fi

if [ -z "$destdir" ]; then
  if id homeshore >/dev/null 2>&1; then
    echo "kept the existing user homeshore"
  elif command -v useradd >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin --user-group homeshore
    echo "created the system user homeshore"
  else
    adduser --system --no-create-home --home /nonexistent --shell /usr/sbin/nologin --group homeshore
    echo "created the system user homeshore"
  fi
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    echo "reloaded systemd"
  fi
fi

cat <<NEXT
next:
  1. edit $config (collector.url, agent.postcode; secrets go in 0600 files owned by homeshore)
  2. systemctl enable --now homeshore-agent
  3. journalctl -u homeshore-agent -f
NEXT
