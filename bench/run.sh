#!/usr/bin/env bash
# bench/run.sh - postdesk throughput benchmark on a private Dovecot+Postfix
# stack on 127.0.0.1. A measurement, not a test: it never fails on time.
#
# Usage (as root, Debian 12, from anywhere):
#   bash bench/run.sh [N]            N messages per run (default 5000)
#
# Environment:
#   BENCH_RUNS="200:4 500:4 200:8"   runs as batch_size:smtp.max_connections
#   BENCH_LOG=info                   postdesk log level (e.g. info,postdesk=debug
#                                    to time "batch committed and acknowledged")
#   BENCH_TIMEOUT=SECS               give up waiting after this (default
#                                    120 + N/20); the run is reported as incomplete
#   BENCH_KEEP_STACK=1               leave the bench mail stack running at the end
#   BENCH_KEEP_MAIL=1                keep each run's mailboxes (support and
#                                    customers); by default they are deleted
#                                    after the run (results stay in target/bench-runs)
#   BENCH_SEED=1                     seed of the generated mail
#   BENCH_CUSTOMER_DOMAIN=customer.test  the customers' domain: a *.test domain
#                                    is delivered into Dovecot (the real thing);
#                                    another (e.g. customer.example) is accepted
#                                    and discarded by Postfix, which takes the
#                                    delivery load (Dovecot LMTP) off the machine
#   BENCH_STACK=DIR                  mail stack folder (default
#                                    target/bench-mailstack; at most 70 chars)
#   BENCH_BIN=PATH                   run this postdesk binary instead of the
#                                    one built here (e.g. a copy of an earlier
#                                    build, to interleave before/after runs)
#   BENCH_QUIET_WAIT=300             before each run, wait up to this many
#                                    seconds for the machine to be idle (other
#                                    processes < 10 % of all CPUs over 2 s)
#   BENCH_RESIDENT=1                 (as root) also write whose code is
#                                    resident at the end, per crate, into the
#                                    run's resident.txt (bench/resident.py);
#                                    smaps.txt (every mapping) is always kept
# The machine may be shared: "others %" in the table is the share of all
# CPUs used during the postdesk run by anything but postdesk, this mail
# stack and this script's polling; a run with more than a few % is noisy.
#
# Each run:
#   1. a fresh support mailbox bench-<tag>@support.test is filled with N
#      generated mails (bench/gen.py: ~70 % new, ~30 % replies, several
#      charsets, ~10 % attachments, some HTML-only) written as Maildir
#      files straight into Dovecot's Maildir; the count is checked over IMAP.
#   2. floors: a plain `UID FETCH 1:* BODY.PEEK[]` of the whole mailbox
#      (examples/bench_fetch.rs), median of 3, connect + login included;
#      and the MTA floor: as many ~1 KB mails as there will be auto-replies
#      sent to Postfix over smtp.max_connections connections with
#      TCP_NODELAY (examples/bench_smtp.rs), delivered before postdesk starts.
#   3. `postdesk run` with a fresh database (tls none, after = "move",
#      one [[queue]] without agents, auto_reply_limit_per_hour 1000000 and
#      loop_caps 1000000/1d, so
#      each new ticket queues exactly one auto-reply, to
#      cust<k>-<tag>@customer.test, which Postfix delivers into Dovecot).
#      sqlite3 polls the database every 25 ms from process start for
#      (a) receipts = N and outbox rows = tickets created (everything
#          stored, every auto-reply queued), and
#      (b) every outbox row sent (every auto-reply accepted by Postfix).
#      Peak RSS is VmHWM of the daemon read just before SIGTERM.
#   4. sanity: Processed holds N and INBOX 0 messages, the auto-replies
#      arrived in the customers' Maildirs, `postdesk status --json` shows
#      nothing quarantined or failed.
# A summary table (Markdown) is printed at the end and saved in
# target/bench-runs/summary-<time>.md. Timings are wall-clock from
# process start, with up to ~30 ms of polling granularity.
set -euo pipefail

