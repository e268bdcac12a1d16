#!/usr/bin/env bash
# bench/scale.sh - postdesk against the size of its database (issue 10,
# item 5): throughput, CPU per message, peak memory, the read path and
# arrival → auto-reply latency at N = 5,000, 20,000, 100,000 and 1,000,000
# messages. A measurement, not a test: it never fails on time.
#
# Usage (as root, Debian 12, from anywhere):
#   bash bench/scale.sh [SIZE...]        default: 5000 20000 100000 1000000
#
# One database grows through the sizes. At each SIZE:
#   1. history: `postdesk import maildir` (the real pipeline, no
#      auto-replies) of generated mail (bench/gen.py: the throughput
#      benchmark's mix, one customer per 15 mails) until the database holds
#      SIZE - 5,000 messages; import msgs/s, CPU per message and peak RSS.
#   2. floors, measured in the same run: a plain `UID FETCH 1:*
#      BODY.PEEK[]` of the 5,000 fresh mails waiting in the support
#      mailbox (examples/bench_fetch, median of 3), and the MTA floor: as
#      many ~1 KB mails as there will be auto-replies, sent to Postfix over
#      the same number of connections (examples/bench_smtp).
#   3. `postdesk run` takes the 5,000 mails over IMAP on top of the
#      history: (a) every mail stored and every auto-reply queued, (b) every
#      auto-reply accepted by Postfix (the database's counters, polled every
#      25 ms); postdesk's CPU per message; peak RSS (VmHWM) with its private
#      (RssAnon) and file-backed (RssFile) parts.
#   4. latency, with the same daemon idling in IMAP IDLE: LATENCY_SAMPLES
#      new mails submitted one at a time over SMTP; for each, from its
#      arrival in the Maildir (the microseconds in the name Dovecot gives
#      the file) to the IDLE notification (the daemon's debug log) — the
#      IMAP server's part — and from there to the auto-reply accepted by
#      Postfix (the sender's "sent" line) — postdesk's part.
#   5. the read path on the database (now SIZE messages), in-process
#      (examples/bench_readpath: cold call, then median and max of 21):
#      `ticket show` (newest, middle, busiest), `ticket list` (plain, by
#      state, queue, customer), `ticket search` (common, rare, two words,
#      prefix, none); and `postdesk ticket show` / `search` as commands
#      (process start included, median of 5).
#
# Environment:
#   BENCH_CUSTOMER_DOMAIN=customer.example  customers' domain; customer.example
#                       is accepted and discarded by Postfix (no LMTP load),
#                       a *.test domain is delivered into Dovecot
#   BENCH_LATENCY_SAMPLES=20    mails for the latency measurement
#   BENCH_DIR=DIR               work folder (default target/bench-scale; the
#                               database and generated mail stay there)
#   BENCH_BIN=PATH              the postdesk binary to measure (default: build)
#   BENCH_QUIET_WAIT=300        wait up to this many seconds for an idle
#                               machine before each timed step
#   BENCH_KEEP_STACK=1          leave the bench mail stack running
#   BENCH_FROM_DB=PATH          start from a copy of this database instead of
#                               an empty one (sizes then count from what it
#                               holds: each size at least its messages + 5,000)
#   BENCH_LOG=FILTER            the daemon's log level (default: info, debug for
#                               intake and outbox, whose lines the latency needs)
#   BENCH_READPATH=0            skip the read path's timings (comparing two
#                               builds' write paths)
#   BENCH_CACHE_MIB=N           the daemon's storage.cache_mib (default: the
#                               daemon's own, 2)
# Prints progress on stderr, key=value lines in DIR/results.txt and a
# Markdown summary in DIR/summary.md.
set -euo pipefail

SIZES=${*:-"5000 20000 100000 1000000"}
RUN=5000
BATCH=500
CONNS=4
DOMAIN=${BENCH_CUSTOMER_DOMAIN:-customer.example}
SAMPLES=${BENCH_LATENCY_SAMPLES:-20}
QUIET_WAIT=${BENCH_QUIET_WAIT:-300}
REPO=$(cd "$(dirname "$0")/.." && pwd)
W=${BENCH_DIR:-$REPO/target/bench-scale}
STACK=${BENCH_STACK:-$REPO/target/bench-mailstack}
cd "$REPO"
# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"
prev=0
for s in $SIZES; do
    [[ $s =~ ^[0-9]+$ ]] && ((s >= prev + RUN)) ||
        { echo "usage: $0 [SIZE...] (increasing, each at least $RUN more than the last)" >&2; exit 64; }
    prev=$s
