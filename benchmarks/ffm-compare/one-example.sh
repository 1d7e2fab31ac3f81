#!/usr/bin/env bash
# One field-aware example at a time (issue goal: 50x ML.NET's PredictionEngine, 1,570 ns per frappe example = 31 ns):
# FfmScoreBenchmarks, frappe's shape (10 fields, one nonzero per field, values 1, libffm normalisation, 5,382
# features), k = 4, 8, 16; rows: the project's own [FfmKernel(k)] (CtrK.Score), Ffm.Score through the registry, the
# runtime-k kernel and the double definition; and FfmFrappeScoreBenchmarks, frappe's own 28,860 test rows through
# libffm's k = 4 model of frappe (the data the ML.NET figure was measured on; needs ../shared/data). Extra arguments go to BenchmarkDotNet (e.g. --inProcess when its
# build of the benchmark project times out on a loaded machine).
#   benchmarks/ffm-compare/one-example.sh [--inProcess]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
dotnet run -c Release --project benchmarks/FmCodegen.Benchmarks -- --filter '*FfmScoreBenchmarks*' '*FfmFrappeScoreBenchmarks*' --job short "$@"
