#!/usr/bin/env bash
# Times `fm libfm` against libFM on the same command, in one run, process start included (wall and user CPU seconds),
# and prints each tool's test metric. Default method (MCMC), -dim '1,1,8' -iter 100 -init_stdev 0.1 -seed 1.
#   benchmarks/libfm-compare/run.sh [FM] [LIBFM] [DATA]
# FM defaults to the Release build of src/FmCodegen.Cli; LIBFM to /work/peers/libfm/bin/libFM; DATA to ../shared/data.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
fm=${1:-$root/src/FmCodegen.Cli/bin/Release/net10.0/fm}
libfm=${2:-/work/peers/libfm/bin/libFM}
data=${3:-$root/../shared/data}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
[ -x "$fm" ] || { echo "no fm at $fm (dotnet build src/FmCodegen.Cli -c Release)"; exit 1; }
[ -x "$libfm" ] || { echo "no libFM at $libfm"; exit 1; }

metric() { # task predictions test-file -> RMSE (r) or logloss/AUC (c)
  python3 - "$@" <<'PY'
import math, sys
task, pred, test = sys.argv[1:]
p = [float(l) for l in open(pred)]
y = [float(l.split()[0]) for l in open(test)]
if task == "r":
    print("RMSE %.4f" % math.sqrt(sum((a - b) ** 2 for a, b in zip(p, y)) / len(y)))
else:
    pos = [t > 0 for t in y]
    ll = -sum(math.log(min(max(a, 1e-15), 1 - 1e-15)) if t else math.log(1 - min(max(a, 1e-15), 1 - 1e-15)) for a, t in zip(p, pos)) / len(y)
    order = sorted(range(len(p)), key=lambda i: p[i]); ranks = [0.0] * len(p); i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and p[order[j + 1]] == p[order[i]]: j += 1
        for m in range(i, j + 1): ranks[order[m]] = (i + j) / 2 + 1
        i = j + 1
    npos = sum(pos); nneg = len(pos) - npos
    auc = (sum(r for r, t in zip(ranks, pos) if t) - npos * (npos + 1) / 2) / (npos * nneg)
    print("logloss %.4f AUC %.4f" % (ll, auc))
PY
}

run() { # name task train test
  local name=$1 task=$2 train=$3 test=$4
  for tool in fm libFM; do
    local out="$work/$name.$tool.pred" cmd
    if [ "$tool" = fm ]; then cmd=("$fm" libfm); else cmd=("$libfm"); fi
    local t0=$(date +%s.%N)
    /usr/bin/time -f "%U" -o "$work/cpu" "${cmd[@]}" -task "$task" -train "$train" -test "$test" -dim '1,1,8' -iter 100 \
      -init_stdev 0.1 -seed 1 -out "$out" > "$work/log" 2>&1
    local t1=$(date +%s.%N)
    printf '%-8s %-6s wall %6.2f s  user %6.2f s  %s\n' "$name" "$tool" "$(echo "$t1 - $t0" | bc)" "$(cat "$work/cpu")" "$(metric "$task" "$out" "$test")"
  done
}

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
run ml100k r "$data/ml100k/ua.base.libfm" "$data/ml100k/ua.test.libfm"
run frappe c "$data/frappe/frappe_tr.libfm" "$data/frappe/frappe_te.libfm"
run a9a    c "$data/a9a/a9a" "$data/a9a/a9a.t"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
