#!/usr/bin/env bash
# Times `fm` against libffm on FFM training and prediction, in one run, process start and parsing included:
# frappe_te.ffm repeated 20 times (577,200 rows, libffm format), k = 4, one thread.
#   train:   ffm-train -k 4 -t 10 -r 0.2 -l 0.00002 -s 1   vs  fm train --model-type ffm --epochs 10 --threads 1
#            (--validation-fraction 0: every row trained on, as libffm without -p), and the same fm command with its
#            default split as its own row, "fm train (default 10% held out)": 90% of the rows trained on, 10% scored
#            after every epoch for early stopping (patience 2; no refit, since --epochs is given)
#   predict: ffm-predict (libffm's model)                   vs  fm predict --model-format libffm --probability
# ffm-train converts the text into a binary cache (x20.ffm.bin) and trains from it; the cache is removed before
# each timed run so both tools parse the text. Each command runs RUNS times (default 3), alternating the tools; the script prints every run's wall and
# user+sys CPU seconds, the best of each, and the ratios libffm / fm of the best wall and the best CPU times.
#   benchmarks/ffm-compare/run.sh [FM] [LIBFFM_DIR] [DATA]
# FM defaults to the Release build of src/FmCodegen.Cli (pass an AOT publish to time that); LIBFFM_DIR to
# /work/peers/libffm; DATA to ../shared/data. RUNS=5 for more runs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
fm=${1:-$root/src/FmCodegen.Cli/bin/Release/net10.0/fm}
libffm=${2:-/work/peers/libffm}
data=${3:-$root/../shared/data}
runs=${RUNS:-3}
[ -x "$fm" ] || { echo "no fm at $fm (dotnet build src/FmCodegen.Cli -c Release)"; exit 1; }
[ -x "$libffm/ffm-train" ] && [ -x "$libffm/ffm-predict" ] || { echo "no ffm-train/ffm-predict in $libffm"; exit 1; }
[ -f "$data/frappe/frappe_te.ffm" ] || { echo "no $data/frappe/frappe_te.ffm (the shared data folder is missing)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"   # ffm-train writes its binary cache of the data (x20.ffm.bin) into the working directory
for _ in $(seq 20); do cat "$data/frappe/frappe_te.ffm"; done > "$work/x20.ffm"
echo "data: $(wc -l < "$work/x20.ffm") rows, $(du -m "$work/x20.ffm" | cut -f1) MB; fm: $fm"

declare -A best_wall best_cpu
time_it() { # name command... ; records the best wall and user+sys seconds of the name
  local name=$1; shift
  local t0 t1 wall cpu
  t0=$(date +%s.%N)
  /usr/bin/time -f "%U %S" -o "$work/cpu" "$@" > "$work/log" 2>&1 || { cat "$work/log"; exit 1; }
  t1=$(date +%s.%N)
  wall=$(echo "$t1 - $t0" | bc)
  cpu=$(awk '{print $1 + $2}' "$work/cpu")
  printf '%-14s wall %6.2f s  user+sys %6.2f s  (load %s)\n' "$name" "$wall" "$cpu" "$(cut -d' ' -f1 /proc/loadavg)"
  if [ -z "${best_wall[$name]:-}" ] || (( $(echo "$wall < ${best_wall[$name]}" | bc) )); then best_wall[$name]=$wall; fi
  if [ -z "${best_cpu[$name]:-}" ] || (( $(echo "$cpu < ${best_cpu[$name]}" | bc) )); then best_cpu[$name]=$cpu; fi
}

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
# libffm's model of the same data, for both predictions
"$libffm/ffm-train" -k 4 -t 10 -r 0.2 -l 0.00002 -s 1 "$work/x20.ffm" "$work/libffm.model" > /dev/null
for _ in $(seq "$runs"); do
  rm -f "$work/x20.ffm.bin"   # libffm would reuse its converted copy of the text: parse it every run, as fm does
  time_it "libffm train" "$libffm/ffm-train" -k 4 -t 10 -r 0.2 -l 0.00002 -s 1 "$work/x20.ffm" "$work/l.model"
  time_it "fm train" "$fm" train --model-type ffm --input-format libffm --train "$work/x20.ffm" --task c --k 4 --seed 1 \
    --epochs 10 --validation-fraction 0 --threads 1 --model "$work/f.ffmb"
  time_it "fm train (default 10% held out)" "$fm" train --model-type ffm --input-format libffm --train "$work/x20.ffm" --task c --k 4 \
    --seed 1 --epochs 10 --threads 1 --model "$work/d.ffmb"
  time_it "libffm predict" "$libffm/ffm-predict" "$work/x20.ffm" "$work/libffm.model" "$work/l.pred"
  time_it "fm predict" "$fm" predict --model "$work/libffm.model" --model-format libffm --input "$work/x20.ffm" \
    --input-format libffm --probability --threads 1 -o "$work/f.pred"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$work/l.pred" "$work/f.pred" <<'PY'
import sys
a = [float(l) for l in open(sys.argv[1])]; b = [float(l) for l in open(sys.argv[2])]
print("predictions of libffm's model: %d rows, largest |fm - libffm| = %.2g" % (len(a), max(abs(x - y) for x, y in zip(a, b))))
PY
for what in train predict; do
  printf '%-8s best wall: libffm %.2f s, fm %.2f s, ratio %.2fx;  best user+sys: libffm %.2f s, fm %.2f s, ratio %.2fx\n' "$what" \
    "${best_wall[libffm $what]}" "${best_wall[fm $what]}" "$(echo "${best_wall[libffm $what]} / ${best_wall[fm $what]}" | bc -l)" \
    "${best_cpu[libffm $what]}" "${best_cpu[fm $what]}" "$(echo "${best_cpu[libffm $what]} / ${best_cpu[fm $what]}" | bc -l)"
done
d="fm train (default 10% held out)"
printf '%-8s best wall: libffm %.2f s, fm %.2f s, ratio %.2fx;  best user+sys: libffm %.2f s, fm %.2f s, ratio %.2fx  (fm with its default 10%% held out)\n' "train" \
  "${best_wall[libffm train]}" "${best_wall[$d]}" "$(echo "${best_wall[libffm train]} / ${best_wall[$d]}" | bc -l)" \
  "${best_cpu[libffm train]}" "${best_cpu[$d]}" "$(echo "${best_cpu[libffm train]} / ${best_cpu[$d]}" | bc -l)"
