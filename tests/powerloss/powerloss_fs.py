#!/usr/bin/python3
"""A filesystem that can simulate pulling the plug, for ZenMesh's power-loss tests.

    powerloss_fs.py mount <backing> <state> <mountpoint>
        Serves <backing> at <mountpoint> (FUSE, foreground, one operation at a time). Reads and
        writes pass through, and the filesystem remembers what a power loss would keep: each file's
        content as of its last fsync/fdatasync (a shadow copy under <state>/synced), each
        directory's entries as of its last directory fsync (<state>/dirs), and the writes since
        (<state>/pending, in order, each numbered). Whatever <backing> holds at mount counts as synced.
        Writing "plug" to <mountpoint>/.powerloss is the power loss: from then on every operation
        fails with EIO and nothing more becomes durable.

    powerloss_fs.py rebuild <state> <target> [--unsynced-prefix SEED]
        Builds <target> as the disk would be after the power loss: the synced directory entries with
        the synced content of their files. With --unsynced-prefix, also a random prefix (chosen by
        SEED) of the writes made after the last syncs, in the order they were made, as ALICE does:
        the disk may have written any of them, in order, before the power went.

Why a filesystem of its own: a killed process's writes stay in the page cache and reach the disk
anyway, so killing a process cannot tell whether it synced. Only what fsync made durable survives
here.
"""
import errno
import json
import os
import random
import struct
import sys

CONTROL = "/.powerloss"
RECORD = struct.Struct("<QBQQ")  # sequence, kind (0 write, 1 truncate), offset or length, data length
WRITE, TRUNCATE = 0, 1


def escape(path):
    return "root" if path == "/" else "root" + path.replace("%", "%25").replace("/", "%2F")


class Durability:
    """What a power loss would keep, kept on disk under <state>."""

    def __init__(self, state):
        self.state = state
        for sub in ("synced", "dirs", "pending"):
            os.makedirs(os.path.join(state, sub), exist_ok=True)
        self.ids = {}  # path -> file id (ours: inode numbers are reused)
        self.next_id = 1
        self.sequence = 0

    def id_of(self, path):
        if path not in self.ids:
            self.ids[path] = self.next_id
            self.next_id += 1
        return self.ids[path]

    def synced(self, file_id):
        return os.path.join(self.state, "synced", str(file_id))

    def pending(self, file_id):
        return os.path.join(self.state, "pending", str(file_id))

    def adopt(self, backing):
        """Everything already in <backing> is synced: copy files, record every directory."""
        for root, dirs, files in os.walk(backing):
            relative = os.path.relpath(root, backing)
            rel = "/" if relative == "." else "/" + relative
            for name in files:
                path = (rel.rstrip("/") + "/" + name)
                with open(os.path.join(root, name), "rb") as source, open(self.synced(self.id_of(path)), "wb") as copy:
                    copy.write(source.read())
            self.sync_dir(rel, os.path.join(backing, rel.lstrip("/")))

    def record(self, path, kind, position, data=b""):
        self.sequence += 1
        with open(self.pending(self.id_of(path)), "ab") as log:
            log.write(RECORD.pack(self.sequence, kind, position, len(data)))
            log.write(data)

    def sync_file(self, path):
        file_id = self.id_of(path)
        pending = self.pending(file_id)
        if not os.path.exists(pending):
            return
        apply(self.synced(file_id), read_records(pending), lambda _: True)
        os.remove(pending)

    def sync_dir(self, path, real):
        entries = {}
        for name in os.listdir(real):
            child = path.rstrip("/") + "/" + name
            if child == CONTROL:
                continue
            if os.path.isdir(os.path.join(real, name)):
                entries[name] = {"dir": True}
            else:
                entries[name] = {"id": self.id_of(child)}
        write_json(os.path.join(self.state, "dirs", escape(path) + ".json"), entries)

    def renamed(self, old, new):
        moved = {p: i for p, i in self.ids.items() if p == old or p.startswith(old + "/")}
        for p in moved:
            del self.ids[p]
        self.ids.pop(new, None)
        for p, i in moved.items():
            self.ids[new + p[len(old):]] = i

    def forget(self, path):
        self.ids.pop(path, None)


def read_records(path):
    with open(path, "rb") as log:
        data = log.read()
    at = 0
    while at + RECORD.size <= len(data):
        sequence, kind, position, length = RECORD.unpack_from(data, at)
        at += RECORD.size
        yield sequence, kind, position, data[at:at + length]
        at += length


def apply(target, records, keep):
    mode = "r+b" if os.path.exists(target) else "w+b"
    with open(target, mode) as f:
        for sequence, kind, position, payload in records:
            if not keep(sequence):
                continue
            if kind == WRITE:
                f.seek(position)
                f.write(payload)
            else:
                f.truncate(position)


def write_json(path, value):
    with open(path + ".tmp", "w") as f:
        json.dump(value, f)
    os.replace(path + ".tmp", path)


