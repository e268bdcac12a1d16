#!/usr/bin/env bash
# mailstack.sh - a private, real mail stack on 127.0.0.1 for postdesk's
# integration tests and benchmark: Postfix 3.7 (SMTP) -> Dovecot 2.3 LMTP
# (unix socket) -> Maildir <- Dovecot 2.3 IMAP / IMAPS.
#
# Usage (as root; Debian 12; install needs the Debian package mirrors):
#   mailstack.sh install                       install dovecot-imapd dovecot-lmtpd
#                                              postfix openssl if any is missing
#   mailstack.sh start DIR                     start (or reuse) the stack in DIR,
#                                              print its env (also in DIR/env)
#   mailstack.sh stop DIR                      stop Dovecot, Postfix and any extra
#                                              Postfix instances of DIR
#   mailstack.sh status DIR                    exit 0 if Dovecot and Postfix run
#   mailstack.sh postfix-start DIR NAME [PORT] start an extra Postfix instance
#                                              (DIR/postfix-NAME) on PORT (or a
#                                              free port), print SMTP_PORT=...;
#                                              MAILSTACK_POSTFIX_EXTRA holds
#                                              more main.cf lines for it
#   mailstack.sh postfix-stop DIR NAME         stop that extra instance
#   mailstack.sh dovecot-oauth-start DIR NAME URL
#                                              start an extra Dovecot (DIR/o-NAME)
#                                              serving the same mail over plain
#                                              IMAP on a free port, logging in
#                                              only with XOAUTH2/OAUTHBEARER
#                                              tokens checked at the OAuth2
#                                              introspection endpoint URL;
#                                              print IMAP_PORT=...; its SASL
#                                              socket for Postfix is
#                                              DIR/o-NAME/run/auth-postfix
#   mailstack.sh dovecot-oauth-stop DIR NAME   stop that extra instance
#
# DIR/env (KEY=VALUE, shell-sourceable, values never need quoting):
#   MAILSTACK_DIR  IMAP_PORT  IMAPS_PORT  SMTP_PORT  LMTP_SOCKET  PASSWORD
#   CA_CERT  MAIL_HOST  DOVECOT_CONF  POSTFIX_CONFIG
# e.g.  tests/mailstack/mailstack.sh start /tmp/stack >/dev/null && . /tmp/stack/env
#
# DIR must be an absolute or relative path of at most 70 characters made of
# A-Z a-z 0-9 . _ / + - whose parents the users mail/postfix can traverse.
# Ports are free ports picked at start; a later start of the same DIR
# reuses the previous ports when they are still free. start waits up to
# $MAILSTACK_WAIT_SECS (default 20) seconds for IMAP and SMTP to answer.
# Clients connect to 127.0.0.1 (MAIL_HOST); the IMAPS certificate is valid
# for both 127.0.0.1 and localhost.
#
# Behaviour of the stack:
#   * any user name logs in to IMAP with password "secret"; use the full
#     address (alice@example.test); mail lives in DIR/mail/<domain>/<local>.
#   * SMTP accepts mail from 127.0.0.0/8 only; recipients in any domain
#     ending in ".test" are delivered over LMTP to Dovecot, any local part
#     is accepted ("+detail" goes to the INBOX of the base address); every
#     other domain is accepted and silently discarded (never relayed,
#     never bounced).
#   * IMAPS uses a server certificate signed by a private CA made for DIR;
#     trust CA_CERT (a self-signed CA, PEM) to verify it. The server
#     certificate is for "localhost" and IP 127.0.0.1.
#   * logs: DIR/dovecot/dovecot.log, DIR/postfix/maillog,
#     DIR/postfix-NAME/maillog.
#   * handy: doveadm -c "$DOVECOT_CONF" ..., postqueue -c "$POSTFIX_CONFIG" -p
#
# Several stacks (different DIRs) can run at once. Processes are only ever
# signalled by the PIDs in their own pid files.
set -euo pipefail

PASSWORD=secret
WAIT_SECS=${MAILSTACK_WAIT_SECS:-20}
PACKAGES=(dovecot-imapd dovecot-lmtpd postfix openssl)
MAIL_HOST=127.0.0.1

umask 022
export LC_ALL=C

die() { echo "mailstack: error: $*" >&2; exit 1; }
note() { echo "mailstack: $*" >&2; }

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
    exit 2
}

need_root() { [[ $(id -u) == 0 ]] || die "must run as root"; }

# ---------------------------------------------------------------- install

installed() { [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]; }

