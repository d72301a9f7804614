#!/bin/sh
# Profiles a sluice run (or any command) with perf's cpu-clock software
# event (these VMs have no hardware counters), with call graphs, and prints
# the top symbols per thread and a folded-stack file for flame graphs.
#
#   perf/record.sh [-o OUTDIR] -- COMMAND ARGS...
#   perf/record.sh -p PID [-s SECONDS] [-o OUTDIR]     # a live process
#
# Call graphs: SL_CALLGRAPH=dwarf (the default) unwinds any build; =fp is
# cheaper but needs frame pointers (meson configure build
# -Dc_args=-fno-omit-frame-pointer), else user stacks show as [unknown].
#
# OUTDIR (default perf/out) gets perf.data, report.txt and stacks.folded
# (one line per stack: "frame;frame;frame count", the input of
# flamegraph tools, and of perf/flame.sh).
set -eu
out=perf/out pid="" secs=10
while [ $# -gt 0 ]; do
        case $1 in
        -o) out=$2; shift 2 ;;
        -p) pid=$2; shift 2 ;;
        -s) secs=$2; shift 2 ;;
        --) shift; break ;;
        *) break ;;
        esac
done
mkdir -p "$out"
cg=${SL_CALLGRAPH:-dwarf}
[ "$cg" = dwarf ] && cg=dwarf,16384
if [ -n "$pid" ]; then
        perf record -e cpu-clock -F 999 --call-graph "$cg" -p "$pid" -o "$out/perf.data" -- sleep "$secs"
else
        [ $# -gt 0 ] || { echo "usage: perf/record.sh [-o DIR] -- COMMAND... | -p PID [-s SECONDS]" >&2; exit 2; }
        perf record -e cpu-clock -F 999 --call-graph "$cg" -o "$out/perf.data" -- "$@"
fi
perf report -i "$out/perf.data" --no-children --sort pid,sym -g none --stdio 2>/dev/null \
        | grep -v '^#' | grep -v '^$' | head -60 >"$out/report.txt"
perf script -i "$out/perf.data" 2>/dev/null | awk '
        /^[^ \t]/ { if (stack != "") fold[stack]++; stack = ""; next }
        /^[ \t]+[0-9a-f]+ / { sym = $2; sub(/\+0x[0-9a-f]+$/, "", sym); stack = (stack == "") ? sym : sym ";" stack; next }
        END { if (stack != "") fold[stack]++; for (s in fold) print s, fold[s] }' >"$out/stacks.folded"
echo "perf: top symbols in $out/report.txt, folded stacks in $out/stacks.folded" >&2
head -25 "$out/report.txt"
