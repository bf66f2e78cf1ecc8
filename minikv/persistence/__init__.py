"""Persistence in layers, as Redis's rdb.c: the BGSAVE command -> fork and reap (snapshot.py) ->
save to a file (temp, fsync, rename, fsync dir) -> the format writer over any stream (format.py).
The child reports progress and copy-on-write through a small fixed message (childinfo.py)."""
