#!/usr/bin/env python3
"""Which crates' code is resident in a running process.

    python3 bench/resident.py PID [TOP]

Reads the executable's mappings from /proc/PID/maps, which of their pages
are present from /proc/PID/pagemap (the process's user or root), and
the binary's symbols with `nm`, then shares every resident page among the
crates whose functions lie in it. bench/run.sh calls it when
BENCH_RESIDENT is set, before it stops the daemon. Prints KiB per crate,
largest first, and the total.
"""
import bisect
import collections
import os
import re
import subprocess
import sys

PAGE = os.sysconf("SC_PAGE_SIZE")
CRATE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)::")


def crate_of(name):
    # `<hashbrown::raw::RawTable<T> as Drop>::drop` is hashbrown's code,
    # `_<impl foo::Bar>::baz` foo's; C symbols (SQLite, libc glue) have no path.
    m = CRATE.search(name)
    if m:
        return m.group(1)
    if name.startswith("sqlite3") or name.startswith("fts5"):
        return "(sqlite)"
    return "(other)"


def mappings(pid, exe):
    out = []
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            parts = line.split(None, 5)
            if len(parts) == 6 and os.path.realpath(parts[5].strip()) == exe:
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                out.append((lo, hi, parts[1], int(parts[2], 16)))
    return out


def present(pid, lo, hi):
    pages = []
    with open(f"/proc/{pid}/pagemap", "rb") as f:
        f.seek(lo // PAGE * 8)
        data = f.read((hi - lo) // PAGE * 8)
    for i in range(len(data) // 8):
        entry = int.from_bytes(data[i * 8:i * 8 + 8], "little")
        if entry >> 63:
            pages.append(lo + i * PAGE)
    return pages


def symbols(exe):
    text = subprocess.run(
        ["nm", "--defined-only", "-n", "-S", "-C", exe],
        capture_output=True, text=True, check=True).stdout
    syms = []
    for line in text.splitlines():
        parts = line.split(" ", 3)
        if len(parts) == 4 and parts[2] in {"t", "T", "w", "W"}:
            syms.append((int(parts[0], 16), int(parts[1], 16), parts[3]))
    return syms


def main():
    pid = int(sys.argv[1])
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 25
    exe = os.path.realpath(f"/proc/{pid}/exe")
    maps = mappings(pid, exe)
    if not maps:
        sys.exit(f"no mapping of {exe} in process {pid} (binary replaced while it runs?)")
    base = min(lo - off for lo, _, _, off in maps)
    syms = symbols(exe)
    starts = [s[0] for s in syms]
    kib = collections.Counter()
    resident = 0
    for lo, hi, perm, _ in maps:
        if "x" not in perm:
            continue
        for page in present(pid, lo, hi):
            resident += PAGE
            a, b = page - base, page - base + PAGE
            i = max(bisect.bisect_right(starts, a) - 1, 0)
            shares = collections.Counter()
            while i < len(syms) and syms[i][0] < b:
                s_lo, size, name = syms[i]
                overlap = min(b, s_lo + size) - max(a, s_lo)
                if overlap > 0:
                    shares[crate_of(name)] += overlap
                i += 1
            total = sum(shares.values())
            if total == 0:
                kib["(no symbol)"] += PAGE / 1024
                continue
            for crate, n in shares.items():
                kib[crate] += PAGE / 1024 * n / total
    for crate, k in kib.most_common(top):
        print(f"{k:8.0f} KiB  {crate}")
    print(f"{resident / 1024:8.0f} KiB  resident code in all")


if __name__ == "__main__":
    main()