N=${1:-5000}
RUNS=${BENCH_RUNS:-"200:4 500:4 200:8"}
LOG_LEVEL=${BENCH_LOG:-info}
TIMEOUT=${BENCH_TIMEOUT:-$((120 + N / 20))}
SEED=${BENCH_SEED:-1}
QUIET_WAIT=${BENCH_QUIET_WAIT:-300}
DOMAIN=${BENCH_CUSTOMER_DOMAIN:-customer.test}
REPO=$(cd "$(dirname "$0")/.." && pwd)
STACK=${BENCH_STACK:-$REPO/target/bench-mailstack}
OUT=$REPO/target/bench-runs
cd "$REPO"
# say, the CPU and IMAP helpers
# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"
[[ $N =~ ^[0-9]+$ ]] && ((N > 0)) || { echo "usage: $0 [N]" >&2; exit 2; }

# ------------------------------------------------------------- set-up
say "building (release)"
if [[ -n ${BENCH_BIN:-} ]]; then
    cargo build --release --quiet --example bench_fetch --example bench_smtp
else
    cargo build --release --quiet --bin postdesk --example bench_fetch --example bench_smtp
fi
BIN=${BENCH_BIN:-$REPO/target/release/postdesk}
FETCH=$REPO/target/release/examples/bench_fetch
SMTPFLOOR=$REPO/target/release/examples/bench_smtp

start_stack
# shellcheck disable=SC1091
. "$STACK/env"
DOVEADM=(doveadm -c "$DOVECOT_CONF")

mkdir -p "$OUT"
SUMMARY=$OUT/summary-$(date +%Y%m%d-%H%M%S).md
{
    echo "| N | customers | batch | smtp conns | others % | IMAP floor s | (a) s | (a) msgs/s | (a)/floor | MTA floor s | (b) s | (b) msgs/s | auto-replies sent/queued | delivered | postdesk CPU s | mail stack CPU s | peak RSS MiB |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
} >"$SUMMARY"


