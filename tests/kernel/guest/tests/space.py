"""space.py - the NFSv4.2 space operations as the Linux client uses them.

lseek SEEK_DATA/SEEK_HOLE (NFSv4.2 SEEK), posix_fallocate (ALLOCATE) and
fallocate --punch-hole from util-linux (DEALLOCATE) on a sparse file of
the mount; cp --reflink=always (CLONE) and copy_file_range (COPY).  A client whose server lacks SEEK answers SEEK_HOLE with the
file size and SEEK_DATA with the offset itself, and fails the punch with
EOPNOTSUPP, so each check below fails without the server's support.
"""
import errno
import hashlib
import os
import subprocess
import sys
import time

MiB = 1 << 20
PATH = "/mnt/space.bin"


def expect(what, got, want):
    if got != want:
        print(f"space.py: {what}: got {got!r}, expected {want!r}", flush=True)
        sys.exit(1)


def main():
    a, b = os.urandom(MiB), os.urandom(MiB)
    fd = os.open(PATH, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    os.pwrite(fd, a, 0)
    os.pwrite(fd, b, 130 * MiB)  # chunks 1 (64 MiB) and most of 2 stay holes
    os.fsync(fd)
    expect("SEEK_DATA from 0", os.lseek(fd, 0, os.SEEK_DATA), 0)
    expect("SEEK_HOLE from 0", os.lseek(fd, 0, os.SEEK_HOLE), MiB)
    expect("SEEK_DATA from 1 MiB", os.lseek(fd, MiB, os.SEEK_DATA), 130 * MiB)
    expect("SEEK_HOLE from 130 MiB", os.lseek(fd, 130 * MiB, os.SEEK_HOLE), 131 * MiB)
    try:
        os.lseek(fd, 131 * MiB, os.SEEK_DATA)
        expect("SEEK_DATA at the end", "an offset", "ENXIO")
    except OSError as e:
        expect("SEEK_DATA at the end", e.errno, errno.ENXIO)

    os.posix_fallocate(fd, 200 * MiB, MiB)
    expect("size after posix_fallocate", os.fstat(fd).st_size, 201 * MiB)
    expect("SEEK_DATA after 131 MiB", _seek_or_errno(fd, 131 * MiB, os.SEEK_DATA), errno.ENXIO)
    os.close(fd)

    subprocess.run(["fallocate", "--punch-hole", "--offset", "4096", "--length", "8192", PATH], check=True)
    fd = os.open(PATH, os.O_RDONLY)
    head = os.pread(fd, MiB, 0)
    expect("punched bytes are zeros", head[4096:12288] == bytes(8192), True)
    expect("bytes around the hole kept", head[:4096] + head[12288:] == a[:4096] + a[12288:], True)
    expect("SEEK_HOLE from 0 after the punch", os.lseek(fd, 0, os.SEEK_HOLE), 4096)
    expect("SEEK_DATA from 4 KiB after the punch", os.lseek(fd, 4096, os.SEEK_DATA), 12288)
    expect("size after the punch", os.fstat(fd).st_size, 201 * MiB)
    expect("far data kept", os.pread(fd, MiB, 130 * MiB) == b, True)
    os.close(fd)
    os.unlink(PATH)
    clone()
    print("space.py: ok", flush=True)


def clone():
    """cp --reflink=always (FICLONE: CLONE) and copy_file_range (COPY) of a
    1 GiB file: the clone is one metadata call (under a second, where
    copying 1 GiB through this guest takes a minute) and stores no new
    bytes, which the host checks on the object directory between the
    coordination marks src-written / objects-counted / cloned."""
    src, dst = "/mnt/clone-src.bin", "/mnt/clone-dst.bin"
    size = 1024 * MiB
    pattern = os.urandom(MiB)
    started = time.monotonic()
    with open(src, "wb") as f:
        for i in range(size // MiB):
            f.write(_block(pattern, i))
        f.flush()
        os.fsync(f.fileno())
    print(f"GK-INFO space.py: wrote {size // MiB} MiB in {time.monotonic() - started:.1f} s", flush=True)
    _signal("src-written")
    _await("objects-counted")
    started = time.monotonic()
    subprocess.run(["cp", "--reflink=always", src, dst], check=True)
    took = time.monotonic() - started
    print(f"GK-INFO space.py: cp --reflink=always of {size // MiB} MiB took {took:.2f} s", flush=True)
    _signal("cloned")
    expect("cp --reflink=always of 1 GiB took under 1 s", took < 1, True)
    expect("clone size", os.stat(dst).st_size, size)
    # Reading all of it back takes this guest minutes: a MiB in every
    # chunk (64 MiB), at an offset that moves within the chunk.
    samples = [(i * 64 + i % 61) * MiB for i in range(size // (64 * MiB))]
    dfd = os.open(dst, os.O_RDONLY)
    for off in samples:
        expect(f"clone bytes at {off >> 20} MiB", os.pread(dfd, MiB, off), _block(pattern, off // MiB))
    os.close(dfd)
    with open(src, "r+b") as f:  # the clone keeps its own bytes
        f.write(b"x" * 4096)
    drop_caches()
    with open(dst, "rb") as f:
        expect("clone unchanged by a write to its source", f.read(MiB), _block(pattern, 0))
    sfd, dfd = os.open(src, os.O_RDONLY), os.open(dst, os.O_RDWR)
    n = os.copy_file_range(sfd, dfd, 4 * MiB, 10 * MiB, 50 * MiB)
    expect("copy_file_range count", n > 0, True)
    expect("copied bytes", os.pread(dfd, n, 50 * MiB), os.pread(sfd, n, 10 * MiB))
    os.close(sfd)
    os.close(dfd)
    os.unlink(src)
    os.unlink(dst)


def _block(pattern, i):
    """MiB number i of the big file: the pattern with its index in front,
    so that every MiB differs and a misplaced one shows."""
    return i.to_bytes(8, "little") + pattern[8:]


def drop_caches():
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3")


def _signal(name):
    with open(f"/tmp/coord/{name}.tmp", "w") as f:
        f.write("a")
    os.rename(f"/tmp/coord/{name}.tmp", f"/tmp/coord/{name}")


def _await(name, limit=120):
    deadline = time.monotonic() + limit
    while not os.path.exists(f"/tmp/coord/{name}"):
        if time.monotonic() > deadline:
            expect(f"the host's mark {name}", "missing", "present")
        time.sleep(0.2)


def _digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MiB), b""):
            h.update(block)
    return h.hexdigest()


def _seek_or_errno(fd, off, whence):
    try:
        return os.lseek(fd, off, whence)
    except OSError as e:
        return e.errno


main()
