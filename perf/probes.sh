#!/bin/sh
# Traces sluice's USDT probes (engine/probes.h) on a command or a live
# process and prints a summary: time and records per worker batch, rows per
# window close, commit times, snapshot stalls and writes.
#
#   perf/probes.sh [-b BINARY] -- COMMAND ARGS...     # trace a run
#   perf/probes.sh [-b BINARY] -p PID [-s SECONDS]    # a live process
#   perf/probes.sh --perf ...                         # perf instead of bpftrace
#
# bpftrace (Debian: bpftrace) gives histograms (perf/probes.bt); --perf uses
# `perf probe` + `perf record -e sdt_sluice:*` and prints counts and the
# first events (perf script has them all).  BINARY defaults to
# build/tools/sluice (the probes live in the binary that links the engine).
# Needs root (or CAP_BPF/CAP_PERFMON).
set -eu
bin=build/tools/sluice pid="" secs=10 tool=bpftrace
while [ $# -gt 0 ]; do
        case $1 in
        -b) bin=$2; shift 2 ;;
        -p) pid=$2; shift 2 ;;
        -s) secs=$2; shift 2 ;;
        --perf) tool=perf; shift ;;
        --) shift; break ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "probes: unknown argument $1 (see perf/probes.sh --help)" >&2; exit 2 ;;
        esac
done
[ -n "$pid" ] || [ $# -gt 0 ] || { echo "probes: give -- COMMAND... or -p PID" >&2; exit 2; }
bin=$(readlink -f "$bin")
readelf -n "$bin" 2>/dev/null | grep -q 'Provider: sluice' || {
        echo "probes: $bin has no sluice probes (built without sys/sdt.h? apt-get install systemtap-sdt-dev, then reconfigure)" >&2
        exit 1
}
here=$(cd "$(dirname "$0")" && pwd)
if [ "$tool" = bpftrace ]; then
        command -v bpftrace >/dev/null || { echo "probes: bpftrace not found (apt-get install bpftrace), or use --perf" >&2; exit 1; }
        ulimit -l unlimited 2>/dev/null || true
        script=$(mktemp)
        trap 'rm -f "$script"' EXIT
        sed "s|BIN|$bin|g" "$here/probes.bt" >"$script"
        if [ -n "$pid" ]; then
                exec timeout -s INT "$secs" bpftrace -p "$pid" "$script"
        fi
        # bpftrace -c takes one string, split at spaces, whose first word
        # is an executable's path.
        exe=$(command -v "$1" || true)
        [ -n "$exe" ] || { echo "probes: $1: command not found" >&2; exit 2; }
        shift
        for a in "$@"; do
                case $a in *[[:space:]]*) echo "probes: bpftrace cannot pass the argument '$a' (it has a space): start the command yourself and use -p PID" >&2; exit 2 ;; esac
        done
        bpftrace -c "$(readlink -f "$exe") $*" "$script" 2>&1 | grep -v RLIMIT_MEMLOCK
        exit 0
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
perf buildid-cache --add "$bin" >/dev/null 2>&1 || true
perf probe -q -d 'sdt_sluice:*' >/dev/null 2>&1 || true
perf probe -q -x "$bin" -a 'sdt_sluice:*' >/dev/null
if [ -n "$pid" ]; then
        perf record -q -e 'sdt_sluice:*' -p "$pid" -o "$out/p.data" -- sleep "$secs"
else
        perf record -q -e 'sdt_sluice:*' -o "$out/p.data" -- "$@"
fi
perf probe -q -d 'sdt_sluice:*' >/dev/null 2>&1 || true
perf script -i "$out/p.data" 2>/dev/null >"$out/events"
echo "events by probe:"
awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^sdt_sluice:/) { sub(/:$/, "", $i); n[$i]++ } } END { for (p in n) printf "  %-28s %d\n", p, n[p] }' "$out/events" | sort
echo "first events:"
head -8 "$out/events"
