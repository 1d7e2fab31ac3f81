#!/usr/bin/env bash
# The checks of issue 10 ("How it will be checked"), back to back, end to end (process start included):
#  1. fm train --task c --k 8 --epochs 20 --validation-fraction 0 --seed 1 on frappe and on frappe with its ids spread
#     over 4,194,304 ids (scripts/spread_ids.py): wall/CPU time, peak RSS, model bytes (each twice);
#  2. /usr/bin/time fm train --threads 2 --epochs 2 over frappe_te x 100 (2,886,000 rows, 28.86M nonzeros): peak RSS
#     and bytes per nonzero above 300 MB;
#  3. fm train --epochs 1 --threads 2 over frappe_tr x 300 (1.23 GB of text, 173M nonzeros) under
#     DOTNET_GCHeapHardLimit=0x40000000, then fm predict and fm eval on frappe_te (rows it never saw).
# Prints the load average before each run.
#
#   benchmarks/scale/checks.sh [DATA]     (needs ../shared/data/frappe; DATA keeps the big inputs, made when absent,
#                                          default $TMPDIR/fm-scale; FM=path/to/fm runs a build made elsewhere)
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
frappe=../shared/data/frappe
[ -f "$frappe/frappe_tr.libfm" ] || { echo "needs $frappe/frappe_tr.libfm" >&2; exit 1; }
data=${1:-${TMPDIR:-/tmp}/fm-scale}
mkdir -p "$data"
work=$(mktemp -d "${TMPDIR:-/tmp}/fm-scale-run.XXXXXX")
trap 'rm -rf "$work"' EXIT
if [ -z "${FM:-}" ]; then
  dotnet build src/FmCodegen.Cli -c Release -v quiet -nologo > /dev/null
fi
fm=${FM:-$repo/src/FmCodegen.Cli/bin/Release/net10.0/fm}
export FM_PLAIN=1

[ -f "$data/frappe_tr.spread.libfm" ] || python3 scripts/spread_ids.py --ids 5382 --space 4194304 \
  "$frappe/frappe_tr.libfm:$data/frappe_tr.spread.libfm" "$frappe/frappe_te.libfm:$data/frappe_te.spread.libfm"
[ -f "$data/frappe_x100.libfm" ] || for _ in $(seq 100); do cat "$frappe/frappe_te.libfm"; done > "$data/frappe_x100.libfm"
[ -f "$data/frappe_tr_x300.libfm" ] || for _ in $(seq 300); do cat "$frappe/frappe_tr.libfm"; done > "$data/frappe_tr_x300.libfm"

load() { cut -d' ' -f1-3 /proc/loadavg; }
timed() { # name, then the command; prints wall, user+sys CPU and peak RSS
  local name=$1; shift
  local l; l=$(load)
  /usr/bin/time -f "%e %U %S %M" -o "$work/time" "$@" > "$work/$name.log" 2>&1
  read -r wall user sys rss < "$work/time"
  printf '%-22s wall %7.2f s  cpu %7.2f s  peak RSS %6d MB  (load before: %s)\n' "$name" "$wall" "$(echo "$user + $sys" | bc)" $((rss / 1024)) "$l"
}

echo "== 1. frappe against frappe with ids spread over 4M ($(nproc) cores)"
common=(--task c --k 8 --epochs 20 --validation-fraction 0 --seed 1)
for round in 1 2; do
  timed "frappe-$round" "$fm" train --train "$frappe/frappe_tr.libfm" "${common[@]}" --model "$work/frappe.fmb"
  timed "spread-$round" "$fm" train --train "$data/frappe_tr.spread.libfm" "${common[@]}" --model "$work/spread.fmb"
done
echo "model bytes: frappe $(stat -c %s "$work/frappe.fmb"), spread $(stat -c %s "$work/spread.fmb")"

echo "== 2. frappe_te x 100, 2 threads, 2 epochs"
timed "x100" "$fm" train --train "$data/frappe_x100.libfm" --task c --k 8 --threads 2 --epochs 2 --seed 1
read -r _ _ _ rss < "$work/time"
nz=28860000
echo "bytes per nonzero above 300 MB: $(echo "scale=2; ($rss * 1024 - 300 * 1048576) / $nz" | bc)"

echo "== 3. frappe_tr x 300 under a 1 GB heap limit, 1 epoch, 2 threads; then predict and eval on frappe_te"
DOTNET_GCHeapHardLimit=0x40000000 timed "x300-train" "$fm" train --train "$data/frappe_tr_x300.libfm" --task c --epochs 1 --threads 2 --model "$work/x300.fmb"
grep -E "stay on disk|^epoch|^valid|done in" "$work/x300-train.log" | cut -c1-200
DOTNET_GCHeapHardLimit=0x40000000 timed "x300-predict" "$fm" predict --model "$work/x300.fmb" --input "$frappe/frappe_te.libfm" --output "$work/x300.pred" --probability
DOTNET_GCHeapHardLimit=0x40000000 "$fm" eval --model "$work/x300.fmb" --input "$frappe/frappe_te.libfm" | tail -2
