#!/usr/bin/env bash
# Times variants of the FFM AdaGrad pair update (k = 4, blocks of [4 weights | 4 sums]) and the k = 4 pair sum in
# stand-alone loops over frappe_te.ffm's rows 20 times (577,200 rows, in file order, all values 1/sqrt(10)): the
# exact square root and division as the kernels do it (four 128-bit loads and stores per pair) and as
# FfmPairUpdates.AdaGrad4 does it (whole-block 256-bit loads and stores), the same without the square root and/or
# division (not a valid update: to see what bounds the loop), deterministic reciprocal square roots of two and three
# Newton steps, and two pairs per 512-bit vector. Prints the best of 7 runs of each and a checksum of the table.
#   benchmarks/ffm-train-loop/run.sh [DATA]     (DATA defaults to ../shared/data)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
data=${1:-$here/../../../shared/data}
[ -f "$data/frappe/frappe_te.ffm" ] || { echo "no $data/frappe/frappe_te.ffm (the shared data folder is missing)"; exit 1; }
dotnet build "$here/FfmTrainLoop.csproj" -c Release -o "$here/bin/out" > /dev/null
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
dotnet "$here/bin/out/FfmTrainLoop.dll" "$data/frappe/frappe_te.ffm"