def mount(backing, state, mountpoint):
    from fusepy import FUSE, FuseOSError, Operations

    durability = Durability(state)
    durability.adopt(backing)

    class PowerLossFs(Operations):
        def __init__(self):
            self.plugged = False

        def real(self, path):
            return os.path.join(backing, path.lstrip("/"))

        def alive(self):
            if self.plugged:
                raise FuseOSError(errno.EIO)

        def __call__(self, op, path, *args):
            if path == CONTROL and op in ("getattr", "open", "create", "write", "truncate", "flush", "release", "utimens", "chmod", "chown"):
                return self.control(op, *args)
            self.alive()
            try:
                return getattr(self, op)(path, *args)
            except OSError as e:
                if isinstance(e, FuseOSError):
                    raise
                raise FuseOSError(e.errno or errno.EIO)

        def control(self, op, *args):
            if op == "getattr":
                return {"st_mode": 0o100600, "st_nlink": 1, "st_size": 0}
            if op in ("open", "create"):
                return 0
            if op == "write":
                data = args[0]
                if data.strip() == b"plug":
                    self.plugged = True
                return len(data)
            return 0

        def access(self, path, mode):
            if not os.access(self.real(path), mode):
                raise FuseOSError(errno.EACCES)

        def getattr(self, path, fh=None):
            st = os.lstat(self.real(path))
            return {k: getattr(st, k) for k in ("st_atime", "st_ctime", "st_gid", "st_mode", "st_mtime", "st_nlink", "st_size", "st_uid")}

        def readdir(self, path, fh):
            return [".", ".."] + os.listdir(self.real(path))

        def statfs(self, path):
            st = os.statvfs(self.real(path))
            return {k: getattr(st, k) for k in ("f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail", "f_ffree", "f_files", "f_flag", "f_frsize", "f_namemax")}

        def chmod(self, path, mode):
            os.chmod(self.real(path), mode)

        def chown(self, path, uid, gid):
            os.chown(self.real(path), uid, gid)

        def utimens(self, path, times=None):
            os.utime(self.real(path), times)

        def mkdir(self, path, mode):
            os.mkdir(self.real(path), mode)

        def rmdir(self, path):
            os.rmdir(self.real(path))

        def unlink(self, path):
            os.unlink(self.real(path))
            durability.forget(path)

        def rename(self, old, new):
            os.rename(self.real(old), self.real(new))
            durability.renamed(old, new)

        def open(self, path, flags):
            durability.id_of(path)
            return os.open(self.real(path), flags & ~os.O_CREAT)

        def create(self, path, mode, fi=None):
            # Read and write whatever the caller asked for: a mapping (SQLite's -shm) reads through this handle.
            fh = os.open(self.real(path), os.O_RDWR | os.O_CREAT, mode)
            durability.forget(path)
            durability.id_of(path)
            durability.record(path, TRUNCATE, 0)
            return fh

        def read(self, path, size, offset, fh):
            return os.pread(fh, size, offset)

        def write(self, path, data, offset, fh):
            written = os.pwrite(fh, data, offset)
            durability.record(path, WRITE, offset, bytes(data[:written]))
            return written

        def truncate(self, path, length, fh=None):
            if fh is None:
                os.truncate(self.real(path), length)
            else:
                os.ftruncate(fh, length)
            durability.record(path, TRUNCATE, length)

        def flush(self, path, fh):
            return 0

        def release(self, path, fh):
            os.close(fh)
            return 0

        def fsync(self, path, datasync, fh):
            durability.sync_file(path)
            return 0

        def opendir(self, path):
            return 0

        def releasedir(self, path, fh):
            return 0

        def fsyncdir(self, path, datasync, fh):
            durability.sync_dir(path, self.real(path))
            return 0

    # No attribute or entry caching: a size the kernel remembered would let a mapping (SQLite's -shm) reach past the file.
    FUSE(PowerLossFs(), mountpoint, foreground=True, nothreads=True, default_permissions=True, attr_timeout=0, entry_timeout=0, negative_timeout=0)


def rebuild(state, target, seed):
    cutoff = None
    if seed is not None:
        pending = [s for f in os.listdir(os.path.join(state, "pending")) for s, _, _, _ in read_records(os.path.join(state, "pending", f))]
        cutoff = random.Random(seed).randint(0, max(pending, default=0))
    os.makedirs(target, exist_ok=True)
    lost = {"files": 0, "unsynced_writes_kept": 0}

    def build(path, into):
        listing = os.path.join(state, "dirs", escape(path) + ".json")
        entries = json.load(open(listing)) if os.path.exists(listing) else {}
        for name, entry in entries.items():
            child = path.rstrip("/") + "/" + name
            if entry.get("dir"):
                os.makedirs(os.path.join(into, name), exist_ok=True)
                build(child, os.path.join(into, name))
                continue
            destination = os.path.join(into, name)
            synced = os.path.join(state, "synced", str(entry["id"]))
            with open(destination, "wb") as out:
                if os.path.exists(synced):
                    with open(synced, "rb") as source:
                        out.write(source.read())
            pending = os.path.join(state, "pending", str(entry["id"]))
            if cutoff is not None and os.path.exists(pending):
                records = [r for r in read_records(pending) if r[0] <= cutoff]
                lost["unsynced_writes_kept"] += len(records)
                apply(destination, records, lambda _: True)

    build("/", target)
    print(json.dumps(lost))


def main(argv):
    if len(argv) >= 4 and argv[0] == "mount":
        mount(argv[1], argv[2], argv[3])
    elif len(argv) >= 3 and argv[0] == "rebuild":
        seed = int(argv[4]) if len(argv) >= 5 and argv[3] == "--unsynced-prefix" else None
        rebuild(argv[1], argv[2], seed)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
