#!/usr/bin/env bash
# Build a Debian package of postdesk with dpkg-deb (no cargo-deb needed).
#
#   scripts/package-deb.sh [--binary PATH] [--out DIR]
#
# By default it builds the release binary (`cargo build --release --locked`)
# and writes target/debian/postdesk_<version>_<arch>.deb. --binary packages
# a binary built elsewhere (it is stripped of debug info on the way).
#
# What goes where:
#   /usr/bin/postdesk                                   the binary
#   /lib/systemd/system/postdesk.service                the unit (paths to /usr/bin)
#   /usr/lib/sysusers.d/postdesk.conf                   system user and group
#   /usr/lib/tmpfiles.d/postdesk.conf                   /etc/postdesk, /var/lib/postdesk
#   /usr/share/postdesk/mail-templates/                 shipped templates
#   /etc/postdesk/rules/*.toml                          shipped rules (conffiles)
#   /usr/share/doc/postdesk/examples/postdesk.toml      example configuration
#   /usr/share/doc/postdesk/{README.md,copyright,…}     documentation
#   /usr/share/man/man1/postdesk*.1.gz                  man pages (from the CLI)
#   bash, zsh and fish completions                      (from the CLI)
# The package does not enable or start the daemon on first install (it needs
# /etc/postdesk/postdesk.toml first); an upgrade restarts it if it runs.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=""
out="target/debian"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --binary) bin="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        -h|--help) sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 64 ;;
    esac
done
command -v dpkg-deb >/dev/null || { echo "dpkg-deb is needed (apt-get install dpkg)" >&2; exit 69; }
if [[ -z "$bin" ]]; then
    cargo build --release --locked
    bin=target/release/postdesk
fi
[[ -x "$bin" ]] || { echo "no executable at $bin" >&2; exit 66; }

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
maintainer="${DEB_MAINTAINER:-postdesk maintainers <maintainers@postdesk.example.org>}"
arch=$(dpkg --print-architecture)
pkg="$out/postdesk_${version}_${arch}"
rm -rf "$pkg"
mkdir -p "$pkg/DEBIAN"

# The binary, without debug info.
install -D -m 0755 "$bin" "$pkg/usr/bin/postdesk"
# Debian policy: shipped binaries are stripped (backtraces then name
# addresses only; keep the unstripped binary of a release for post-mortems).
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$pkg/usr/bin/postdesk"

# systemd: the repository's unit with the packaged binary's path.
install -d "$pkg/lib/systemd/system" "$pkg/usr/lib/sysusers.d" "$pkg/usr/lib/tmpfiles.d"
sed 's|/usr/local/bin/postdesk|/usr/bin/postdesk|g' systemd/postdesk.service \
    >"$pkg/lib/systemd/system/postdesk.service"
chmod 0644 "$pkg/lib/systemd/system/postdesk.service"
install -m 0644 systemd/postdesk.sysusers "$pkg/usr/lib/sysusers.d/postdesk.conf"
install -m 0644 systemd/postdesk.tmpfiles "$pkg/usr/lib/tmpfiles.d/postdesk.conf"

# Templates (data) and rules (configuration the operator edits).
install -d "$pkg/usr/share/postdesk" "$pkg/etc/postdesk/rules"
cp -r mail-templates "$pkg/usr/share/postdesk/"
install -m 0644 rules/*.toml "$pkg/etc/postdesk/rules/"

# Documentation and the example configuration, pointing at the packaged paths.
doc="$pkg/usr/share/doc/postdesk"
install -d "$doc/examples"
sed -e 's|^templates = "mail-templates"|templates = "/usr/share/postdesk/mail-templates"|' \
    -e 's|^rules = "rules"|rules = "/etc/postdesk/rules"|' \
    config.example.toml >"$doc/examples/postdesk.toml"
install -m 0644 README.md ARCHITECTURE.md "$doc/"
install -m 0644 rules/README.md "$doc/rules.md"
gzip -9n -c CHANGELOG.md >"$doc/CHANGELOG.md.gz"
# A native package's changelog.gz is in Debian's format.
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
printf 'postdesk (%s) unstable; urgency=medium\n\n  * Built from commit %s; the changes are in CHANGELOG.md.gz.\n\n -- %s  %s\n' \
    "$version" "$commit" "$maintainer" "$(date -R -u -d "@$(git log -1 --format=%ct 2>/dev/null || date +%s)")" \
    | gzip -9n >"$doc/changelog.gz"
cat >"$doc/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: postdesk
Source: postdesk

Files: *
Copyright: 2026 postdesk authors
License: MIT or Apache-2.0
 On Debian systems the Apache License 2.0 is in
 /usr/share/common-licenses/Apache-2.0. The MIT licence:
 .
 Permission is hereby granted, free of charge, to any person obtaining a copy
 of this software and associated documentation files (the "Software"), to deal
 in the Software without restriction, including without limitation the rights
 to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
 copies of the Software, and to permit persons to whom the Software is
 furnished to do so, subject to the following conditions:
 .
 The above copyright notice and this permission notice shall be included in
 all copies or substantial portions of the Software.
 .
 THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
 IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
 FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
 AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
 LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
 OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
 SOFTWARE.
EOF

# Man pages and completions, generated by the binary from its CLI definition.
gen=$(mktemp -d)
trap 'rm -rf "$gen"' EXIT
scripts/manpages.sh "$pkg/usr/bin/postdesk" "$gen" >/dev/null
install -d "$pkg/usr/share/man/man1"
for page in "$gen"/man/man1/*.1; do
    gzip -9n -c "$page" >"$pkg/usr/share/man/man1/$(basename "$page").gz"
done
install -D -m 0644 "$gen/completions/postdesk.bash" "$pkg/usr/share/bash-completion/completions/postdesk"
install -D -m 0644 "$gen/completions/_postdesk" "$pkg/usr/share/zsh/vendor-completions/_postdesk"
install -D -m 0644 "$gen/completions/postdesk.fish" "$pkg/usr/share/fish/vendor_completions.d/postdesk.fish"

# Control files. libc6: the newest GLIBC symbol version the binary needs.
glibc=$(objdump -T "$pkg/usr/bin/postdesk" | sed -n 's/.*GLIBC_\([0-9.]*\).*/\1/p' | sort -uV | tail -1)
# Packed relocations (build.rs) need glibc 2.36, a version without symbols.
if objdump -p "$pkg/usr/bin/postdesk" | grep -q GLIBC_ABI_DT_RELR; then
    glibc=$(printf '%s\n2.36\n' "$glibc" | sort -V | tail -1)