run_one() {
    local batch=$1 conns=$2
    local tag user home maildir dir db
    tag=$(date +%s%N | cut -c6-14)
    user=bench-$tag@support.test
    dir=$OUT/run-$tag-b$batch-c$conns
    mkdir -p "$dir"
    say "run $tag: N=$N batch_size=$batch smtp.max_connections=$conns ($dir)"

    # 1. load the mailbox. Dovecot creates the user's home and Maildir
    # (owned by mail) on first access; the files are then written by root
    # and handed to mail, and the next SELECT indexes them.
    "${DOVEADM[@]}" mailbox status -u "$user" messages INBOX >/dev/null
    home=$STACK/mail/support.test/bench-$tag
    maildir=$home/Maildir
    [[ -d $maildir ]] || { echo "no Maildir at $maildir" >&2; return 1; }
    local t0 gen
    t0=$EPOCHREALTIME
    gen=$(python3 bench/gen.py --maildir "$maildir" --n "$N" --to "$user" --tag "$tag" \
        --seed "$SEED" --domain "$DOMAIN")
    chown -R mail:mail "$maildir"
    local count
    count=$(imap_count "$user" INBOX)
    echo "generated: $gen" >&2
    echo "loaded and indexed in $(fmt "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{print b-a}')") s; IMAP sees $count messages" >&2
    if [[ $count != "$N" ]]; then
        echo "IMAP shows $count messages, expected $N: skipping this run" >&2
        return 1
    fi
    local expect_new
    expect_new=$(sed -n 's/.*\bnew=\([0-9]*\).*/\1/p' <<<"$gen")

    local busy
    busy=$(wait_quiet)

    # 2. floor: plain fetch of the whole mailbox, median of three.
    local floors=() i
    for i in 1 2 3; do
        floors+=("$("$FETCH" "$IMAP_PORT" "$user" INBOX | tee -a "$dir/floor.txt" | sed -n 's/.*total_s=\([0-9.]*\).*/\1/p')")
    done
    local floor
    floor=$(printf '%s\n' "${floors[@]}" | sort -g | sed -n 2p)
    echo "floor (UID FETCH 1:* BODY.PEEK[]): ${floors[*]} s -> median $floor s" >&2

    # MTA floor: as many ~1 KB mails as there will be auto-replies, over
    # $conns connections with TCP_NODELAY, to other customer addresses.
    local mta mta_s
    mta=$("$SMTPFLOOR" "$SMTP_PORT" "$expect_new" "$conns" "$tag"f "$DOMAIN" | tee -a "$dir/floor.txt")
    mta_s=$(sed -n 's/.*secs=\([0-9.]*\).*/\1/p' <<<"$mta")
    echo "MTA floor: $mta" >&2
    # Let Postfix deliver those before postdesk starts.
    for ((i = 0; i < 600; i++)); do
        delivering || break
        (($(delivered "${tag}f") >= expect_new)) && break
        sleep 0.1
    done
    busy=$(wait_quiet)

    # 3. postdesk
    cat >"$dir/postdesk.toml" <<EOF
[system]
fqdn = "desk-$tag.support.test"
auto_reply_limit_per_hour = 1000000
# Generated senders write several mails each; the loop caps (meant for
# robots) would hold their later auto-replies back.
loop_caps = ["1000000/1d"]

[storage]
database = "state/postdesk.db"
data_dir = "state"

[paths]
templates = "$REPO/mail-templates"
rules = "$REPO/rules"

[log]
format = "plain"
level = "$LOG_LEVEL"

[smtp]
host = "127.0.0.1"
port = $SMTP_PORT
tls = "none"
max_connections = $conns

[[queue]]
name = "support"

[[mailbox]]
name = "support"
address = "$user"
display_name = "Bench Support"
queue = "support"
host = "127.0.0.1"
port = $IMAP_PORT
tls = "none"
username = "$user"
password = "$PASSWORD"
after = "move"
move_to = "Processed"
batch_size = $batch
EOF
    db=$dir/state/postdesk.db
    local q="SELECT (SELECT COUNT(*) FROM receipts), (SELECT COUNT(*) FROM receipts WHERE status = 'created'), (SELECT COUNT(*) FROM outbox), (SELECT COUNT(*) FROM outbox WHERE status = 'sent'), (SELECT COUNT(*) FROM outbox WHERE status = 'failed')"
    # times in microseconds since the daemon was started
    local rec=0 created=0 out=0 sent=0 failed=0 ta= tb= now start limit=$((TIMEOUT * 1000000))
    local busy0 stack0 poll0
    busy0=$(busy_ticks) stack0=$(stack_ticks) poll0=$(shell_children_ticks)
    start=${EPOCHREALTIME/./}
    "$BIN" --config "$dir/postdesk.toml" run >"$dir/postdesk.log" 2>&1 &
    DAEMON_PID=$!
    while :; do
        if [[ -s $db ]]; then
            IFS='|' read -r rec created out sent failed < <(
                sqlite3 -cmd '.timeout 2000' "$db" "$q" 2>/dev/null || echo "0|0|0|0|0")
        fi
        now=$((${EPOCHREALTIME/./} - start))
        if [[ -z $ta ]] && ((rec >= N && out >= created)); then
            ta=$now
            echo "(a) all $rec stored, $out auto-replies queued after $(secs "$ta") s" >&2
        fi
        if [[ -n $ta ]] && ((sent + failed >= out)); then
            tb=$now
            echo "(b) all $sent auto-replies accepted by the MTA ($failed failed) after $(secs "$tb") s" >&2
            break
        fi
        if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
            echo "postdesk exited early; see $dir/postdesk.log" >&2
            break
        fi
        if ((now > limit)); then
            echo "timed out after ${TIMEOUT}s: receipts=$rec outbox=$out sent=$sent" >&2
            break
        fi
        sleep 0.025
    done
    local hwm cpu others
    hwm=$(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$DAEMON_PID/status" 2>/dev/null || echo "?")
    # What the resident memory is at the end: heap and stacks (anon),
    # mapped files (the binary's pages), shared memory (SQLite's -shm).
    awk '/^(VmHWM|VmRSS|RssAnon|RssFile|RssShmem|Threads):/ { printf "%s %s ", $1, $2 } END { print "" }' \
        "/proc/$DAEMON_PID/status" >"$dir/memory.txt" 2>/dev/null || true
    # Mapping by mapping (binary, heap arenas, stacks).
    cp "/proc/$DAEMON_PID/smaps" "$dir/smaps.txt" 2>/dev/null || true
    # Whose code is resident (root only).
    if [[ -n "${BENCH_RESIDENT:-}" ]]; then
        python3 "$REPO/bench/resident.py" "$DAEMON_PID" 40 >"$dir/resident.txt" 2>&1 || true
    fi
    cpu=$(cpu_secs "$DAEMON_PID" 2>/dev/null || echo "?")
    others=$(awk -v busy="$(($(busy_ticks) - busy0))" -v stack="$(($(stack_ticks) - stack0))" \
        -v poll="$(($(shell_children_ticks) - poll0))" -v pd="$cpu" -v hz="$(getconf CLK_TCK)" \
        -v wall="$now" -v ncpu="$(nproc)" 'BEGIN {
            o = (busy - stack - poll) / hz - pd; if (o < 0) o = 0
            printf "%.0f", 100 * o / (wall / 1000000 * ncpu) }')
    local stack_cpu
    stack_cpu=$(awk -v t="$(($(stack_ticks) - stack0))" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", t / hz }')
    kill -TERM "$DAEMON_PID" 2>/dev/null || true
    wait "$DAEMON_PID" 2>/dev/null || true
    DAEMON_PID=

    # 4. sanity checks (not timed)
    local got=discarded i
    for ((i = 0; i < 600; i++)); do
        delivering || break
        got=$(delivered "$tag")
        ((got >= sent)) && break
        sleep 0.1
    done
    local inbox processed status
    inbox=$(imap_count "$user" INBOX)
    processed=$(imap_count "$user" Processed)
    status=$("$BIN" --config "$dir/postdesk.toml" status --json 2>&1 | tr -d '\n' | tr -s ' ')
    echo "$status" >"$dir/status.json"
    echo "IMAP after: INBOX=$inbox Processed=$processed; created=$created (generator: new=$expect_new) follow-ups/other=$((rec - created))" >&2
    echo "auto-replies: queued=$out sent=$sent failed=$failed delivered to customer Maildirs=$got" >&2
    echo "status: $status" >&2
    local quarantined problems
    quarantined=$(sed -n 's/.*"quarantine_held": *\([0-9]*\).*/\1/p' <<<"$status")
    ((${quarantined:-1} == 0)) || echo "NOTE: quarantine_held=${quarantined:-?}" >&2
    problems=$(sed 's/\x1b\[[0-9;]*m//g' "$dir/postdesk.log" | grep -E '^\S+ +(WARN|ERROR) ' || true)
    if [[ -n $problems ]]; then
        echo "NOTE: $(wc -l <<<"$problems") WARN/ERROR line(s) in $dir/postdesk.log, first ones:" >&2
        head -5 <<<"$problems" >&2
    fi
    [[ $out == "$expect_new" ]] || echo "NOTE: outbox rows ($out) differ from generated new mails ($expect_new)" >&2

    if [[ ${BENCH_KEEP_MAIL:-0} != 1 ]]; then
        rm -rf "$home" "$STACK/mail/$DOMAIN/"cust*-"$tag" "$STACK/mail/$DOMAIN/"cust*-"${tag}f"
    fi

    local a_s="-" a_r="-" ratio="-" b_s="-" b_r="-"
    if [[ -n $ta ]]; then
        a_s=$(secs "$ta"); a_r=$(rate "$N" "$a_s")
        ratio=$(awk -v a="$a_s" -v f="$floor" 'BEGIN { printf "%.1f", a / f }')
    fi
    if [[ -n $tb ]]; then b_s=$(secs "$tb"); b_r=$(rate "$N" "$b_s"); fi
    echo "RESULT N=$N batch=$batch conns=$conns floor=${floor}s mta-floor=${mta_s}s a=${a_s}s (${a_r} msgs/s, ${ratio}x floor) b=${b_s}s (${b_r} msgs/s) cpu=${cpu}s stack-cpu=${stack_cpu}s rss=${hwm}MiB ($(cat "$dir/memory.txt" 2>/dev/null)) others=${others}% (idle before: ${busy}%)" >&2
    echo "| $N | $DOMAIN | $batch | $conns | $others | $(fmt "$floor") | $a_s | $a_r | $ratio | $(fmt "${mta_s:-0}") | $b_s | $b_r | $sent/$out | $got | $cpu | $stack_cpu | $hwm |" >>"$SUMMARY"
}

for r in $RUNS; do
    run_one "${r%%:*}" "${r##*:}" || echo "run $r skipped" >&2
done

say "summary ($SUMMARY)"
cat "$SUMMARY"
