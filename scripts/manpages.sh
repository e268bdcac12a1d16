#!/usr/bin/env bash
# Generate the man pages and shell completions from the CLI definition.
#
#   scripts/manpages.sh [POSTDESK_BINARY] [OUT_DIR]
#
# POSTDESK_BINARY defaults to target/release/postdesk, else target/debug/postdesk
# (build one first: `cargo build --release`). OUT_DIR (default target/generated)
# receives man/man1/*.1 and completions/{postdesk.bash,_postdesk,postdesk.fish}.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-}"
if [[ -z "$bin" ]]; then
    for b in target/release/postdesk target/debug/postdesk; do
        [[ -x "$b" ]] && { bin="$b"; break; }
    done
fi
[[ -n "$bin" && -x "$bin" ]] || { echo "no postdesk binary: run 'cargo build --release' first, or pass its path" >&2; exit 1; }
out="${2:-target/generated}"
rm -rf "$out/man" "$out/completions"
mkdir -p "$out/man/man1" "$out/completions"
"$bin" manpages "$out/man/man1" >/dev/null
"$bin" completions bash >"$out/completions/postdesk.bash"
"$bin" completions zsh >"$out/completions/_postdesk"
"$bin" completions fish >"$out/completions/postdesk.fish"
echo "man pages: $(ls "$out/man/man1" | wc -l) in $out/man/man1; completions in $out/completions"
