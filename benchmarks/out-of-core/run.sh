#!/usr/bin/env bash
# Out-of-core training against in-memory training, end to end (process start included), on frappe's training rows
# repeated N times (default 100: 5.8M rows, 57.7M nonzeros, 410 MB of text). Each mode runs twice; the out-of-core
# runs reuse a kept cache (--cache, built by a first, untimed run), so its file sits in the page cache as it
# would on a machine with the memory for it. Prints wall time, peak RSS and the epoch times the tool reports.
#
#   benchmarks/out-of-core/run.sh [N] [EPOCHS] [THREADS]      (needs ../shared/data/frappe; writes under $TMPDIR)
set -euo pipefail
cd "$(dirname "$0")/../.."
copies=${1:-100}
epochs=${2:-3}
threads=${3:-2}
source_file=../shared/data/frappe/frappe_tr.libfm
[ -f "$source_file" ] || { echo "needs $source_file" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/fm-ooc-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
data=$work/frappe_x${copies}.libfm
for _ in $(seq "$copies"); do cat "$source_file"; done > "$data"
if [ -z "${FM:-}" ]; then   # FM=path/to/fm runs a build made elsewhere
  dotnet build src/FmCodegen.Cli -c Release -v quiet -nologo > /dev/null
fi
fm=${FM:-src/FmCodegen.Cli/bin/Release/net10.0/fm}
common=(--train "$data" --task c --k 8 --epochs "$epochs" --threads "$threads" --seed 1 --validation-fraction 0)
echo "data: $(du -h "$data" | cut -f1) of text, $(wc -l < "$data") rows; $epochs epochs, $threads threads; $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"

"$fm" train "${common[@]}" --model "$work/warm.fmb" --cache "$work/rows.cache" > /dev/null   # builds the kept cache

run() {
  local name=$1; shift
  local log=$work/$name.log
  /usr/bin/time -f "%e %M" -o "$work/time" "$fm" train "${common[@]}" "$@" > "$log"
  read -r wall rss < "$work/time"
  local epoch_seconds
  epoch_seconds=$(grep -oE '\| [0-9.]+ s \|' "$log" | tr -d '|s ' | paste -sd+ | bc)
  printf '%-12s wall %6.2f s  epochs %6.2f s  peak RSS %5d MB\n' "$name" "$wall" "$epoch_seconds" $((rss / 1024))
}

for round in 1 2; do
  run "memory-$round" --model "$work/memory.fmb"
  run "disk-$round" --model "$work/disk.fmb" --cache "$work/rows.cache"
done

cmp -s "$work/memory.fmb" "$work/disk.fmb" && echo "models: the same bytes" || echo "models: DIFFERENT"
