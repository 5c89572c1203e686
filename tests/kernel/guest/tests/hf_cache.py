"""hf_cache.py - one client of the Hugging Face hub cache layout on NFS.

Run at the same time on two guests (roles a and b) against the same cache
directory.  Each guest "downloads" the same files the way huggingface_hub
does: under a FileLock per blob, into a temporary file that is renamed to
blobs/<sha256>, then refs/main and relative symlinks
snapshots/<rev>/<name> -> ../../blobs/<sha256>.  Afterwards both read every
file through its symlink with cold caches and check its SHA-256.

With NFSv3 nolock the FileLock is local to each guest, so both may write the
same blob: temporary names are unique per writer and rename is atomic, so a
blob is written once or by both with identical bytes, never torn.  With
real locks (NFSv4, or NLM) every blob must have been written by one guest
only: the lock excludes.
"""
import hashlib
import json
import os
import random
import sys
import threading
import time

from filelock import FileLock

ROLE = sys.argv[1]
CACHE = "/mnt/hf-cache/hub"
REPO = "models--gatefs--tiny-model"
REV = "0123456789abcdef0123456789abcdef01234567"
COORD = "/coord"
# name -> size; content is a fixed pseudo-random stream, the same on both
# guests, as if downloaded from the same hub.
FILES = {"config.json": 2_000, "tokenizer.json": 300_000, "model.safetensors": 24 << 20}
STEP_FILE = "/tmp/step"


def step(text):
    print(f"GK-STEP [{ROLE}] hf: {text}", flush=True)


def content(name, size):
    return random.Random(f"{name}:{size}").randbytes(size)


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def signal(name):
    with open(f"{COORD}/{name}.tmp", "w") as f:
        f.write(ROLE)
    os.rename(f"{COORD}/{name}.tmp", f"{COORD}/{name}")


def await_signal(name, seconds=300):
    deadline = time.monotonic() + seconds
    while not os.path.exists(f"{COORD}/{name}"):
        failed = [n for n in os.listdir(COORD) if n.startswith("failed-")]
        if failed:
            raise SystemExit(f"{failed} while waiting for {name}")
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {name}")
        time.sleep(0.2)


def atomic_write(path, data):
    tmp = f"{path}.{ROLE}.{os.getpid()}.incomplete"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def download(repo_dir, name, data):
    """Returns True if this guest wrote the blob."""
    sha = hashlib.sha256(data).hexdigest()
    blob = f"{repo_dir}/blobs/{sha}"
    wrote = False
    with FileLock(f"{CACHE}/.locks/{REPO}/{sha}.lock", timeout=120):
        if not os.path.exists(blob):
            atomic_write(blob, data)
            wrote = True
    link = f"{repo_dir}/snapshots/{REV}/{name}"
    target = f"../../blobs/{sha}"
    try:
        os.symlink(target, link)
    except FileExistsError:
        if os.readlink(link) != target:
            raise SystemExit(f"{link} points to {os.readlink(link)}, not {target}")
    return wrote


class BlobWatcher(threading.Thread):
    """Reads every published blob while the downloads run, as another
    process loading the model would: a blob that exists must be complete."""

    def __init__(self, blobs_dir, expected_shas):
        super().__init__(daemon=True)
        self.blobs_dir, self.expected = blobs_dir, set(expected_shas)
        self.stop, self.reads, self.error = threading.Event(), 0, None

    def run(self):
        while not self.stop.is_set() and self.error is None:
            for name in os.listdir(self.blobs_dir):
                if name in self.expected:
                    got = sha256_of(f"{self.blobs_dir}/{name}")
                    self.reads += 1
                    if got != name:
                        self.error = f"blob {name} read while published has sha256 {got}"
            time.sleep(0.1)


def main():
    repo_dir = f"{CACHE}/{REPO}"
    step("make cache directories")
    for d in (f"{CACHE}/.locks/{REPO}", f"{repo_dir}/blobs", f"{repo_dir}/refs", f"{repo_dir}/snapshots/{REV}"):
        os.makedirs(d, exist_ok=True)
    signal(f"ready-{ROLE}")
    # Start together so the downloads really overlap.
    await_signal("ready-a")
    await_signal("ready-b")

    expected = {}
    written = {}
    shas = [hashlib.sha256(content(n, s)).hexdigest() for n, s in FILES.items()]
    watcher = BlobWatcher(f"{repo_dir}/blobs", shas)
    watcher.start()
    for name, size in FILES.items():
        step(f"download {name}")
        data = content(name, size)
        expected[name] = hashlib.sha256(data).hexdigest()
        written[name] = download(repo_dir, name, data)
    step("write refs/main")
    atomic_write(f"{repo_dir}/refs/main", REV.encode())
    with open(f"{COORD}/written-{ROLE}.json", "w") as f:
        json.dump(written, f)
    signal(f"done-{ROLE}")
    await_signal("done-a")
    await_signal("done-b")
    watcher.stop.set()
    watcher.join()
    if watcher.error:
        raise SystemExit(watcher.error)
    step(f"{watcher.reads} reads of published blobs during the downloads were all complete")

    step("read every file through its symlink with cold caches")
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3")
    with open(f"{repo_dir}/refs/main") as f:
        if f.read() != REV:
            raise SystemExit("refs/main has the wrong revision")
    for name, sha in expected.items():
        link = f"{repo_dir}/snapshots/{REV}/{name}"
        if os.readlink(link) != f"../../blobs/{sha}":
            raise SystemExit(f"{link} -> {os.readlink(link)}")
        got = sha256_of(link)
        if got != sha:
            raise SystemExit(f"{name}: sha256 {got}, expected {sha}")
        if os.path.getsize(link) != FILES[name]:
            raise SystemExit(f"{name}: size {os.path.getsize(link)}, expected {FILES[name]}")
    step("no temporary files left, one blob per file")
    # A blob replaced while this client still had it open was renamed to
    # .nfsXXXX by this client (silly rename) and goes at its last close,
    # asynchronously: give the client a moment to remove it.
    for _ in range(50):
        blobs = sorted(os.listdir(f"{repo_dir}/blobs"))
        if not any(n.startswith(".nfs") for n in blobs):
            break
        time.sleep(0.2)
    if blobs != sorted(expected.values()):
        raise SystemExit(f"blobs directory holds {blobs}")
    leftovers = [n for n in os.listdir(f"{repo_dir}/refs") if n != "main"]
    if leftovers:
        raise SystemExit(f"refs directory holds {leftovers}")
    # Both guests wrote some blob only when the local-only locks overlapped;
    # say so, since it is the case this test exists for.
    with open(f"{COORD}/written-a.json") as fa, open(f"{COORD}/written-b.json") as fb:
        wa, wb = json.load(fa), json.load(fb)
    both = [n for n in FILES if wa.get(n) and wb.get(n)]
    step(f"blobs written by both guests (identical bytes): {both or 'none'}")
    # With real locks (NLM or NFSv4: no nolock) the FileLock excludes across
    # guests: whoever takes it second finds the blob and writes nothing.
    if "nolock" not in os.environ.get("GK_OPTS", "").split(",") and both:
        raise SystemExit(f"both guests downloaded {both} although the lock is shared: it did not exclude")


if __name__ == "__main__":
    main()
