#!/usr/bin/env bash
# Would another accumulation order make the k = 4 field-aware pair sum faster? FfmOrderBenchmarks: the pair sum
# alone on frappe-shaped compacted examples (10 fields in order, 5,382 features, values 1, 4,096 examples): the
# shipped two-row kernel against the same with row sums dealt to two accumulators, with two chains per row, a
# 512-bit two-rows-by-two-columns kernel, and the shipped order written out straight-line for n = 10 (needs
# AVX-512). Extra arguments go to BenchmarkDotNet (e.g. --inProcess).
#   benchmarks/ffm-compare/pair-sum-orders.sh [--inProcess]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
dotnet run -c Release --project benchmarks/FmCodegen.Benchmarks -- --filter '*FfmOrderBenchmarks*' --job short "$@"
