#!/usr/bin/env bash
# What the training-range clamp of `fm predict` changes (issue 8 follow-up): on every shared regression set, train with
# the fixed AdaGrad defaults (`--solver adagrad`) and with the automatic choice (only the task), then score the test
# file with `fm predict` as it is by default (clamped to the range the native model records) and with --no-clip.
# Prints test RMSE both ways. Usage: bash eval/clip-range.sh [path/to/fm]   (build src/FmCodegen.Cli -c Release first)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
fm="${1:-$here/src/FmCodegen.Cli/bin/Release/net10.0/fm}"
data="$here/../shared/data"
if [ ! -d "$data" ]; then echo "the shared data folder is missing: expected $data; nothing to measure"; exit 1; fi
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
rmse() { python3 -c "
import math,sys
y=[float(l.split()[0]) for l in open(sys.argv[1])]; p=[float(l) for l in open(sys.argv[2])]
print('%.4f' % math.sqrt(sum((a-b)**2 for a,b in zip(p,y))/len(y)))" "$1" "$2"; }
printf '| data | training | clamped (default) | --no-clip | predictions outside the range |\n|---|---|---|---|---|\n'
for set in ml100k:ml100k/ua.base.libfm:ml100k/ua.test.libfm cpusmall:extra/cpusmall/cpusmall.train:extra/cpusmall/cpusmall.test \
           cadata:extra/cadata/cadata.train:extra/cadata/cadata.test abalone:extra/abalone/abalone.train:extra/abalone/abalone.test; do
  IFS=: read -r name train test <<<"$set"
  for how in "adagrad:--solver adagrad" "auto:"; do
    IFS=: read -r label flags <<<"$how"
    # shellcheck disable=SC2086
    "$fm" train --task r --k 8 --seed 1 $flags --train "$data/$train" --model "$work/m.fmb" >/dev/null 2>&1
    "$fm" predict --model "$work/m.fmb" --input "$data/$test" --output "$work/c.txt" 2>/dev/null
    "$fm" predict --model "$work/m.fmb" --input "$data/$test" --output "$work/u.txt" --no-clip 2>/dev/null
    outside=$(paste "$work/c.txt" "$work/u.txt" | awk '$1 != $2 { n++ } END { print n + 0 }')
    printf '| %s | %s | %s | %s | %s |\n' "$name" "$label" "$(rmse "$data/$test" "$work/c.txt")" "$(rmse "$data/$test" "$work/u.txt")" "$outside"
  done
done