cmd_install() {
    need_root
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        installed "$p" || missing+=("$p")
    done
    if ((${#missing[@]} == 0)); then
        note "packages already installed: ${PACKAGES[*]}"
        return 0
    fi
    local log
    log=$(mktemp /tmp/mailstack-install.XXXXXX.log)
    note "installing ${missing[*]} (log: $log)"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get -o DPkg::Lock::Timeout=600 update -q >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        die "apt-get update failed (full log: $log)"
    fi
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    if ! apt-get -o DPkg::Lock::Timeout=600 install -y -q "${missing[@]}" >>"$log" 2>&1; then
        tail -n 30 "$log" >&2
        die "apt-get install ${missing[*]} failed (full log: $log)"
    fi
    for p in "${missing[@]}"; do
        installed "$p" || die "$p still not installed after apt-get (log: $log)"
    done
    rm -f "$log"
    note "installed ${missing[*]}"
}

check_tools() {
    local t
    for t in dovecot doveconf postfix postconf openssl; do
        command -v "$t" >/dev/null 2>&1 || die "$t not found; run: $0 install"
    done
}

# ---------------------------------------------------------------- helpers

# Absolute, normalised DIR; restricted characters so the path can go into
# configs and the env file without quoting.
resolve_dir() {
    [[ -n ${1:-} ]] || usage
    local d
    d=$(realpath -m -- "$1")
    [[ $d =~ ^[A-Za-z0-9._/+-]+$ ]] \
        || die "DIR may only contain A-Z a-z 0-9 . _ / + - (got: $d)"
    [[ $d != / ]] || die "DIR must not be /"
    # Unix socket paths are limited to 107 bytes; the longest one Dovecot
    # creates (DIR/dovecot/run/token-login/imap-urlauth) is DIR + 37.
    ((${#d} <= 70)) || die "DIR path too long for unix sockets (max 70 chars): $d"
    printf '%s\n' "$d"
}

check_name() {
    [[ ${1:-} =~ ^[A-Za-z0-9_-]+$ ]] || die "NAME must match [A-Za-z0-9_-]+ (got: '${1:-}')"
}

check_port() {
    if ! [[ ${1:-} =~ ^[0-9]+$ ]] || (($1 < 1 || $1 > 65535)); then
        die "bad port: '${1:-}'"
    fi
}

PYTHON=$(command -v /usr/bin/python3 || command -v python3 || true)

# Print N distinct ports that are free on 127.0.0.1. Optional further
# arguments are preferred ports (e.g. the ones DIR used last time): each is
# kept if still free. Others are picked at random below the kernel's
# ephemeral range, so outgoing connections do not take them.
pick_ports() {
    local n=$1; shift
    if [[ -n $PYTHON ]]; then
        "$PYTHON" - "$n" "$@" <<'EOF'
import random, socket, sys
n = int(sys.argv[1]); preferred = [int(p) if p.isdigit() else 0 for p in sys.argv[2:]]
def free(p):
    s = socket.socket()
    # SO_REUSEADDR like Dovecot and Postfix: TIME_WAIT leftovers don't count
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        s.close()
out = []
for i in range(n):
    p = preferred[i] if i < len(preferred) else 0
    while not (0 < p < 65536) or p in out or not free(p):
        p = random.randint(20000, 32000)
    out.append(p)
print(" ".join(map(str, out)))
EOF
    else
        local out=() p
        while ((${#out[@]} < n)); do
            p=${1:-}; shift || true
            [[ $p =~ ^[0-9]+$ ]] || p=$((20000 + RANDOM % 12000))
            while [[ " ${out[*]} " == *" $p "* || -n $(ss -Htan "sport = :$p") ]]; do
                p=$((20000 + RANDOM % 12000))
            done
            out+=("$p")
        done
        echo "${out[*]}"
    fi
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# True if PID exists and is not a zombie. (Zombies count as gone: PID 1
# of a container does not always reap orphans promptly.)
alive() {
    local stat rest state
    read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
    rest=${stat##*) }
    state=${rest%% *}
    [[ $state != Z && $state != X ]]
}

# Read a pid file; print the PID if that process is alive.
live_pid() {
    local f=$1 pid
    [[ -r $f ]] || return 1
    pid=$(tr -dc '0-9' 2>/dev/null <"$f" || true)
    [[ -n $pid ]] && alive "$pid" || return 1
    echo "$pid"
}

# PID of DIR's Dovecot master, if running (checked against its command line).
dovecot_pid() {
    local dir=$1 pid
    local cmdline
    pid=$(live_pid "$dir/dovecot/run/master.pid") || return 1
    cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
    [[ $cmdline == *"-c $dir/dovecot/dovecot.conf "* ]] || return 1
    echo "$pid"
}

# PID of the Postfix master whose config directory is $1, if running
# (checked against the MAIL_CONFIG it was started with).
postfix_pid() {
    local conf=$1 pid
    pid=$(live_pid "$(postfix_spool "$conf")/queue/pid/master.pid") || return 1
    local environ
    [[ $(cat 2>/dev/null "/proc/$pid/comm") == master ]] || return 1
    environ=$(tr '\0' '\n' 2>/dev/null <"/proc/$pid/environ") || return 1
    grep -qxF "MAIL_CONFIG=$conf" <<<"$environ" || return 1
    echo "$pid"
}

# SIGTERM a master by PID and wait until it and everything in its session
# (both masters call setsid) have exited; SIGKILL after 15 s.
stop_pid() {
    local pid=$1 what=$2 i
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do
        alive "$pid" || break
        sleep 0.1
    done
    if alive "$pid"; then
        note "$what (pid $pid) did not exit after SIGTERM; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    # leftover children in the master's session
    local left=()
    for ((i = 0; i < 50; i++)); do
        read -r -a left <<<"$(session_pids "$pid")"
        ((${#left[@]} == 0)) && return 0
        sleep 0.1
    done
    note "$what: killing leftover processes ${left[*]}"
    kill -KILL "${left[@]}" 2>/dev/null || true
}

# PIDs of all processes in session SID.
session_pids() {
    local sid=$1 f stat rest state s out=()
    for f in /proc/[0-9]*/stat; do
        read -r stat 2>/dev/null <"$f" || continue
        rest=${stat##*) }                 # drop "pid (comm) "; comm may contain spaces
        read -r state _ _ s _ <<<"$rest"  # state ppid pgrp session
        [[ $s == "$sid" && $state != Z && $state != X ]] && { f=${f#/proc/}; out+=("${f%/stat}"); }
    done
    echo "${out[*]:-}"
}

# Wait until a server greets on PORT with a line matching PATTERN.
wait_greeting() {
    local port=$1 pattern=$2 bye=$3 deadline=$4
    while ((SECONDS < deadline)); do
        # subshell: a failed "exec" redirection would end the whole script
        if (
            exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
            line=
            IFS= read -r -t 2 line <&3 || true
            printf '%s\r\n' "$bye" >&3 || true
            [[ $line =~ $pattern ]]
        ) 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

wait_listen() {
    local port=$1 deadline=$2
    while ((SECONDS < deadline)); do
        port_busy "$port" && return 0
        sleep 0.1
    done
    return 1
}

# Serialise start/stop per DIR. fd 9 must not leak into the daemons.
lock_dir() {
    local dir=$1
    mkdir -p "$dir"
    exec 9>"$dir/.lock"
    flock -w 60 9 || die "could not lock $dir/.lock"
}

# ---------------------------------------------------------------- TLS

# A private CA (CA_CERT) and a server certificate for localhost/127.0.0.1
# signed by it. Not a single self-signed leaf: rustls/webpki rejects a CA
# certificate used as a server certificate (CaUsedAsEndEntity).
make_tls() {
    local t=$1/tls
    if [[ -s $t/ca.pem && -s $t/server.pem && -s $t/server.key ]] \
        && openssl verify -CAfile "$t/ca.pem" "$t/server.pem" >/dev/null 2>&1; then
        return 0
    fi
    mkdir -p "$t"
    cat >"$t/openssl.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = placeholder
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
    local err=$t/openssl.err
    {
        openssl req -config "$t/openssl.cnf" -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
            -nodes -keyout "$t/ca.key" -out "$t/ca.pem" -days 3650 \
            -subj "/CN=postdesk mailstack test CA" -extensions ca_ext &&
        openssl req -config "$t/openssl.cnf" -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
            -nodes -keyout "$t/server.key" -out "$t/server.csr" -subj "/CN=localhost" &&
        openssl x509 -req -in "$t/server.csr" -CA "$t/ca.pem" -CAkey "$t/ca.key" \
            -set_serial "0x1$(openssl rand -hex 8)" -days 825 \
            -extfile "$t/openssl.cnf" -extensions server_ext -out "$t/server.pem"
    } >"$err" 2>&1 || { cat "$err" >&2; die "certificate generation failed"; }
    chmod 600 "$t/ca.key" "$t/server.key"
    chmod 644 "$t/ca.pem" "$t/server.pem"
    rm -f "$t/server.csr" "$err"
}

# ---------------------------------------------------------------- Dovecot

lmtp_socket() { echo "$1/dovecot/run/lmtp"; }

write_dovecot_config() {
    local dir=$1 imap_port=$2 imaps_port=$3
    local uid gid dh="" workers
    uid=$(id -u mail) gid=$(id -g mail)
    [[ -r /usr/share/dovecot/dh.pem ]] && dh="ssl_dh = </usr/share/dovecot/dh.pem"
    workers=$(nproc 2>/dev/null || echo 2)
    ((workers > 8)) && workers=8
    mkdir -p "$dir/dovecot/run" "$dir/dovecot/state" "$dir/mail"
    chown mail:mail "$dir/mail"
    chmod 750 "$dir/mail"
    local id
    id=$(printf '%s' "$dir" | sha256sum | cut -c1-12)
    cat >"$dir/dovecot/dovecot.conf" <<EOF
# Generated by mailstack.sh for $dir - private Dovecot instance, do not edit.
instance_name = postdesk-mailstack-$id
base_dir = $dir/dovecot/run
state_dir = $dir/dovecot/state
log_path = $dir/dovecot/dovecot.log

protocols = imap lmtp
listen = 127.0.0.1
shutdown_clients = yes

ssl = yes
ssl_cert = <$dir/tls/server.pem
ssl_key = <$dir/tls/server.key
$dh

# Any user name with password "$PASSWORD"; the full address is the user.
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_username_format = %Lu
auth_verbose = yes
passdb {
  driver = static
  args = password=$PASSWORD
}
userdb {
  driver = static
  args = uid=$uid gid=$gid home=$dir/mail/%d/%n allow_all_users=yes
}
first_valid_uid = $uid
first_valid_gid = $gid
mail_location = maildir:~/Maildir

mail_max_userip_connections = 1000
mailbox_idle_check_interval = 1 secs
lmtp_save_to_detail_mailbox = no
default_client_limit = 1000

service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $imap_port
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $imaps_port
    ssl = yes
  }
  # high-performance mode: long-lived login processes, no fork per connection
  service_count = 0
  process_min_avail = $workers
  process_limit = $workers
  client_limit = 1000
  vsz_limit = 1G
}
service imap {
  process_limit = 1024
}
service pop3-login {
  inet_listener pop3 {
    port = 0
  }
  inet_listener pop3s {
    port = 0
  }
}
service lmtp {
  unix_listener lmtp {
    mode = 0666
  }
  process_limit = 100
}
EOF
    echo "IMAP_PORT=$imap_port IMAPS_PORT=$imaps_port" >"$dir/dovecot/ports"
}

start_dovecot() {
    local dir=$1 imap_port imaps_port
    local startlog=$dir/dovecot/start.out
    local prev=("$(port_of "$dir/dovecot/ports" IMAP_PORT)" "$(port_of "$dir/dovecot/ports" IMAPS_PORT)")
    for _ in 1 2 3; do
        read -r imap_port imaps_port <<<"$(pick_ports 2 "${prev[@]}")"
        prev=()
        write_dovecot_config "$dir" "$imap_port" "$imaps_port"
        # A master.pid left by a killed instance whose zombie is not yet
        # reaped would make Dovecot refuse to start ("already running").
        rm -f "$dir/dovecot/run/master.pid"
        if dovecot -c "$dir/dovecot/dovecot.conf" </dev/null >"$startlog" 2>&1 9>&-; then
            return 0
        fi
        if grep -qs 'Address already in use' "$startlog"; then
            note "dovecot: port clash, retrying with other ports"
            continue
        fi
        break
    done
    cat "$startlog" >&2
    tail -n 20 "$dir/dovecot/dovecot.log" >&2 2>/dev/null || true
    die "dovecot failed to start (config: $dir/dovecot/dovecot.conf)"
}

# An extra Dovecot for OAuth2 logins: the same users and mail as the main
# one, plain IMAP on PORT only, the oauth2 passdb asking URL (RFC 7662
# introspection, POST) whether a token is active and whose it is.
write_dovecot_oauth_config() {
    local dir=$1 name=$2 url=$3 port=$4 run=$1/o-$2
    local uid gid id
    uid=$(id -u mail) gid=$(id -g mail)
    id=$(printf '%s' "$dir" | sha256sum | cut -c1-12)
    mkdir -p "$run/run" "$run/state"
    cat >"$run/oauth2.conf.ext" <<EOF
introspection_mode = post
introspection_url = $url
username_attribute = username
active_attribute = active
active_value = true
EOF
    cat >"$run/dovecot.conf" <<EOF
# Generated by mailstack.sh for $dir (OAuth2 instance $name), do not edit.
instance_name = postdesk-mailstack-$id-$name
base_dir = $run/run
state_dir = $run/state
log_path = $run/dovecot.log
protocols = imap
listen = 127.0.0.1
shutdown_clients = yes
ssl = no
disable_plaintext_auth = no
auth_mechanisms = xoauth2 oauthbearer
auth_username_format = %Lu
auth_verbose = yes
passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = $run/oauth2.conf.ext
}
userdb {
  driver = static
  args = uid=$uid gid=$gid home=$dir/mail/%d/%n allow_all_users=yes
}
first_valid_uid = $uid
first_valid_gid = $gid
mail_location = maildir:~/Maildir
mail_max_userip_connections = 1000
mailbox_idle_check_interval = 1 secs
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $port
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    port = 0
  }
  inet_listener pop3s {
    port = 0
  }
}
# For a Postfix instance authenticating SMTP clients with these tokens
# (smtpd_sasl_type = dovecot, smtpd_sasl_path = DIR/o-NAME/run/auth-postfix).
service auth {
  unix_listener auth-postfix {
    mode = 0666
  }
}
EOF
    echo "IMAP_PORT=$port" >"$run/port"
}

oauth_dovecot_pid() {
    local run=$1/o-$2 pid cmdline
    pid=$(live_pid "$run/run/master.pid") || return 1
    cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
    [[ $cmdline == *"-c $run/dovecot.conf "* ]] || return 1
    echo "$pid"
}

cmd_dovecot_oauth_start() {
    need_root; check_tools
    local dir name=${2:-} url=${3:-} port run pid
    dir=$(resolve_dir "${1:-}")
    check_name "$name"
    [[ $url =~ ^https?://[A-Za-z0-9.:/_-]+$ ]] || die "URL must be an http(s) URL without spaces (got: '$url')"
    run=$dir/o-$name
    ((${#run} <= 66)) || die "DIR/o-NAME too long for Dovecot's unix sockets (max 66 chars): $run"
    lock_dir "$dir"
    if pid=$(oauth_dovecot_pid "$dir" "$name"); then
        stop_pid "$pid" "dovecot (o-$name)"
    fi
    check_access "$dir"
    local deadline=$((SECONDS + WAIT_SECS))
    for _ in 1 2 3; do
        port=$(pick_ports 1)
        write_dovecot_oauth_config "$dir" "$name" "$url" "$port"
        rm -f "$run/run/master.pid"
        if dovecot -c "$run/dovecot.conf" </dev/null >"$run/start.out" 2>&1 9>&-; then
            if wait_greeting "$port" '^\* OK' 'a LOGOUT' "$deadline"; then
                echo "IMAP_PORT=$port"
                return 0
            fi
            tail -n 30 "$run/dovecot.log" >&2 2>/dev/null || true
            die "Dovecot o-$name did not come up on 127.0.0.1:$port within ${WAIT_SECS}s"
        fi
        grep -qs 'Address already in use' "$run/start.out" || break
        note "dovecot o-$name: port clash, retrying with another port"
    done
    cat "$run/start.out" >&2
    die "dovecot o-$name failed to start (config: $run/dovecot.conf)"
}

cmd_dovecot_oauth_stop() {
    need_root
    local dir name=${2:-} pid
    dir=$(resolve_dir "${1:-}")
    check_name "$name"
    [[ -d $dir ]] || return 0
    lock_dir "$dir"
    if pid=$(oauth_dovecot_pid "$dir" "$name"); then
        stop_pid "$pid" "dovecot (o-$name)"
    fi
    rm -rf "${dir:?}/o-$name"
}

# ---------------------------------------------------------------- Postfix

# Queue and data directories of the Postfix instance whose config directory
# is CONF (DIR/postfix -> DIR/spool/postfix). They must live outside CONF:
# "postfix check" wants everything below the config directory owned by root.
postfix_spool() { echo "$(dirname "$1")/spool/$(basename "$1")"; }

# One function writes every Postfix instance: config directory CONF,
# SMTP on 127.0.0.1:PORT, .test domains -> LMTP socket, the rest discarded.
write_postfix_config() {
    local conf=$1 port=$2 lmtp=$3 logname=$4 spool
    spool=$(postfix_spool "$conf")
    mkdir -p "$conf" "$spool/queue" "$spool/data"
    chown root:root "$conf" "$spool" "$spool/queue"
    chmod 755 "$conf" "$spool" "$spool/queue"
    chown postfix:root "$spool/data"
    chmod 700 "$spool/data"
    printf '%s\n' '/\.test$/ OK' >"$conf/virtual_domains.regexp"
    printf '%s\n' '/./ OK' >"$conf/virtual_mailboxes.regexp"
    cat >"$conf/main.cf" <<EOF
# Generated by mailstack.sh - private Postfix instance, do not edit.
compatibility_level = 3.6
queue_directory = $spool/queue
data_directory = $spool/data
syslog_name = $logname
maillog_file = $conf/maillog
maillog_file_prefixes = $conf
mail_owner = postfix
setgid_group = postdrop

myhostname = mail.postdesk.test
mydomain = postdesk.test
myorigin = \$myhostname
mydestination =
local_recipient_maps =
local_transport = error:local delivery is disabled
alias_maps =
alias_database =
relay_domains =
biff = no
append_dot_mydomain = no
# Behave like a real MX for our loopback clients: no header rewriting, no
# added Message-ID/Date/From, so tests see exactly what they sent.
local_header_rewrite_clients =
always_add_missing_headers = no

inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions =
smtpd_reject_unlisted_recipient = no
smtpd_reject_unlisted_sender = no
smtpd_peername_lookup = no
smtpd_banner = \$myhostname ESMTP postdesk mailstack
message_size_limit = 52428800
mailbox_size_limit = 0
virtual_mailbox_limit = 0

# support+tag@ is support@'s mail, as on a real MX (reply addresses with
# a token, support+t<ticket>-<token>@, rely on it); Dovecot's LMTP drops
# the +tag too (recipient_delimiter "+", lmtp_save_to_detail_mailbox=no).
recipient_delimiter = +

# every *.test domain -> Dovecot LMTP, any local part accepted
virtual_mailbox_domains = regexp:$conf/virtual_domains.regexp
virtual_mailbox_maps = regexp:$conf/virtual_mailboxes.regexp
virtual_transport = lmtp:unix:$lmtp
# everything else is accepted and dropped: nothing leaves, nothing bounces
default_transport = discard:not delivered from the postdesk test stack
relay_transport = discard:not delivered from the postdesk test stack

# no DNS
smtp_dns_support_level = disabled
smtp_host_lookup = native
lmtp_host_lookup = native
${MAILSTACK_POSTFIX_EXTRA:-}

# fast delivery and retries
default_process_limit = 50
lmtp_destination_concurrency_limit = 20
lmtp_initial_destination_concurrency = 10
in_flow_delay = 0s
queue_run_delay = 5s
minimal_backoff_time = 5s
maximal_backoff_time = 10s
delay_warning_time = 0h
smtpd_error_sleep_time = 0s
EOF
    cat >"$conf/master.cf" <<EOF
# Generated by mailstack.sh - nothing chrooted.
# service          type  private unpriv chroot wakeup maxproc command
127.0.0.1:$port    inet  n       -      n      -      -       smtpd
pickup             unix  n       -      n      60     1       pickup
cleanup            unix  n       -      n      -      0       cleanup
qmgr               unix  n       -      n      300    1       qmgr
rewrite            unix  -       -      n      -      -       trivial-rewrite
bounce             unix  -       -      n      -      0       bounce
defer              unix  -       -      n      -      0       bounce
trace              unix  -       -      n      -      0       bounce
verify             unix  -       -      n      -      1       verify
flush              unix  n       -      n      1000?  0       flush
proxymap           unix  -       -      n      -      -       proxymap
proxywrite         unix  -       -      n      -      1       proxymap
showq              unix  n       -      n      -      -       showq
error              unix  -       -      n      -      -       error
retry              unix  -       -      n      -      -       error
discard            unix  -       -      n      -      -       discard
lmtp               unix  -       -      n      -      -       lmtp
smtp               unix  -       -      n      -      -       smtp
relay              unix  -       -      n      -      -       smtp
anvil              unix  -       -      n      -      1       anvil
scache             unix  -       -      n      -      1       scache
postlog            unix-dgram n  -      n      -      1       postlogd
EOF
    echo "SMTP_PORT=$port" >"$conf/port"
    # "postfix start" sleeps until main.cf/master.cf are older than "now"
    # (up to ~2 s after a rewrite); back-date them to skip that wait.
    touch -d "@$(($(date +%s) - 5))" "$conf/main.cf" "$conf/master.cf" "$conf"/*.regexp
}

# Start the Postfix instance in CONF on PORT ("" = pick a free port).
start_postfix() {
    local conf=$1 port=$2 lmtp=$3 logname=$4 p logsize
    local startlog=$conf/start.out
    local prev
    prev=$(port_of "$conf/port" SMTP_PORT)
    for _ in 1 2 3; do
        p=$port
        [[ -n $p ]] || p=$(pick_ports 1 ${prev:+"$prev"})
        prev=
        write_postfix_config "$conf" "$p" "$lmtp" "$logname"
        rm -f "$(postfix_spool "$conf")/queue/pid/"inet.*   # stale per-port lock files
        logsize=$(stat -c %s "$conf/maillog" 2>/dev/null || echo 0)
        if postfix -c "$conf" start </dev/null >"$startlog" 2>&1 9>&-; then
            return 0
        fi
        # only this attempt's part of the maillog
        if [[ -z $port ]] && { cat "$startlog"; tail -c +$((logsize + 1)) "$conf/maillog" 2>/dev/null; } \
                | grep 'Address already in use' >/dev/null; then
            note "postfix: port clash, retrying with another port"
            continue
        fi
        break
    done
    cat "$startlog" >&2
    tail -n 20 "$conf/maillog" >&2 2>/dev/null || true
    die "postfix failed to start (config: $conf)"
}

# port_of FILE KEY: the number after KEY= in FILE (empty if none).
port_of() {
    [[ -r $1 ]] || return 0
    sed -nE "/^(.*[^A-Z_])?$2=[0-9]/{s/^(.*[^A-Z_])?$2=([0-9]+).*/\2/p;q}" "$1"
}

# ---------------------------------------------------------------- commands

write_env() {
    local dir=$1
    local imap imaps smtp
    imap=$(port_of "$dir/dovecot/ports" IMAP_PORT)
    imaps=$(port_of "$dir/dovecot/ports" IMAPS_PORT)
    smtp=$(port_of "$dir/postfix/port" SMTP_PORT)
    cat >"$dir/env.tmp" <<EOF
MAILSTACK_DIR=$dir
IMAP_PORT=$imap
IMAPS_PORT=$imaps
SMTP_PORT=$smtp
LMTP_SOCKET=$(lmtp_socket "$dir")
PASSWORD=$PASSWORD
CA_CERT=$dir/tls/ca.pem
MAIL_HOST=$MAIL_HOST
DOVECOT_CONF=$dir/dovecot/dovecot.conf
POSTFIX_CONFIG=$dir/postfix
EOF
    mv -f "$dir/env.tmp" "$dir/env"
}

# Dovecot's mail and postfix's LMTP client need to reach into DIR.
check_access() {
    local dir=$1 u
    chmod 755 "$dir"
    for u in mail postfix dovenull; do
        setpriv --reuid="$u" --regid="$(id -g "$u")" --clear-groups -- test -x "$dir" 2>/dev/null \
            || die "user $u cannot enter $dir; make its parent directories world-searchable (chmod o+x)"
    done
}

cmd_start() {
    need_root; check_tools
    local dir
    dir=$(resolve_dir "${1:-}")
    lock_dir "$dir"
    if dovecot_pid "$dir" >/dev/null && postfix_pid "$dir/postfix" >/dev/null && [[ -s $dir/env ]]; then
        cat "$dir/env"
        return 0
    fi
    check_access "$dir"
    local deadline=$((SECONDS + WAIT_SECS))
    make_tls "$dir"
    dovecot_pid "$dir" >/dev/null || start_dovecot "$dir"
    postfix_pid "$dir/postfix" >/dev/null \
        || start_postfix "$dir/postfix" "" "$(lmtp_socket "$dir")" "postfix-mailstack"
    write_env "$dir"
    local imap imaps smtp
    imap=$(port_of "$dir/env" IMAP_PORT)
    imaps=$(port_of "$dir/env" IMAPS_PORT)
    smtp=$(port_of "$dir/env" SMTP_PORT)
    if ! wait_greeting "$imap" '^\* OK' 'a LOGOUT' "$deadline" \
        || ! wait_listen "$imaps" "$deadline"; then
        tail -n 30 "$dir/dovecot/dovecot.log" >&2 2>/dev/null || true
        die "Dovecot IMAP did not come up on 127.0.0.1:$imap/$imaps within ${WAIT_SECS}s"
    fi
    if ! wait_greeting "$smtp" '^220 ' 'QUIT' "$deadline"; then
        tail -n 30 "$dir/postfix/maillog" >&2 2>/dev/null || true
        die "Postfix SMTP did not come up on 127.0.0.1:$smtp within ${WAIT_SECS}s"
    fi
    while [[ ! -S $(lmtp_socket "$dir") ]]; do
        ((SECONDS < deadline)) || die "LMTP socket $(lmtp_socket "$dir") missing"
        sleep 0.1
    done
    cat "$dir/env"
}

stop_postfix_conf() {
    local conf=$1 pid
    if pid=$(postfix_pid "$conf"); then
        stop_pid "$pid" "postfix ($conf)"
    fi
}

cmd_stop() {
    need_root
    local dir pid conf
    dir=$(resolve_dir "${1:-}")
    [[ -d $dir ]] || return 0
    lock_dir "$dir"
    for conf in "$dir"/postfix-*/ "$dir"/postfix/; do
        [[ -f $conf/main.cf ]] && stop_postfix_conf "${conf%/}"
    done
    for conf in "$dir"/o-*/; do
        [[ -f $conf/dovecot.conf ]] || continue
        conf=${conf%/}
        if pid=$(oauth_dovecot_pid "$dir" "${conf##*/o-}"); then
            stop_pid "$pid" "dovecot (${conf##*/})"
        fi
    done
    if pid=$(dovecot_pid "$dir"); then
        stop_pid "$pid" "dovecot"
    fi
    return 0
}

cmd_status() {
    local dir rc=0 pid conf
    dir=$(resolve_dir "${1:-}")
    if pid=$(dovecot_pid "$dir"); then echo "dovecot: running (pid $pid)"
    else echo "dovecot: stopped"; rc=1; fi
    if pid=$(postfix_pid "$dir/postfix"); then echo "postfix: running (pid $pid)"
    else echo "postfix: stopped"; rc=1; fi
    for conf in "$dir"/postfix-*/; do
        [[ -f $conf/main.cf ]] || continue
        conf=${conf%/}
        if pid=$(postfix_pid "$conf"); then echo "${conf##*/}: running (pid $pid)"
        else echo "${conf##*/}: stopped"; fi
    done
    return $rc
}

cmd_postfix_start() {
    need_root; check_tools
    local dir name=${2:-} port=${3:-} conf pid running
    dir=$(resolve_dir "${1:-}")
    check_name "$name"
    [[ -z $port ]] || check_port "$port"
    conf=$dir/postfix-$name
    lock_dir "$dir"
    if pid=$(postfix_pid "$conf"); then
        running=$(port_of "$conf/port" SMTP_PORT)
        if [[ -n $port && $port != "$running" ]]; then
            die "postfix-$name already runs on port $running (asked for $port); stop it first"
        fi
        echo "SMTP_PORT=$running"
        return 0
    fi
    check_access "$dir"
    if [[ -n $port ]] && port_busy "$port"; then
        die "port $port on 127.0.0.1 is already in use"
    fi
    dovecot_pid "$dir" >/dev/null || note "warning: Dovecot of $dir is not running; mail will be deferred"
    local deadline=$((SECONDS + WAIT_SECS))
    start_postfix "$conf" "$port" "$(lmtp_socket "$dir")" "postfix-mailstack-$name"
    port=$(port_of "$conf/port" SMTP_PORT)
    if ! wait_greeting "$port" '^220 ' 'QUIT' "$deadline"; then
        tail -n 30 "$conf/maillog" >&2 2>/dev/null || true
        die "postfix-$name did not come up on 127.0.0.1:$port within ${WAIT_SECS}s"
    fi
    echo "SMTP_PORT=$port"
}

cmd_postfix_stop() {
    need_root
    local dir name=${2:-}
    dir=$(resolve_dir "${1:-}")
    check_name "$name"
    [[ -d $dir ]] || return 0
    lock_dir "$dir"
    stop_postfix_conf "$dir/postfix-$name"
}

case ${1:-} in
    install) shift; cmd_install "$@" ;;
    start) shift; cmd_start "$@" ;;
    stop) shift; cmd_stop "$@" ;;
    status) shift; cmd_status "$@" ;;
    postfix-start) shift; cmd_postfix_start "$@" ;;
    postfix-stop) shift; cmd_postfix_stop "$@" ;;
    dovecot-oauth-start) shift; cmd_dovecot_oauth_start "$@" ;;
    dovecot-oauth-stop) shift; cmd_dovecot_oauth_stop "$@" ;;
    *) usage ;;
esac
