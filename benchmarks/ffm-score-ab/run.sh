#!/usr/bin/env bash
# Same-process A/B of one field-aware example (FfmScoreBenchmarks' k = 4 workload) between the library at a commit
# and the working tree: builds Program.cs against each, then alternates their passes in one process (both see the
# same load) and prints the minimum per-example time of each. Features 5,382 is the benchmark's table (861 KB);
# 100 keeps it in L1, which shows the compute without the cache misses; "frappe" scores frappe_te.ffm's rows with libffm's
# frappe model (FfmFrappeScoreBenchmarks' workload). Each build also prints a hash of every score's bits.
#   benchmarks/ffm-score-ab/run.sh OLD_COMMIT [features=5382|frappe] [passes=1000]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
old=${1:?usage: run.sh OLD_COMMIT [features] [passes]}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git -C "$root" archive "$old" src/FmCodegen generators Directory.Build.props Directory.Packages.props global.json | tar -x -C "$work"
mkdir -p "$work/benchmarks/ffm-score-ab"
cp "$here/FfmScoreAb.csproj" "$here/Program.cs" "$work/benchmarks/ffm-score-ab/"
dotnet build "$work/benchmarks/ffm-score-ab" -c Release -o "$work/a" > "$work/build-a.log" || { cat "$work/build-a.log"; exit 1; }
dotnet build "$here" -c Release -o "$work/b" > "$work/build-b.log" || { cat "$work/build-b.log"; exit 1; }
cd "$work"
echo "load $(cut -d' ' -f1-3 /proc/loadavg); a = $old, b = working tree"
dotnet b/FfmScoreAb.dll a b "${2:-5382}" "${3:-1000}"
