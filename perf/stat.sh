#!/bin/sh
# perf stat on a command or a live process: hardware counters (cycles,
# instructions, cache and branch misses) where the machine has them, the
# software events (task-clock, context switches, migrations, page faults)
# always.  Prints which were unavailable instead of a column of
# "<not supported>".  With -n EVENTS, also per-event figures.
#
#   perf/stat.sh [-n EVENTS] -- COMMAND ARGS...
#   perf/stat.sh [-n EVENTS] -p PID [-s SECONDS]
set -eu
pid="" secs=10 events=""
while [ $# -gt 0 ]; do
        case $1 in
        -p) pid=$2; shift 2 ;;
        -s) secs=$2; shift 2 ;;
        -n) events=$2; shift 2 ;;
        --) shift; break ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "stat: unknown argument $1 (see perf/stat.sh --help)" >&2; exit 2 ;;
        esac
done
[ -n "$pid" ] || [ $# -gt 0 ] || { echo "stat: give -- COMMAND... or -p PID" >&2; exit 2; }
hw=""
for e in cycles instructions cache-misses branch-misses L1-dcache-load-misses LLC-load-misses; do
        if perf stat -x, -e "$e" true 2>&1 | grep -q '<not supported>\|not counted\|Error'; then
                echo "stat: no hardware counter '$e' on this machine (a VM without PMU passthrough)" >&2
        else
                hw="$hw,$e"
        fi
done
sw=task-clock,context-switches,cpu-migrations,page-faults
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if [ -n "$pid" ]; then
        perf stat -x, -o "$out" -e "$sw$hw" -p "$pid" -- sleep "$secs"
else
        perf stat -x, -o "$out" -e "$sw$hw" -- "$@"
fi
# CSV: value,unit,event,...
awk -F, -v n="$events" '
        /^#/ || NF < 3 { next }
        { v = $1; u = $2; e = $3
          if (v ~ /not/) next
          printf "  %-24s %18s %s", e, v, u
          if (n > 0 && v + 0 > 0) {
                  if (u == "msec") printf "   (%.1f ns per event)", v * 1e6 / n
                  else printf "   (%.4g per event)", v / n
          }
          printf "\n"
          if (e == "instructions") ins = v; if (e == "cycles") cyc = v }
        END { if (ins && cyc) printf "  %-24s %18.2f\n", "IPC", ins / cyc }' "$out"
