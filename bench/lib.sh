# bench/lib.sh - helpers shared by bench/run.sh and bench/scale.sh (sourced).
# They read the caller's STACK, FETCH, IMAP_PORT and QUIET_WAIT.

say() { printf '\n== %s\n' "$*" >&2; }

imap_count() { "$FETCH" "$IMAP_PORT" "$1" "$2" count | sed -n 's/^exists=//p'; }

# Mails delivered to this run's customers (Maildir files).
delivered() {
    local tag=$1
    find "$STACK/mail/$DOMAIN" -mindepth 4 -maxdepth 4 -type f \
        -path "*-$tag/Maildir/new/*" 2>/dev/null | wc -l
}
# Does Postfix deliver mail for $DOMAIN (into Dovecot) or discard it?
delivering() { [[ $DOMAIN == *.test ]]; }

fmt() { awk -v x="$1" 'BEGIN { printf "%.3f", x }'; }
secs() { awk -v us="$1" 'BEGIN { printf "%.3f", us / 1000000 }'; }
# Share (%) of all CPUs busy over the next 2 seconds, from /proc/stat.
cpu_busy() {
    local a b
    a=($(head -1 /proc/stat)); sleep 2; b=($(head -1 /proc/stat))
    awk -v u="$((b[1] + b[2] + b[3] + b[6] + b[7] - a[1] - a[2] - a[3] - a[6] - a[7]))" \
        -v i="$((b[4] + b[5] - a[4] - a[5]))" 'BEGIN { printf "%.0f", 100 * u / (u + i) }'
}

# Wait (up to QUIET_WAIT s) until other processes leave the CPUs alone:
# the benchmark shares the machine with whatever else runs on it.
wait_quiet() {
    local busy deadline=$((SECONDS + QUIET_WAIT))
    while :; do
        busy=$(cpu_busy)
        ((busy < 10 || SECONDS >= deadline)) && break
        echo "machine busy ($busy % CPU used by others); waiting" >&2
        sleep 5
    done
    ((busy < 10)) || echo "WARNING: machine still busy ($busy %); figures will be low" >&2
    echo "$busy"
}

# CPU ticks so far: all CPUs busy (/proc/stat); this mail stack (every
# process in the Dovecot and Postfix masters' sessions, with what their
# reaped children used); this shell's reaped children (the poller).
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
stack_ticks() {
    local d p
    d=$(tr -dc 0-9 <"$STACK/dovecot/run/master.pid" 2>/dev/null || true)
    p=$(tr -dc 0-9 <"$STACK/spool/postfix/queue/pid/master.pid" 2>/dev/null || true)
    cat /proc/[0-9]*/stat 2>/dev/null | awk -v a="${d:-x}" -v b="${p:-x}" '
        { sub(/^.*\) /, ""); split($0, f, " ")
          if (f[4] == a || f[4] == b) t += f[12] + f[13] + f[14] + f[15] }
        END { print t + 0 }'
}
shell_children_ticks() { sed 's/^.*) //' "/proc/$$/stat" | awk '{ print $14 + $15 }'; }

# User + system CPU seconds of a live process.
cpu_secs() {
    local f
    read -r -a f <<<"$(sed 's/^.*) //' "/proc/$1/stat")"
    awk -v t="$((f[11] + f[12]))" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }'
}

# CPU seconds of each of a process's threads, summed by thread name, as
# "name=secs ..." (which part of the daemon grows with the database).
thread_cpu() {
    local hz
    hz=$(getconf CLK_TCK)
    for t in /proc/"$1"/task/*; do
        printf '%s\t%s\n' "$(tr ' ' _ <"$t/comm")" "$(sed 's/^.*) //' "$t/stat" | awk '{ print $12 + $13 }')"
    done | awk -F'\t' -v hz="$hz" '{ c[$1] += $2 } END { for (n in c) printf "%s=%.2f ", n, c[n] / hz }'
}

rate() { awk -v n="$1" -v t="$2" 'BEGIN { if (t > 0) printf "%.0f", n / t; else print "-" }'; }

# Install and start the bench mail stack in $STACK; on exit stop the
# daemon in $DAEMON_PID and, unless BENCH_KEEP_STACK=1, the stack.
start_stack() {
    say "starting the bench mail stack in $STACK"
    bash "$REPO/tests/mailstack/mailstack.sh" install
    bash "$REPO/tests/mailstack/mailstack.sh" start "$STACK" >/dev/null
    DAEMON_PID=
    trap stop_all EXIT
    trap 'exit 130' INT TERM
}
stop_all() {
    if [[ -n $DAEMON_PID ]] && kill -0 "$DAEMON_PID" 2>/dev/null; then
        kill -TERM "$DAEMON_PID" 2>/dev/null || true
        wait "$DAEMON_PID" 2>/dev/null || true
    fi
    if [[ ${BENCH_KEEP_STACK:-0} != 1 ]]; then
        bash "$REPO/tests/mailstack/mailstack.sh" stop "$STACK" || true
    fi
}
