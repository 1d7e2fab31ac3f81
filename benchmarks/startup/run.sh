#!/usr/bin/env bash
# Times the fm commands whose speed goals include process start and parsing (issues 8 and 9), for one or more
# builds of fm, alternating the builds run by run, and prints each run's wall and user+sys CPU seconds, the page
# faults, and the best of each per build:
#   --version                      the start alone (runtime, System.CommandLine, the verbs' options)
#   predict                        frappe_te.ffm x20 (577,200 rows) with libffm's model, --probability, one thread
#   train-1, train-10              fm train --model-type ffm on the same rows, 1 and 10 epochs, one thread
#   libfm                          fm libfm -task r on ml100k ua (MCMC, 100 sweeps)
#   benchmarks/startup/run.sh [FM...]
# FM defaults to the Release build of src/FmCodegen.Cli (ReadyToRun, tiering off: docs/io.md "Start-up"). To time
# the same code without ReadyToRun, build a second copy (another clone or worktree) with
#   dotnet build src/FmCodegen.Cli -c Release -p:FmReadyToRun=false
# and pass both. Runtime settings can be tried per run with the environment, e.g.
#   ENV='DOTNET_TieredCompilation=1' benchmarks/startup/run.sh
# RUNS (default 5) runs per command and build; ONLY='predict train-1' limits the commands;
# LIBFFM_DIR (/work/peers/libffm) trains the libffm model that predict scores; DATA (../shared/data).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
builds=("$@")
[ ${#builds[@]} -gt 0 ] || builds=("$root/src/FmCodegen.Cli/bin/Release/net10.0/fm")
libffm=${LIBFFM_DIR:-/work/peers/libffm}
data=${DATA:-$root/../shared/data}
runs=${RUNS:-5}
only=${ONLY:-version predict train-1 train-10 libfm}
for fm in "${builds[@]}"; do [ -x "$fm" ] || { echo "no fm at $fm (dotnet build src/FmCodegen.Cli -c Release)"; exit 1; }; done
[ -f "$data/frappe/frappe_te.ffm" ] || { echo "no $data/frappe/frappe_te.ffm (the shared data folder is missing)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for _ in $(seq 20); do cat "$data/frappe/frappe_te.ffm"; done > "$work/x20.ffm"
if [[ " $only " == *" predict "* ]]; then
  [ -x "$libffm/ffm-train" ] || { echo "no ffm-train in $libffm (predict scores libffm's model)"; exit 1; }
  (cd "$work" && "$libffm/ffm-train" -k 4 -t 10 -r 0.2 -l 0.00002 -s 1 x20.ffm libffm.model > /dev/null)
fi
echo "data: $(wc -l < "$work/x20.ffm") rows; runs: $runs; env: ${ENV:-(none)}; load before: $(cut -d' ' -f1-3 /proc/loadavg)"

args_of() { # command name -> fm arguments
  case $1 in
    version) echo "--version" ;;
    predict) echo "predict --model $work/libffm.model --model-format libffm --input $work/x20.ffm --input-format libffm --probability --threads 1 -o $work/p.txt" ;;
    train-1|train-10) echo "train --model-type ffm --input-format libffm --train $work/x20.ffm --task c --k 4 --seed 1 --epochs ${1#train-} --validation-fraction 0 --threads 1 --model $work/m.ffmb" ;;
    libfm) echo "libfm -task r -train $data/ml100k/ua.base.libfm -test $data/ml100k/ua.test.libfm -dim 1,1,8 -iter 100 -init_stdev 0.1 -seed 1 -out $work/l.txt" ;;
  esac
}

declare -A best_wall best_cpu
for name in $only; do
  read -r -a args <<< "$(args_of "$name")"
  for _ in $(seq "$runs"); do
    for b in "${!builds[@]}"; do
      fm=${builds[$b]}
      t0=$(date +%s.%N)
      # shellcheck disable=SC2086
      env ${ENV:-} /usr/bin/time -f "%U %S %R" -o "$work/cpu" "$fm" "${args[@]}" > "$work/log" 2>&1 || { cat "$work/log"; exit 1; }
      t1=$(date +%s.%N)
      wall=$(echo "$t1 - $t0" | bc)
      read -r user sys faults < "$work/cpu"
      cpu=$(echo "$user + $sys" | bc)
      printf '%-9s build %d  wall %6.3f s  user+sys %6.3f s  (user %s, sys %s, %s page faults, load %s)\n' \
        "$name" "$b" "$wall" "$cpu" "$user" "$sys" "$faults" "$(cut -d' ' -f1 /proc/loadavg)"
      key="$name $b"
      if [ -z "${best_wall[$key]:-}" ] || (( $(echo "$wall < ${best_wall[$key]}" | bc) )); then best_wall[$key]=$wall; fi
      if [ -z "${best_cpu[$key]:-}" ] || (( $(echo "$cpu < ${best_cpu[$key]}" | bc) )); then best_cpu[$key]=$cpu; fi
    done
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
for b in "${!builds[@]}"; do echo "build $b: ${builds[$b]}"; done
for name in $only; do
  for b in "${!builds[@]}"; do
    printf 'best %-9s build %d: wall %.3f s, user+sys %.3f s\n' "$name" "$b" "${best_wall[$name $b]}" "${best_cpu[$name $b]}"
  done
done
