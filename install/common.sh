# Sourced by install.sh and uninstall.sh: --help from the calling script's header, one-line errors (exit 2),
# and the rule both apply to --prefix.

usage() {
  sed -n '2,9s/^# \{0,1\}//p' "$0"
}

die() {
  echo "$(basename "$0"): $*" >&2
  exit 2
}

# normalised_prefix DIR: DIR without its trailing slash; it must be absolute and not / itself.
normalised_prefix() {
  case "$1" in
    /*) ;;
    *) die "--prefix must be an absolute path, not $1" ;;
  esac
  local trimmed="${1%/}"
  [ -n "$trimmed" ] || die "--prefix must not be /"
  printf '%s\n' "$trimmed"
}
