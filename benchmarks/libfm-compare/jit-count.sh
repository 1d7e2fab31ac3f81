#!/usr/bin/env bash
# Counts the methods the JIT compiles in one `fm libfm` MCMC run on MovieLens ua (what the ReadyToRun image does not
# serve: they are compiled at every start), and lists the sampler's own. -iter 1 by default (the count does not
# depend on the sweeps after the first).
#   benchmarks/libfm-compare/jit-count.sh [FM] [DATA] [ITER]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
fm=${1:-$root/src/FmCodegen.Cli/bin/Release/net10.0/fm}
data=${2:-$root/../shared/data}
iter=${3:-1}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
[ -x "$fm" ] || { echo "no fm at $fm (dotnet build src/FmCodegen.Cli -c Release)"; exit 1; }
DOTNET_JitStdOutFile="$work/jit.txt" DOTNET_JitDisasmSummary=1 "$fm" libfm -task r -train "$data/ml100k/ua.base.libfm" \
  -test "$data/ml100k/ua.test.libfm" -dim '1,1,8' -iter "$iter" -init_stdev 0.1 -seed 1 -out "$work/pred" > /dev/null
echo "methods compiled by the JIT: $(grep -c 'JIT compiled' "$work/jit.txt")"
echo "of them the MCMC sampler's:"
grep 'Training.Bayesian' "$work/jit.txt" | sed -E 's/.*JIT compiled ([^(]*)\(.*/  \1/'
