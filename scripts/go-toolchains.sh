#!/usr/bin/env bash
# The Go releases gotrace is tested against, and how to reach each one.
#   go-toolchains.sh list            one "version<TAB>go-command" line per release
#   go-toolchains.sh fetch           download the missing ones (module proxy / Debian)
#   go-toolchains.sh gobin VERSION   print a command that runs that release's `go`
# Set GOTRACE_GO_VERSIONS="1.22 1.26" to test a subset.
set -euo pipefail

# Newest patch release of each minor version we support. 1.19 comes from
# Debian (golang-1.19-go); the others through GOTOOLCHAIN and the module proxy.
ALL_VERSIONS=(1.19 1.20 1.21 1.22 1.23 1.24 1.25 1.26 1.27)
declare -A PATCH=(
  [1.20]=go1.20.14 [1.21]=go1.21.13 [1.22]=go1.22.12 [1.23]=go1.23.12
  [1.24]=go1.24.13 [1.25]=go1.25.14 [1.26]=go1.26.11 [1.27]=go1.27.3
)
read -r -a VERSIONS <<<"${GOTRACE_GO_VERSIONS:-${ALL_VERSIONS[*]}}"

gobin() {
  local v=$1
  if [[ $v == 1.19 ]]; then
    echo /usr/lib/go-1.19/bin/go
  else
    # A wrapper that pins the toolchain; `go` on PATH (1.21+) switches to it.
    echo "env GOTOOLCHAIN=${PATCH[$v]} GOFLAGS=-mod=mod $(command -v go)"
  fi
}

case "${1:-list}" in
  list)
    for v in "${VERSIONS[@]}"; do printf '%s\t%s\n' "$v" "$(gobin "$v")"; done ;;
  gobin)
    gobin "$2" ;;
  fetch)
    for v in "${VERSIONS[@]}"; do
      cmd=$(gobin "$v")
      if [[ $v == 1.19 && ! -x /usr/lib/go-1.19/bin/go ]]; then
        echo "go-toolchains: /usr/lib/go-1.19/bin/go missing (apt-get install golang-1.19-go)" >&2; exit 1
      fi
      got=$(cd / && $cmd env GOVERSION 2>/dev/null || true)
      if [[ $got != go$v* ]]; then
        echo "go-toolchains: fetching go$v ..." >&2
        got=$(cd / && $cmd env GOVERSION)
      fi
      [[ $got == go$v* ]] || { echo "go-toolchains: wanted go$v, got '$got'" >&2; exit 1; }
    done ;;
  *) echo "usage: $0 list|fetch|gobin VERSION" >&2; exit 2 ;;
esac
