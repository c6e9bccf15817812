#!/usr/bin/env bash
# Measures the mock homeserver from outside its process, as a user would:
# builds cmd/mockserver and bench/outside, installs Debian's wrk when it is
# missing (apt-get, as root or with sudo), and runs bench/outside, which
# starts the mock and the two yardsticks (ceiling, baseline) as processes of
# their own on 127.0.0.1 and drives each with wrk. Every flag is passed on
# (see `go doc ./bench/outside`); the Markdown report goes to standard
# output, progress to standard error.
#
#   bench/outside.sh                      # the whole table, about 11 minutes
#   bench/outside.sh -o /tmp/table.md     # also keep the report in a file
#
# Exit codes: those of bench/outside (0 every run clean, 1 a run had errors
# or a server failed, 2 bad flags), and 3 when wrk is missing and cannot be
# installed.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null; then
  sudo=""
  if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then sudo="sudo -n"; fi
  if command -v apt-get >/dev/null && { [ "$(id -u)" = 0 ] || [ -n "$sudo" ]; }; then
    echo "bench/outside.sh: installing wrk with apt-get" >&2
    $sudo apt-get update -qq >&2 && $sudo apt-get install -y -qq wrk >&2 || true
  fi
  if ! command -v wrk >/dev/null; then
    echo "bench/outside.sh: wrk is missing and could not be installed (Debian: apt-get install wrk)" >&2
    exit 3
  fi
fi

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/mockserver" ./cmd/mockserver
go build -o "$bin/outside" ./bench/outside
"$bin/outside" -mockserver "$bin/mockserver" "$@"
