#!/usr/bin/env bash
# Publishes the Native AOT build of fm as the README says (warnings stay errors, except the Parquet package's two
# summary warnings, see src/FmCodegen.Cli/FmCodegen.Cli.csproj) and checks that it reads Spark model directories as
# the library does: SparkAotTests writes models of every Spark encoding and compares the AOT binary's converted
# models, predictions, descriptions and errors with the library's, byte for byte.
#
#   benchmarks/aot/check-spark.sh [OUT]      (OUT: the publish folder, default $TMPDIR/fm-aot)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-${TMPDIR:-/tmp}/fm-aot}
dotnet publish src/FmCodegen.Cli -c Release -r linux-x64 -p:FmAot=true -o "$out" -nologo -v quiet
echo "published: $out/fm ($(stat -c %s "$out/fm") bytes)"
FMCODEGEN_AOT_FM=$(realpath "$out/fm") dotnet test tests/FmCodegen.Data.Tests -c Release --filter "FullyQualifiedName~SparkAotTests" -nologo
