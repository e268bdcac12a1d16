#!/usr/bin/env bash
# Local demo on a fresh Debian 12 machine, as root: builds postdesk, brings
# up a private mail stack on loopback (Dovecot + Postfix), starts the
# daemon on it, sends a customer's mail over SMTP and shows the ticket and
# the auto-reply the customer received.
#
#   scripts/demo.sh          start (or reuse) the demo, send one more sample mail
#   scripts/demo.sh stop     stop the daemon and the mail stack
#
# Everything lives in ./demo: demo/postdesk.toml, demo/state/postdesk.db,
# demo/postdesk.log. The mail stack picks free loopback ports, so it runs
# beside other stacks. Afterwards try (NUMBER from the list):
#   target/release/postdesk --config demo/postdesk.toml ticket list
#   target/release/postdesk --config demo/postdesk.toml ticket show NUMBER
set -euo pipefail
cd "$(dirname "$0")/.."
DEMO=$PWD/demo
# Under /tmp: the mail servers drop privileges and must reach the folder.
STACK=/tmp/postdesk-demo-mailstack
BIN=$PWD/target/release/postdesk

if [[ ${1:-} == stop ]]; then
    [[ -f $DEMO/postdesk.pid ]] && kill "$(cat "$DEMO/postdesk.pid")" 2>/dev/null || true
    rm -f "$DEMO/postdesk.pid"
    bash tests/mailstack/mailstack.sh stop "$STACK" || true
    exit 0
fi

bash tests/mailstack/mailstack.sh install
echo "== building postdesk (release; the first build takes a few minutes)"
cargo build --release --quiet
mkdir -p "$DEMO"
# shellcheck disable=SC1091
bash tests/mailstack/mailstack.sh start "$STACK" >/dev/null
# shellcheck source=/dev/null
source "$STACK/env"

printf '%s\n' "$PASSWORD" > "$DEMO/imap-password"
cat > "$DEMO/postdesk.toml" <<TOML
[system]
fqdn = "helpdesk.demo.test"

[storage]
database = "state/postdesk.db"
data_dir = "state"

[paths]
templates = "$PWD/mail-templates"
rules = "$PWD/rules"

[log]
format = "plain"

[smtp]
host = "127.0.0.1"
port = $SMTP_PORT
tls = "none"

[[queue]]
name = "support"
agents_address = "agents@helpdesk.demo.test"

[[mailbox]]
name = "support"
address = "support@helpdesk.demo.test"
display_name = "Demo Support"
queue = "support"
host = "127.0.0.1"
port = $IMAP_PORT
tls = "none"
username = "support@helpdesk.demo.test"
password_file = "imap-password"
after = "move"
move_to = "Processed"
poll_interval_secs = 5
TOML

"$BIN" --config "$DEMO/postdesk.toml" check
if ! { [[ -f $DEMO/postdesk.pid ]] && kill -0 "$(cat "$DEMO/postdesk.pid")" 2>/dev/null; }; then
    echo "== starting the daemon (log: demo/postdesk.log)"
    nohup "$BIN" --config "$DEMO/postdesk.toml" run >>"$DEMO/postdesk.log" 2>&1 &
    echo $! > "$DEMO/postdesk.pid"
    sleep 1
fi

n=$(date +%s)
inbox=$STACK/mail/customer.test/ana/Maildir/new
replies() { find "$inbox" -type f 2>/dev/null | wc -l; }
before=$(replies)
echo "== a customer writes to support@helpdesk.demo.test"
python3 - "$SMTP_PORT" "$n" <<'PY'
import smtplib, sys
from email.message import EmailMessage
port, n = int(sys.argv[1]), sys.argv[2]
m = EmailMessage()
m["From"] = "Ana Silva <ana@customer.test>"
m["To"] = "support@helpdesk.demo.test"
m["Subject"] = "A impressora não imprime"
m["Message-ID"] = f"<demo-{n}@customer.test>"
m.set_content("Bom dia,\n\na impressora do 2.º andar não imprime desde ontem.\n\nAna\n")
# After set_content, which drops every Content-* header set before it.
m["Content-Language"] = "pt"
with smtplib.SMTP("127.0.0.1", port) as s:
    s.send_message(m)
PY

# Up to 30 s for the daemon to take the mail in and its auto-reply to land.
for _ in $(seq 1 150); do
    if (($(replies) > before)); then
        break
    fi
    sleep 0.2
done
echo "== tickets"
"$BIN" --config "$DEMO/postdesk.toml" ticket list
echo
echo "== the auto-reply in ana@customer.test's mailbox"
f=$(ls -t "$inbox"/* 2>/dev/null | head -1 || true)
if (($(replies) > before)) && [[ -n $f ]]; then
    # Headers decoded (RFC 2047), and the start of the text.
    python3 - "$f" <<'PY'
import sys
from email import policy
from email.parser import BytesParser
with open(sys.argv[1], "rb") as fh:
    m = BytesParser(policy=policy.default).parse(fh)
for h in ("Subject", "From", "To", "Content-Language", "Auto-Submitted"):
    if m[h] is not None:
        print(f"{h}: {m[h]}")
body = m.get_body(preferencelist=("plain",))
if body is not None:
    print()
    print("\n".join(body.get_content().strip().splitlines()[:6]))
PY
else
    echo "(not yet delivered; see demo/postdesk.log)"
fi
number=$("$BIN" --config "$DEMO/postdesk.toml" ticket list --json --limit 1 |
    python3 -c 'import json, sys; t = json.load(sys.stdin); print(t[0]["number"] if t else "")')
echo
if [[ -n $number ]]; then
    echo "Look closer: target/release/postdesk --config demo/postdesk.toml ticket show $number"
fi
echo "Daemon running (pid $(cat "$DEMO/postdesk.pid")). Stop everything with: scripts/demo.sh stop"