done

say "building (release)"
if [[ -z ${BENCH_BIN:-} ]]; then
    cargo build --release --quiet --bin postdesk
fi
cargo build --release --quiet --example bench_fetch --example bench_smtp --example bench_readpath
BIN=${BENCH_BIN:-$REPO/target/release/postdesk}
FETCH=$REPO/target/release/examples/bench_fetch
SMTPFLOOR=$REPO/target/release/examples/bench_smtp
READPATH=$REPO/target/release/examples/bench_readpath

start_stack
# shellcheck disable=SC1091
. "$STACK/env"
DOVEADM=(doveadm -c "$DOVECOT_CONF")

rm -rf "$W/state" "$W/rules"
mkdir -p "$W/rules"
RESULTS=$W/results.txt
: >"$RESULTS"
result() { echo "$*" | tee -a "$RESULTS" >&2; }
USER_ADDR=scale-$(date +%s)@support.test
MAILDIR=$STACK/mail/support.test/${USER_ADDR%@*}/Maildir
DB=$W/state/postdesk.db
CONFIG=$W/postdesk.toml
cat >"$CONFIG" <<EOF
[system]
fqdn = "desk-scale.support.test"
auto_reply_limit_per_hour = 1000000
loop_caps = ["1000000/1d"]

[storage]
database = "$DB"
data_dir = "$W/state"
${BENCH_CACHE_MIB:+cache_mib = $BENCH_CACHE_MIB}

[paths]
templates = "$REPO/mail-templates"
rules = "$W/rules"

[log]
format = "plain"
level = "${BENCH_LOG:-info,postdesk::intake::mailbox=debug,postdesk::outbox=debug}"

[smtp]
host = "127.0.0.1"
port = $SMTP_PORT
tls = "none"
max_connections = $CONNS

[[queue]]
name = "bench"

[[mailbox]]
name = "support"
address = "$USER_ADDR"
display_name = "Bench Support"
queue = "bench"
host = "127.0.0.1"
port = $IMAP_PORT
tls = "none"
username = "$USER_ADDR"
password = "$PASSWORD"
after = "move"
move_to = "Processed"
batch_size = $BATCH
EOF
"$BIN" --config "$CONFIG" db migrate >/dev/null

# The database's counters that the run watches, as one line
# "receipts|created|outbox|sent|failed": one sqlite3 call per poll, so
# the poller itself takes little CPU from the run it measures.
COUNTERS_SQL="SELECT
    (SELECT COALESCE(SUM(value), 0) FROM counters WHERE name LIKE 'receipts.%'),
    (SELECT COALESCE(SUM(value), 0) FROM counters WHERE name = 'receipts.created'),
    (SELECT COALESCE(SUM(value), 0) FROM counters WHERE name LIKE 'outbox.%'),
    (SELECT COALESCE(SUM(value), 0) FROM counters WHERE name = 'outbox.sent'),
    (SELECT COALESCE(SUM(value), 0) FROM counters WHERE name = 'outbox.failed')"
counters() { sqlite3 -cmd '.timeout 2000' "$DB" "$COUNTERS_SQL" 2>/dev/null || echo "0|0|0|0|0"; }
sent_now() { counters | cut -d'|' -f4; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "-" }'; }

SUMMARY=$W/summary.md
{
    echo "| messages | import msgs/s | import CPU ms/msg | import peak RSS MiB | IMAP floor s | (a) s | (a) msgs/s | (a)/floor | MTA floor s | (b) s | (b) msgs/s | (b)/MTA floor | CPU ms/msg | peak RSS MiB (anon + file) | latency s (median) | IMAP server part s | postdesk part ms (median / max) | others % |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
} >"$SUMMARY"

