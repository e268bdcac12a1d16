#!/usr/bin/env bash
# Build the Debian package with cargo-deb (`cargo install cargo-deb`), from
# the [package.metadata.deb] section of Cargo.toml.
#
#   scripts/cargo-deb.sh [--out DIR]
#
# Builds the release binary, generates what the package installs but the
# repository does not hold as such (into target/deb-assets/: man pages and
# completions from the CLI definition, the unit with /usr/bin paths, the
# example configuration with the packaged paths, a Debian changelog), then
# runs `cargo deb --no-build`. The package lands in target/debian/ (or DIR).
# What goes where is listed in Cargo.toml; scripts/package-deb.sh builds the
# same package with dpkg-deb alone, for machines without cargo-deb.
set -euo pipefail
cd "$(dirname "$0")/.."

out=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --out) out="$2"; shift 2 ;;
        -h|--help) sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 64 ;;
    esac
done
cargo deb --version >/dev/null 2>&1 \
    || { echo "cargo-deb is needed: cargo install cargo-deb --locked (or use scripts/package-deb.sh)" >&2; exit 69; }

cargo build --release --locked
bin=target/release/postdesk
assets=target/deb-assets
rm -rf "$assets"
mkdir -p "$assets/systemd" "$assets/man"

# systemd: the unit with the packaged binary's path; the sysusers and
# tmpfiles snippets under the names cargo-deb (like debhelper) looks for.
sed 's|/usr/local/bin/postdesk|/usr/bin/postdesk|g' systemd/postdesk.service >"$assets/systemd/postdesk.service"
cp systemd/postdesk.sysusers "$assets/systemd/postdesk.sysusers"
cp systemd/postdesk.tmpfiles "$assets/systemd/postdesk.tmpfile"

# The example configuration, pointing at the packaged paths.
sed -e 's|^templates = "mail-templates"|templates = "/usr/share/postdesk/mail-templates"|' \
    -e 's|^rules = "rules"|rules = "/etc/postdesk/rules"|' \
    config.example.toml >"$assets/postdesk.toml"

# Man pages (gzipped, as Debian ships them) and completions.
gen=$(mktemp -d)
trap 'rm -rf "$gen"' EXIT
scripts/manpages.sh "$bin" "$gen" >/dev/null
for page in "$gen"/man/man1/*.1; do
    gzip -9n -c "$page" >"$assets/man/$(basename "$page").gz"
done
cp -r "$gen/completions" "$assets/completions"

# A native package's changelog is in Debian's format.
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
printf 'postdesk (%s-1) unstable; urgency=medium\n\n  * Built from commit %s; the changes are in changelog.gz.\n\n -- %s  %s\n' \
    "$version" "$commit" "postdesk maintainers <maintainers@postdesk.example.org>" \
    "$(date -R -u -d "@$(git log -1 --format=%ct 2>/dev/null || date +%s)")" >"$assets/changelog"
gzip -9n -c CHANGELOG.md >"$assets/CHANGELOG.md.gz"

cargo deb --no-build ${out:+--output "$out"}
