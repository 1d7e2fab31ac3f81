#!/usr/bin/env bash
# Exhaustive check of the prediction formatter (NumberText.FormatFloat, the text of every fm predict line): two
# builds of FmCodegen.dll must write every float of a range as the same bytes. The default range is every bit
# pattern of [0, 1] (0x00000000 .. 0x3F800000: all probabilities, 1,065,353,217 floats, some minutes on 2 cores),
# then every 13th pattern of the rest (negative and larger raw scores).
#   benchmarks/format-check/run.sh OLD_FMCODEGEN_DLL [NEW_FMCODEGEN_DLL] [FROM_HEX TO_HEX [STRIDE]]
# NEW defaults to the Release build of src/FmCodegen.Cli (its ReadyToRun image, the code fm runs). Keep a copy of the
# build before a change (cp src/FmCodegen.Cli/bin/Release/net10.0/FmCodegen.dll /tmp/old.dll) to pass as OLD.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
old=${1:?usage: run.sh OLD_FMCODEGEN_DLL [NEW_FMCODEGEN_DLL] [FROM_HEX TO_HEX [STRIDE]]}
new=${2:-$root/src/FmCodegen.Cli/bin/Release/net10.0/FmCodegen.dll}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dotnet build "$here" -c Release -o "$work/out" > "$work/build.log" || { cat "$work/build.log"; exit 1; }
echo "old: $old; new: $new; load $(cut -d' ' -f1-3 /proc/loadavg)"
if [ $# -ge 4 ]; then
  dotnet "$work/out/FormatCheck.dll" "$old" "$new" "$3" "$4" "$(nproc)" "${5:-1}"
else
  dotnet "$work/out/FormatCheck.dll" "$old" "$new" 00000000 3F800001 "$(nproc)"
  dotnet "$work/out/FormatCheck.dll" "$old" "$new" 3F800001 100000000 "$(nproc)" 13
fi