held=0   # messages in the database
slice=0
if [[ -n ${BENCH_FROM_DB:-} ]]; then
    # A database built before (a million messages take ~10 minutes to
    # import): the sizes count from what it holds.
    say "copying $BENCH_FROM_DB"
    cp "$BENCH_FROM_DB" "$DB"
    "$BIN" --config "$CONFIG" db migrate >/dev/null
    held=$(sqlite3 "$DB" "SELECT COALESCE(SUM(value), 0) FROM counters WHERE name LIKE 'receipts.%'")
    # Mail not generated for that database (its runs used slices 1, 2, …).
    slice=10
    result "from_db=$BENCH_FROM_DB messages=$held"
fi
for SIZE in $SIZES; do
    slice=$((slice + 1))
    say "size $SIZE"
    # 1. history by import
    hist=$((SIZE - RUN - held))
    imp_rate=- imp_cpu=- imp_rss=-
    if ((hist > 0)); then
        src=$W/import-$slice-$hist
        if [[ ! -d $src/new ]]; then
            rm -rf "$src.tmp"
            python3 bench/gen.py --maildir "$src.tmp" --n "$hist" --to "$USER_ADDR" \
                --tag "h$slice" --seed "$slice" --domain "$DOMAIN" --customers $((hist / 15)) >&2
            mv "$src.tmp" "$src"
        fi
        wait_quiet >/dev/null
        /usr/bin/time -f "%U %S %M %e" -o "$W/import-time.txt" \
            "$BIN" --config "$CONFIG" import maildir "$src" --mailbox support --json \
            >"$W/import-$slice.json" 2>"$W/import-$slice.log"
        read -r user sys rss wall <"$W/import-time.txt"
        imp_rate=$(rate "$hist" "$wall")
        imp_cpu=$(awk -v u="$user" -v s="$sys" -v n="$hist" 'BEGIN { printf "%.3f", (u + s) / n * 1000 }')
        imp_rss=$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')
        held=$((held + hist))
        result "size=$SIZE import messages=$hist wall_s=$wall msgs_per_s=$imp_rate cpu_ms_per_msg=$imp_cpu peak_rss_mib=$imp_rss"
    fi

    # 2. the run's mail into the support mailbox, then the floors
    "${DOVEADM[@]}" mailbox status -u "$USER_ADDR" messages INBOX >/dev/null
    gen=$(python3 bench/gen.py --maildir "$MAILDIR" --n "$RUN" --to "$USER_ADDR" \
        --tag "r$slice" --seed "$((100 + slice))" --domain "$DOMAIN")
    chown -R mail:mail "$MAILDIR"
    count=$(imap_count "$USER_ADDR" INBOX)
    [[ $count == "$RUN" ]] || { echo "IMAP shows $count messages in INBOX, expected $RUN" >&2; exit 70; }
    expect_new=$(sed -n 's/.*\bnew=\([0-9]*\).*/\1/p' <<<"$gen")
    wait_quiet >/dev/null
    floors=()
    for i in 1 2 3; do
        floors+=("$("$FETCH" "$IMAP_PORT" "$USER_ADDR" INBOX | sed -n 's/.*total_s=\([0-9.]*\).*/\1/p')")
    done
    floor=$(printf '%s\n' "${floors[@]}" | median)
    mta=$("$SMTPFLOOR" "$SMTP_PORT" "$expect_new" "$CONNS" "f$slice-$(date +%s)" "$DOMAIN")
    mta_s=$(sed -n 's/.*secs=\([0-9.]*\).*/\1/p' <<<"$mta")
    sleep 2 # let Postfix hand those on before postdesk starts
    busy=$(wait_quiet)

    # 3. the daemon
    IFS='|' read -r rec0 created0 out0 sent0 fail0 <<<"$(counters)"
    busy0=$(busy_ticks) stack0=$(stack_ticks) poll0=$(shell_children_ticks)
    log=$W/daemon-$SIZE.log
    start=${EPOCHREALTIME/./}
    "$BIN" --config "$CONFIG" run >"$log" 2>&1 &
    DAEMON_PID=$!
    ta= tb= limit=$(((300 + RUN / 10) * 1000000))
    while :; do
        IFS='|' read -r rec created out sent failed <<<"$(counters)"
        rec=$((rec - rec0)) created=$((created - created0)) out=$((out - out0))
        sent=$((sent - sent0)) failed=$((failed - fail0))
        now=$((${EPOCHREALTIME/./} - start))
        if [[ -z $ta ]] && ((rec >= RUN && out >= created)); then ta=$now; fi
        if [[ -n $ta ]] && ((sent + failed >= out)); then tb=$now; break; fi
        kill -0 "$DAEMON_PID" 2>/dev/null || { echo "postdesk exited early; see $log" >&2; exit 70; }
        ((now < limit)) || { echo "timed out: receipts=$rec outbox=$out sent=$sent" >&2; break; }
        sleep 0.025
    done
    cpu=$(cpu_secs "$DAEMON_PID")
    threads=$(thread_cpu "$DAEMON_PID")
    io=$(awk '/^sysc/ { printf "%s%d ", $1, $2; next } { printf "%s%.1f ", $1, $2 / 1048576 }' "/proc/$DAEMON_PID/io")
    others=$(awk -v busy="$(($(busy_ticks) - busy0))" -v stack="$(($(stack_ticks) - stack0))" \
        -v poll="$(($(shell_children_ticks) - poll0))" -v pd="$cpu" -v hz="$(getconf CLK_TCK)" \
        -v wall="$now" -v ncpu="$(nproc)" 'BEGIN {
            o = (busy - stack - poll) / hz - pd; if (o < 0) o = 0
            printf "%.0f", 100 * o / (wall / 1000000 * ncpu) }')
    a_s=$(secs "${ta:-0}") b_s=$(secs "${tb:-0}")
    result "size=$SIZE run messages=$RUN created=$created auto_replies=$out sent=$sent failed=$failed imap_floor_s=$floor a_s=$a_s a_msgs_per_s=$(rate "$RUN" "$a_s") mta_floor_s=$mta_s b_s=$b_s b_msgs_per_s=$(rate "$RUN" "$b_s") cpu_s=$cpu others_pct=$others idle_before_pct=$busy"
    result "size=$SIZE thread_cpu_s $threads"
    result "size=$SIZE io_mib $io"

    # 4. latency: one mail at a time, the daemon idling
    sleep 2
    lat=()
    for ((k = 1; k <= SAMPLES; k++)); do
        before=$(sent_now)
        python3 - "$SMTP_PORT" "$USER_ADDR" "lat$k-$SIZE-$(date +%s%N)@$DOMAIN" <<'PY'
