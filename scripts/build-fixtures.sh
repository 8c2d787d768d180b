#!/usr/bin/env bash
# Builds the Go fixture programs for every Go release and build variant.
#   build-fixtures.sh OUTDIR [PROGRAM...]
# Writes OUTDIR/<goX.Y>/<arch>-<variant>/<program> and OUTDIR/manifest.tsv:
#   minor  version  arch  variant  program  path
# Variants: default, stripped (-s -w), pie, cgo (external linking) on amd64;
# default, stripped, pie on arm64 (cross-compiled; analysed statically).
# Rebuilds only what is older than its sources. GOTRACE_GO_VERSIONS limits versions.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$here/../tests/fixtures/go
out=${1:?usage: build-fixtures.sh OUTDIR [PROGRAM...]}
shift
mkdir -p "$out"
out=$(cd "$out" && pwd)
programs=("$@")
if ((${#programs[@]} == 0)); then
  for d in "$src"/*/; do [[ -f $d/main.go ]] && programs+=("$(basename "$d")"); done
fi

variants_amd64=(default stripped pie cgo)
variants_arm64=(default stripped pie)
newest_src=$(find "$src" -name '*.go' -o -name go.mod | xargs stat -c %Y | sort -n | tail -1)
manifest=$out/manifest.tsv.tmp
: >"$manifest"

build_one() {  # minor gocmd arch variant program
  local minor=$1 gocmd=$2 arch=$3 variant=$4 prog=$5
  local dir=$out/go$minor/$arch-$variant
  local bin=$dir/$prog
  mkdir -p "$dir"
  local flags=() env=(GOOS=linux GOARCH=$arch CGO_ENABLED=0 GOFLAGS=)
  case $variant in
    stripped) flags+=(-ldflags=-s\ -w) ;;
    pie) flags+=(-buildmode=pie) ;;
    cgo) env=(GOOS=linux GOARCH=$arch CGO_ENABLED=1 GOFLAGS=); flags+=(-ldflags=-linkmode=external) ;;
  esac
  if [[ ! -x $bin || $(stat -c %Y "$bin") -lt $newest_src ]]; then
    (cd "$src" && env "${env[@]}" $gocmd build "${flags[@]}" -o "$bin" "./$prog") \
      || { echo "build-fixtures: go$minor $arch-$variant $prog failed" >&2; return 1; }
  fi
  local ver
  ver=$(cd / && $gocmd version "$bin" | awk '{print $2}')
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$minor" "$ver" "$arch" "$variant" "$prog" "$bin" >>"$manifest"
}

while IFS=$'\t' read -r minor gocmd; do
  echo "build-fixtures: go$minor" >&2
  for prog in "${programs[@]}"; do
    for v in "${variants_amd64[@]}"; do build_one "$minor" "$gocmd" amd64 "$v" "$prog"; done
    for v in "${variants_arm64[@]}"; do build_one "$minor" "$gocmd" arm64 "$v" "$prog"; done
  done
done < <("$here/go-toolchains.sh" list)
mv "$manifest" "$out/manifest.tsv"
echo "build-fixtures: $(wc -l <"$out/manifest.tsv") binaries in $out" >&2
