#!/usr/bin/env bash
# bench/writepath.sh - write-path cost against the size of the database
# (issue 10, item 2). A measurement, not a test: it never fails on time.
#
# Usage: bash bench/writepath.sh [BIG] [N]
#   BIG  messages of history in the large database (default 1000000)
#   N    generated messages imported into each database (default 5000)
#
# 1. bench/gen.py writes N realistic mails (the throughput benchmark's mix)
#    as a maildir.
# 2. Two databases get synthetic history (store::synthetic via
#    examples/bench_readpath, SQL only): N tickets, and BIG tickets, each
#    with one inbound mail (raw message, receipt, Message-ID) and one sent
#    auto-reply.
# 3. `postdesk import maildir --notify` takes the same N mails into each
#    (full durability, one auto-reply rendered and queued per new ticket,
#    as the daemon does). CPU seconds (user + system) of that process are
#    read with /usr/bin/time; CPU per message = CPU / N.
# 4. `postdesk status --json` is timed on both.
# Prints key=value lines. Work folder: target/bench-writepath (kept).
set -euo pipefail
BIG=${1:-1000000}
N=${2:-5000}
REPO=$(cd "$(dirname "$0")/.." && pwd)
W=${BENCH_DIR:-$REPO/target/bench-writepath}
# BENCH_TAG names the databases (db-<tag>-small, db-<tag>-big).
TAG=${BENCH_TAG:-now}
cd "$REPO"
# BENCH_BIN / BENCH_FILL: other builds to measure (e.g. an older commit's).
if [[ -z ${BENCH_BIN:-} ]]; then
    cargo build --release --quiet --bin postdesk --example bench_readpath
fi
BIN=${BENCH_BIN:-$REPO/target/release/postdesk}
FILL=${BENCH_FILL:-$REPO/target/release/examples/bench_readpath}
mkdir -p "$W"
if [[ ! -d $W/mail-$N/new ]]; then
    python3 bench/gen.py --maildir "$W/mail-$N" --n "$N" --to support@bench.test \
        --tag w --domain customer.example >/dev/null
fi

config() { # DIR
    mkdir -p "$1/rules"
    cat >"$1/postdesk.toml" <<TOML
[system]
fqdn = "bench.example.com"
auto_reply_limit_per_hour = 1000000
[storage]
database = "$1/postdesk.db"
data_dir = "$1/data"
[paths]
templates = "$REPO/mail-templates"
rules = "$1/rules"
[smtp]
host = "localhost"
tls = "none"
[[queue]]
name = "bench"
[[mailbox]]
name = "support"
address = "support@bench.test"
queue = "bench"
TOML
}

measure() { # NAME HISTORY
    local d=$W/db-$TAG-$1
    if [[ ! -f $d/filled-$2 ]]; then
        rm -rf "$d"
        config "$d"
        "$BIN" -c "$d/postdesk.toml" db migrate >/dev/null
        "$FILL" "$d/postdesk.db" "$2" 2 >"$d/fill.txt" 2>/dev/null
        cp "$d/postdesk.db" "$d/history.db"
        touch "$d/filled-$2"
    else
        # Start again from the history alone.
        cp "$d/history.db" "$d/postdesk.db"
        rm -f "$d/postdesk.db-wal" "$d/postdesk.db-shm"
    fi
    sync
    /usr/bin/time -f "%U %S %M %e" -o "$d/time.txt" \
        "$BIN" -c "$d/postdesk.toml" import maildir "$W/mail-$N" --mailbox support --notify --json \
        >"$d/import.json" 2>"$d/import.log"
    read -r user sys rss wall <"$d/time.txt"
    local cpu
    cpu=$(python3 -c "print(f'{($user+$sys)/$N*1000:.3f}')")
    echo "$1 history=$2 messages=$N user_s=$user sys_s=$sys wall_s=$wall cpu_ms_per_msg=$cpu peak_rss_kib=$rss db_mib=$(( $(stat -c %s "$d/postdesk.db") / 1048576 ))"
    /usr/bin/time -f "%e" -o "$d/status-time.txt" "$BIN" -c "$d/postdesk.toml" status --json >/dev/null
    echo "$1 status_s=$(cat "$d/status-time.txt")"
}

measure small "$N"
measure big "$BIG"
