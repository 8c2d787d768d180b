#!/usr/bin/env bash
# Builds the Go fixture programs for every Go release and build variant.
#   build-fixtures.sh OUTDIR [PROGRAM...]   (PROGRAMs: rebuild those, keep the rest listed)
# Writes OUTDIR/<goX.Y>/<arch>-<variant>/<program> and OUTDIR/manifest.tsv:
#   minor  version  arch  variant  program  path
# Variants: default, stripped (-s -w), pie, cgo (external linking) on amd64;
# default, stripped, pie on arm64 (cross-compiled; analysed statically).
# Rebuilds only what is older than its sources, GOTRACE_FIXTURE_JOBS at a time
# (default: the number of CPUs). GOTRACE_GO_VERSIONS limits versions.
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
lines=$(mktemp -d)
trap 'rm -rf "$lines"' EXIT
jobs_max=${GOTRACE_FIXTURE_JOBS:-$(nproc)}

build_one() {  # seq minor gocmd arch variant program
  local seq=$1 minor=$2 gocmd=$3 arch=$4 variant=$5 prog=$6
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
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$minor" "$ver" "$arch" "$variant" "$prog" "$bin" \
    >"$lines/$seq"
}

# Runs build_one in the background, at most jobs_max at once; a failed
# build fails the script when its turn to be waited for comes.
pids=()
failed=0
seq=0
spawn() {
  seq=$((seq + 1))
  build_one "$(printf %05d $seq)" "$@" &
  pids+=($!)
  if ((${#pids[@]} >= jobs_max)); then
    wait "${pids[0]}" || failed=1
    pids=("${pids[@]:1}")
  fi
}

while IFS=$'\t' read -r minor gocmd; do
  echo "build-fixtures: go$minor" >&2
  for prog in "${programs[@]}"; do
    for v in "${variants_amd64[@]}"; do spawn "$minor" "$gocmd" amd64 "$v" "$prog"; done
    for v in "${variants_arm64[@]}"; do spawn "$minor" "$gocmd" arm64 "$v" "$prog"; done
  done
done < <("$here/go-toolchains.sh" list)
for p in "${pids[@]}"; do wait "$p" || failed=1; done
((failed == 0)) || { echo "build-fixtures: some builds failed (see above)" >&2; exit 1; }
# One line per binary, in the order they were listed (version, program, arch, variant).
# When only some programs were built, the manifest keeps the others' lines.
: >"$manifest"
if (($# > 0)) && [[ -f $out/manifest.tsv ]]; then
  awk -F'\t' -v built=" ${programs[*]} " 'index(built, " " $5 " ") == 0' "$out/manifest.tsv" >"$manifest"
fi
cat "$lines"/* >>"$manifest"
mv "$manifest" "$out/manifest.tsv"
echo "build-fixtures: $(wc -l <"$out/manifest.tsv") binaries in $out" >&2