import smtplib, sys
port, to, frm = int(sys.argv[1]), sys.argv[2], sys.argv[3]
msg = (f"From: Probe <{frm}>\r\nTo: {to}\r\nSubject: Latency probe {frm}\r\n"
       f"Message-ID: <{frm}>\r\nMIME-Version: 1.0\r\n"
       "Content-Type: text/plain; charset=utf-8\r\n\r\nHow long until you answer?\r\n")
with smtplib.SMTP("127.0.0.1", port) as s:
    s.sendmail(frm, [to], msg)
PY
        for ((i = 0; i < 400; i++)); do
            (($(sent_now) > before)) && break
            sleep 0.025
        done
        sleep 0.3
    done
    lat_line=$(python3 - "$log" "$MAILDIR" "$SAMPLES" <<'PY'
import datetime, os, re, statistics, sys
log, maildir, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def ts(line):
    t = line.split()[0].rstrip("Z")
    return datetime.datetime.fromisoformat(t).replace(tzinfo=datetime.timezone.utc).timestamp()
lines = [re.sub(r"\x1b\[[0-9;]*m", "", l) for l in open(log, errors="replace")]
wakes = [ts(l) for l in lines if "IDLE: the server announced new mail" in l]
sent = [ts(l) for l in lines if "postdesk::outbox: sent outbox=" in l]
# Arrival: Dovecot names each delivered file <secs>.M<usecs>P<pid>...
arrivals = []
for sub in (".Processed/cur", ".Processed/new", "cur", "new"):
    d = os.path.join(maildir, sub)
    for f in os.listdir(d) if os.path.isdir(d) else []:
        m = re.match(r"(\d+)\.M(\d+)P\d+\.(?!bench)", f)
        if m:
            arrivals.append(int(m.group(1)) + int(m.group(2)) / 1e6)
arrivals = sorted(arrivals)[-n:]
total, server, ours = [], [], []
for a in arrivals:
    w = next((x for x in wakes if x >= a), None)
    s = next((x for x in sent if x >= a), None)
    if w is None or s is None or s < w:
        continue
    total.append(s - a); server.append(w - a); ours.append(s - w)
if not total:
    print("samples=0")
else:
    print(f"samples={len(total)} total_median_s={statistics.median(total):.3f} "
          f"server_median_s={statistics.median(server):.3f} "
          f"postdesk_median_ms={statistics.median(ours) * 1000:.1f} "
          f"postdesk_max_ms={max(ours) * 1000:.1f}")
PY
)
    result "size=$SIZE latency $lat_line"
    mem=$(awk '/^(VmHWM|RssAnon|RssFile):/ { printf "%s=%.1f ", $1, $2 / 1024 }' "/proc/$DAEMON_PID/status")
    kill -TERM "$DAEMON_PID"
    wait "$DAEMON_PID" 2>/dev/null || true
    DAEMON_PID=
    held=$((held + RUN + SAMPLES))
    result "size=$SIZE memory_mib $mem"
    if grep -E '^\S+ +(WARN|ERROR) ' <(sed 's/\x1b\[[0-9;]*m//g' "$log") | head -3 >&2; then
        echo "NOTE: WARN/ERROR lines in $log" >&2
    fi

    # 5. the read path (BENCH_READPATH=0: not measured, e.g. when
    # comparing two builds' write paths on copies of one database)
    if [[ ${BENCH_READPATH:-1} != 0 ]]; then
        "$READPATH" "$DB" 0 --search account --search "cache browser" --search "acc*" \
            --search Lorem --search zzyzx >"$W/readpath-$SIZE.txt"
        sed "s/^/size=$SIZE readpath /" "$W/readpath-$SIZE.txt" | tee -a "$RESULTS" >&2
        newest=$("$BIN" --config "$CONFIG" ticket list --limit 1 --json | sed -n 's/.*"number": *"\([^"]*\)".*/\1/p' | head -1)
        for cmd in "ticket show $newest" "ticket list" "ticket search account"; do
            ts=()
            for i in 1 2 3 4 5; do
                t0=$EPOCHREALTIME
                # shellcheck disable=SC2086
                "$BIN" --config "$CONFIG" $cmd >/dev/null
                ts+=("$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", (b - a) * 1000 }')")
            done
            result "size=$SIZE command=\"postdesk ${cmd%% [0-9]*}\" median_ms=$(printf '%s\n' "${ts[@]}" | median)"
        done
    fi

    hwm=$(sed -n 's/.*VmHWM:=\([0-9.]*\).*/\1/p' <<<"$mem")
    anon=$(sed -n 's/.*RssAnon:=\([0-9.]*\).*/\1/p' <<<"$mem")
    file=$(sed -n 's/.*RssFile:=\([0-9.]*\).*/\1/p' <<<"$mem")
    kv() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$lat_line"; }
    echo "| $SIZE | $imp_rate | $imp_cpu | $imp_rss | $(fmt "$floor") | $a_s | $(rate "$RUN" "$a_s") | $(awk -v a="$a_s" -v f="$floor" 'BEGIN { printf "%.1f", a / f }') | $mta_s | $b_s | $(rate "$RUN" "$b_s") | $(awk -v b="$b_s" -v m="$mta_s" 'BEGIN { printf "%.2f", b / m }') | $(awk -v c="$cpu" -v n="$RUN" 'BEGIN { printf "%.3f", c / n * 1000 }') | $hwm ($anon + $file) | $(kv total_median_s) | $(kv server_median_s) | $(kv postdesk_median_ms) / $(kv postdesk_max_ms) | $others |" >>"$SUMMARY"
done

say "summary ($SUMMARY)"
cat "$SUMMARY"
