#!/usr/bin/env bash
# Which pages does storing mail write? Imports N generated mails (with
# --notify, so auto-replies are queued) into a copy of DATABASE while
# another connection holds a read transaction open — no checkpoint can
# copy or reset the WAL meanwhile — then counts the WAL's frames per table
# and index (bench/walframes.py). Compare a small database with a large
# one to see what grows with history (BENCHMARKS.md, "What grows at a
# million").
#
# usage: bench/walframes.sh BIN DATABASE WORKDIR [N]
#   BIN       the postdesk binary (it migrates the copy first)
#   DATABASE  a postdesk database (e.g. bench/scale.sh's state/postdesk.db)
#   WORKDIR   scratch folder (emptied; holds the copy: as large as DATABASE)
#   N         mails to import (default 1000)
set -euo pipefail
if (($# < 3)); then
    sed -n '2,/^set/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 64
fi
BIN=$1 SRC=$2 W=$3 N=${4:-1000}
REPO=$(cd "$(dirname "$0")/.." && pwd)
ADDR=walframes@support.test
rm -rf "$W"
mkdir -p "$W/state" "$W/rules"
cp "$SRC" "$W/state/postdesk.db"
cat >"$W/postdesk.toml" <<CONF
[system]
fqdn = "desk-walframes.support.test"
auto_reply_limit_per_hour = 1000000
loop_caps = ["1000000/1d"]
[storage]
database = "$W/state/postdesk.db"
data_dir = "$W/state"
[paths]
templates = "$REPO/mail-templates"
rules = "$W/rules"
[smtp]
host = "127.0.0.1"
port = 9
tls = "none"
[[queue]]
name = "bench"
[[mailbox]]
name = "support"
address = "$ADDR"
queue = "bench"
host = "127.0.0.1"
port = 9
tls = "none"
username = "$ADDR"
password = "unused"
after = "move"
move_to = "Processed"
CONF
"$BIN" --config "$W/postdesk.toml" db migrate >/dev/null 2>&1
sqlite3 "$W/state/postdesk.db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
python3 "$REPO/bench/gen.py" --maildir "$W/mail" --n "$N" --to "$ADDR" --tag wf \
    --seed 4242 --domain customer.example >/dev/null
# The reader: a transaction begun before the import and left open.
mkfifo "$W/reader"
sqlite3 "$W/state/postdesk.db" <"$W/reader" >/dev/null &
reader=$!
exec 3>"$W/reader"
echo "BEGIN; SELECT count(*) FROM queues;" >&3
sleep 1
/usr/bin/time -f "import: %U s user, %S s system, %M KiB peak RSS, %e s" \
    "$BIN" --config "$W/postdesk.toml" import maildir "$W/mail" --mailbox support --notify \
    >/dev/null 2>"$W/import.log"
tail -1 "$W/import.log"
# Count before the reader leaves: the last connection to close
# checkpoints and deletes the WAL.
python3 "$REPO/bench/walframes.py" "$W/state/postdesk.db"
exec 3>&-
wait "$reader" || true
