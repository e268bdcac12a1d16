#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine, as root:
# installs the mail stack (Dovecot, Postfix), starts a private instance on
# loopback high ports, runs unit and integration tests, stops the stack.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tests/mailstack/mailstack.sh install
# Under /tmp: Dovecot and Postfix drop privileges and must be able to reach
# the folder, which a checkout under a private home folder would not allow.
export POSTDESK_TEST_MAILSTACK="/tmp/postdesk-test-mailstack-$(id -u)"
# A fresh stack every run: nothing left over from an earlier one.
bash tests/mailstack/mailstack.sh stop "$POSTDESK_TEST_MAILSTACK" >/dev/null 2>&1 || true
rm -rf "$POSTDESK_TEST_MAILSTACK"
bash tests/mailstack/mailstack.sh start "$POSTDESK_TEST_MAILSTACK" >/dev/null
trap 'bash tests/mailstack/mailstack.sh stop "$POSTDESK_TEST_MAILSTACK" >/dev/null 2>&1 || true' EXIT

# Integration tests start daemons and wait on real mail: cap parallelism
# so a 2-core machine is not starved.
log=$(mktemp)
set +e
cargo test --all-targets -- --test-threads="${POSTDESK_TEST_THREADS:-4}" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line for the whole suite (cargo prints one per test binary,
# the last of which may be a target without tests).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed;?$/) p += $i; if ($(i+1) ~ /^failed;?$/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
rm -f "$log"
exit "$status"