fi
size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
cat >"$pkg/DEBIAN/control" <<EOF
Package: postdesk
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: libc6 (>= $glibc), libgcc-s1, systemd | systemd-standalone-sysusers | systemd-sysusers, init-system-helpers (>= 1.52)
Section: mail
Priority: optional
Homepage: https://postdesk.invalid/
Description: email-driven ticketing daemon
 postdesk reads support mailboxes over IMAP (or mail piped in by an MTA),
 turns each mail into a new ticket or a follow-up, stores everything in
 SQLite and sends templated notifications over SMTP. It runs as a
 hardened systemd service (Type=notify, watchdog), with health and
 Prometheus metrics endpoints, backups and quarantine handling.
EOF
(cd "$pkg" && find etc -type f | sed 's|^|/|' | sort) >"$pkg/DEBIAN/conffiles"
(cd "$pkg" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0 md5sum) >"$pkg/DEBIAN/md5sums"

# Maintainer scripts as debhelper writes them (dh_installsysusers,
# dh_installtmpfiles, dh_installsystemd), except that a first install does
# not enable or start the daemon: it needs /etc/postdesk/postdesk.toml.
cat >"$pkg/DEBIAN/postinst" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = "configure" ]; then
    # The system user and group, then /etc/postdesk and /var/lib/postdesk.
    systemd-sysusers ${DPKG_ROOT:+--root="$DPKG_ROOT"} postdesk.conf
    if [ -x "$(command -v systemd-tmpfiles)" ]; then
        systemd-tmpfiles ${DPKG_ROOT:+--root="$DPKG_ROOT"} --create postdesk.conf || true
    fi
    chgrp postdesk /etc/postdesk/rules && chmod 0750 /etc/postdesk/rules
fi
if [ "$1" = "configure" ] || [ "$1" = "abort-upgrade" ] || [ "$1" = "abort-deconfigure" ] || [ "$1" = "abort-remove" ]; then
    # debhelper's "--no-enable" snippet: an operator's enabling is kept
    # across upgrades; a first install enables nothing.
    if deb-systemd-helper debian-installed 'postdesk.service'; then
        deb-systemd-helper unmask 'postdesk.service' >/dev/null || true
        if deb-systemd-helper --quiet was-enabled 'postdesk.service'; then
            deb-systemd-helper enable 'postdesk.service' >/dev/null || true
        fi
    fi
    deb-systemd-helper update-state 'postdesk.service' >/dev/null || true
    if [ -d /run/systemd/system ]; then
        systemctl --system daemon-reload >/dev/null || true
        if [ -n "$2" ]; then
            # An upgrade: restart the daemon if it runs.
            deb-systemd-invoke try-restart 'postdesk.service' >/dev/null || true
        fi
    fi
fi
if [ "$1" = "configure" ] && [ -z "$2" ] && [ ! -e /etc/postdesk/postdesk.toml ]; then
    echo "postdesk: write /etc/postdesk/postdesk.toml (example: /usr/share/doc/postdesk/examples/postdesk.toml),"
    echo "          check it with 'postdesk check', then 'systemctl enable --now postdesk'."
fi
exit 0
EOF
cat >"$pkg/DEBIAN/prerm" <<'EOF'
#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
    deb-systemd-invoke stop 'postdesk.service' >/dev/null || true
fi
exit 0
EOF
cat >"$pkg/DEBIAN/postrm" <<'EOF'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
    systemctl --system daemon-reload >/dev/null || true
fi
if [ "$1" = "remove" ]; then
    if [ -x "/usr/bin/deb-systemd-helper" ]; then
        deb-systemd-helper mask 'postdesk.service' >/dev/null || true
    fi
fi
if [ "$1" = "purge" ]; then
    if [ -x "/usr/bin/deb-systemd-helper" ]; then
        deb-systemd-helper purge 'postdesk.service' >/dev/null || true
        deb-systemd-helper unmask 'postdesk.service' >/dev/null || true
    fi
    # The database and attachments are the helpdesk's history: never
    # deleted by the package; nor the system user (files may be its).
    if [ -d /var/lib/postdesk ]; then
        echo "postdesk: /var/lib/postdesk (database, attachments) is kept; remove it by hand if no longer needed."
    fi
fi
exit 0
EOF
chmod 0755 "$pkg/DEBIAN/postinst" "$pkg/DEBIAN/prerm" "$pkg/DEBIAN/postrm"

# Files owned by root, directories 0755 (dpkg-deb keeps the modes given).
find "$pkg" -type d -exec chmod 0755 {} +
find "$pkg" -type f ! -path "$pkg/DEBIAN/*" ! -path "$pkg/usr/bin/*" -exec chmod 0644 {} +
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$pkg.deb" >/dev/null
rm -rf "$pkg"
echo "$pkg.deb"
