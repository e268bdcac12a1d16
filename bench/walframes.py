#!/usr/bin/env python3
"""Count a database's WAL frames by the b-tree each page belongs to.

usage: walframes.py DATABASE

Reads DATABASE-wal's frame headers (page numbers, up to the first frame
of another checkpoint generation) and names each page's table or index
through SQLite's dbstat view; prints frames and distinct pages per
b-tree. Run it while the WAL still holds what you want counted (see
walframes.sh: a reader keeps checkpoints from resetting it).
"""
import collections
import sqlite3
import struct
import sys

db = sys.argv[1]
with open(db + "-wal", "rb") as f:
    wal = f.read()
_magic, _version, page_size, _seq, salt1, salt2, _c1, _c2 = struct.unpack(">8I", wal[:32])
frames, commits, off = [], 0, 32
while off + 24 + page_size <= len(wal):
    page, commit, s1, s2, _k1, _k2 = struct.unpack(">6I", wal[off:off + 24])
    if (s1, s2) != (salt1, salt2):
        break
    frames.append(page)
    commits += bool(commit)
    off += 24 + page_size
owner = dict(
    (page, name)
    for name, page in sqlite3.connect(db).execute("SELECT name, pageno FROM dbstat")
)
per_tree = collections.Counter(owner.get(p, "(free)") for p in frames)
distinct = collections.Counter(owner.get(p, "(free)") for p in set(frames))
print(f"frames={len(frames)} distinct_pages={len(set(frames))} commits={commits}")
for name, n in per_tree.most_common():
    print(f"{n:8d} {distinct[name]:8d}  {name}")
