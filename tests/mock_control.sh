#!/bin/sh
# sluice-mock --control: fault injection while the mock cluster runs.
#   1. Bad commands each give one error line and change nothing.
#   2. "errors Produce 3 NOT_LEADER_FOR_PARTITION": the producer meets exactly
#      three errors, retries, and all 1000 messages arrive once.
#   3. "down 1": broker 1 refuses connections; "up 1": it accepts them again.
#   4. "rtt 2 500": broker 2 answers at least 500 ms late; "rtt 2 0" undoes it.
#   5. SIGTERM: exit status 0, the FIFO and the port file are gone.
#   6. --control - reads stdin; its end does not stop the mock.
#   mock_control.sh BUILD_DIR
set -eu
build=$1
tmp=$(mktemp -d)
mock=""
cleanup() {
        [ -z "$mock" ] || kill "$mock" 2>/dev/null || true
        rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "mock_control: $*" >&2; echo "--- mock log" >&2; cat "$tmp/mock.log" >&2; exit 1; }

"$build/tools/sluice-mock" --topic t:4 --port-file "$tmp/port" --control "$tmp/ctl" \
        >/dev/null 2>"$tmp/mock.log" &
mock=$!
i=0
while [ ! -s "$tmp/port" ]; do i=$((i + 1)); [ $i -lt 100 ] || fail "no mock"; sleep 0.1; done
bs=$(cat "$tmp/port")
[ -p "$tmp/ctl" ] || fail "no FIFO at $tmp/ctl"

# send COMMAND ok|error: writes one command and waits for its result line.
send() {
        if [ "$2" = ok ]; then want="sluice-mock: ok: $1"; else want="sluice-mock: $1: "; fi
        before=$(grep -cF "$want" "$tmp/mock.log" || true)
        echo "$1" >"$tmp/ctl"
        i=0
        while [ "$(grep -cF "$want" "$tmp/mock.log" || true)" -le "$before" ]; do
                i=$((i + 1))
                [ $i -lt 100 ] || fail "no '$2' result for '$1'"
                kill -0 "$mock" 2>/dev/null || fail "the mock died after '$1'"
                sleep 0.05
        done
}

# 1. Bad commands.
send "frobnicate 1" error
send "errors Produce 3 NOT_LEADER_FOR_PARTITION NOT_COORDINATOR" error
send "errors Produce 2 NO_SUCH_ERROR" error
send "errors Produc 1 NOT_COORDINATOR" error
send "down 9" error
send "rtt 1 -1" error
send "broker-errors 1 Produce NOT_LEADER_FOR_PARTITION" error
send "topic t 4" error
send "coordinator member g 1" error
printf '# a comment\n\n   \n' >"$tmp/ctl"
send "topic u 2" ok
send "coordinator group g 1" ok
send "clear Fetch" ok
oks=$(grep -c '^sluice-mock: ok: ' "$tmp/mock.log" || true)
errs=$(grep '^sluice-mock: ' "$tmp/mock.log" | grep -v '^sluice-mock: ok: ' |
        grep -vc '^sluice-mock: librdkafka ' || true)
[ "$oks" -eq 3 ] || fail "expected 3 ok lines, got $oks"
[ "$errs" -eq 9 ] || fail "expected 9 error lines, got $errs"

# 2. Injected produce errors: retried, nothing lost, nothing twice.
send "errors Produce 3 NOT_LEADER_FOR_PARTITION" ok
"$build/tools/sluice-gen" --events 1000 --keys 50 --bootstrap "$bs" --topic t \
        --set debug=msg 2>"$tmp/gen.log" || fail "sluice-gen failed"
hits=$(grep -c 'Not leader for partition' "$tmp/gen.log" || true)
[ "$hits" -eq 3 ] || fail "the producer met $hits NOT_LEADER_FOR_PARTITION errors, expected 3"
n=$(kcat -C -b "$bs" -t t -e -q | wc -l)
[ "$n" -eq 1000 ] || fail "$n messages in t, expected 1000"

# 3. A broker down and up again.
b1=$(kcat -L -b "$bs" | sed -n 's/^ *broker 1 at \([^ ]*\).*/\1/p')
[ -n "$b1" ] || fail "no broker 1 in the metadata"
send "down 1" ok
if kcat -L -b "$b1" -m 2 >/dev/null 2>&1; then fail "broker 1 answered while down"; fi
send "up 1" ok
kcat -L -b "$b1" -m 5 >/dev/null 2>&1 || fail "broker 1 did not answer after up"

# 4. Round-trip time.
b2=$(kcat -L -b "$bs" | sed -n 's/^ *broker 2 at \([^ ]*\).*/\1/p')
send "rtt 2 500" ok
t0=$(date +%s%N)
kcat -L -b "$b2" -m 10 >/dev/null 2>&1 || fail "broker 2 did not answer with rtt 500"
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -ge 500 ] || fail "metadata from broker 2 took $ms ms with rtt 500"
send "rtt 2 0" ok

# 5. SIGTERM.
kill -TERM "$mock"
wait "$mock" || fail "the mock exited with $?"
mock=""
[ ! -e "$tmp/ctl" ] || fail "the FIFO is still there"
[ ! -e "$tmp/port" ] || fail "the port file is still there"

# 6. stdin: commands, a last line without a newline, then the end of input.
printf 'down 2\nbogus\nup 2' | "$build/tools/sluice-mock" --control - --seconds 1 \
        >/dev/null 2>"$tmp/stdin.log" || fail "sluice-mock --control - failed"
for want in 'sluice-mock: ok: down 2' 'sluice-mock: bogus: unknown command' 'sluice-mock: ok: up 2'; do
        grep -q "^$want" "$tmp/stdin.log" ||
                { cat "$tmp/stdin.log" >&2; fail "--control - gave no '$want'"; }
done
echo "mock_control: ok"
