#!/usr/bin/env bash
# Instruction counts of `fm predict` on a libffm model (valgrind --tool=callgrind, load-independent): frappe_te.ffm
# once and twice (28,860 and 57,720 rows), k = 4, one thread, --probability; prints the total of each run, the
# fixed part (start-up, model load) and the instructions per row (parse + score + format + write) from the two.
#   benchmarks/ffm-compare/instructions.sh [FM] [LIBFFM_DIR] [DATA]
# Same defaults as run.sh. DOTNET_TieredCompilation=0 as the Release build sets; add DOTNET_PerfMapEnabled=1 and
# callgrind's --dump-instr=yes to attribute the JIT-compiled part to methods through /tmp/perf-PID.map.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
fm=${1:-$root/src/FmCodegen.Cli/bin/Release/net10.0/fm}
libffm=${2:-/work/peers/libffm}
data=${3:-$root/../shared/data}
[ -x "$fm" ] || { echo "no fm at $fm (dotnet build src/FmCodegen.Cli -c Release)"; exit 1; }
command -v valgrind > /dev/null || { echo "valgrind is not installed"; exit 1; }
[ -x "$libffm/ffm-train" ] || { echo "no ffm-train in $libffm"; exit 1; }
[ -f "$data/frappe/frappe_te.ffm" ] || { echo "no $data/frappe/frappe_te.ffm (the shared data folder is missing)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
cp "$data/frappe/frappe_te.ffm" x1.ffm
cat x1.ffm x1.ffm > x2.ffm
"$libffm/ffm-train" -k 4 -t 3 -r 0.2 -l 0.00002 -s 1 x2.ffm m.model > /dev/null
declare -A ir
for n in 1 2; do
  DOTNET_TieredCompilation=0 valgrind --tool=callgrind --smc-check=all --callgrind-out-file="$work/cg.$n" \
    "$fm" predict --model m.model --model-format libffm --input "x$n.ffm" --input-format libffm --probability \
    --threads 1 -o "p$n" > "log.$n" 2>&1 || { cat "log.$n"; exit 1; }
  ir[$n]=$(sed -n 's/.*I *refs: *//p' "log.$n" | tr -d ',')
  echo "x$n ($(wc -l < "x$n.ffm") rows): ${ir[$n]} instructions"
done
rows=$(wc -l < x1.ffm)
per_row=$(( (ir[2] - ir[1]) / rows ))
echo "per row: $per_row instructions; fixed: $(( ir[1] - per_row * rows )) instructions"
