#!/usr/bin/python3
"""scripts/fetch-cifar10.sh without the network: small fake archives (a
tar.gz holding cifar-10-batches-bin/ with six files of FILE_SIZE bytes)
stand in for cifar-10-binary.tar.gz, their own MD5 for the published one
(NIBBLE_CIFAR10_MD5, NIBBLE_CIFAR10_FILE_SIZE). A good archive must be
unpacked and reported; a wrong MD5, a truncated or corrupt archive, an
archive short of a file and an unreachable URL must be refused, saying why,
with nothing left behind; a complete folder already there must be left
alone; NIBBLE_DATA naming an incomplete folder must name what is missing.
The download cases that must succeed fetch a file:// URL through curl, and
are skipped when curl is not installed."""
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "fetch-cifar10.sh"
FILES = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
FILE_SIZE = 1000
UNREACHABLE = "http://127.0.0.1:9/cifar-10-binary.tar.gz"  # nothing listens on port 9 (discard)


def make_archive(path, files=FILES, size=FILE_SIZE):
    with tarfile.open(path, "w:gz") as tar:
        folder = tarfile.TarInfo("cifar-10-batches-bin")
        folder.type, folder.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(folder)
        for index, name in enumerate(files + ["batches.meta.txt"]):
            data = bytes([index + 1]) * size
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def md5(path):
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def fill(folder, files=FILES, size=FILE_SIZE):
    folder.mkdir(parents=True)
    for name in files:
        (folder / name).write_bytes(b"\x07" * size)


def run(*args, md5_expected=None, nibble_data=None):
    env = {k: v for k, v in os.environ.items() if k not in ("NIBBLE_DATA", "NIBBLE_CIFAR10_MD5")}
    env["NIBBLE_CIFAR10_FILE_SIZE"] = str(FILE_SIZE)
    if md5_expected:
        env["NIBBLE_CIFAR10_MD5"] = md5_expected
    if nibble_data:
        env["NIBBLE_DATA"] = str(nibble_data)
    p = subprocess.run(["/bin/sh", str(SCRIPT), *map(str, args)], env=env, capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout + p.stderr


def snapshot(folder):
    return {p.relative_to(folder): (p.stat().st_mtime_ns, p.read_bytes()) for p in folder.rglob("*") if p.is_file()}


def main():
    failures = []

    def check(name, condition, output):
        print(("ok:   " if condition else "FAIL: ") + name)
        if not condition:
            failures.append(name)
            print("      " + output.replace("\n", "\n      "))

    have_curl = shutil.which("curl") is not None
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        good = make_archive(tmp / "good.tar.gz")
        good_md5 = md5(good)
        wrong_md5 = "0" * 32

        # A good archive with its own MD5: unpacked, checked and reported; no temporary left.
        dest = tmp / "a"
        code, out = run("--archive", good, "--dest", dest, md5_expected=good_md5)
        folder = dest / "cifar-10-batches-bin"
        check("good archive is unpacked and reported",
              code == 0 and "unpacked into" in out and sorted(p.name for p in dest.iterdir()) == [folder.name]
              and all((folder / f).stat().st_size == FILE_SIZE for f in FILES) and good.exists(), out)

        # The same folder again: left as it is, and no download tried (the URL is unreachable).
        before = snapshot(dest)
        code, out = run("--url", UNREACHABLE, "--dest", dest, md5_expected=good_md5)
        check("a complete folder already there is left untouched",
              code == 0 and "nothing to do" in out and snapshot(dest) == before, out)

        # A wrong MD5: refused, both sums named, nothing unpacked, the user's archive kept.
        dest = tmp / "b"
        code, out = run("--archive", good, "--dest", dest, md5_expected=wrong_md5)
        check("an archive with the wrong MD5 is refused, naming both sums, leaving nothing",
              code != 0 and good_md5 in out and wrong_md5 in out and "MD5 checked" not in out
              and not dest.exists() and good.exists(), out)

        # A truncated archive: its MD5 is not the good one's.
        truncated = tmp / "truncated.tar.gz"
        truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
        dest = tmp / "c"
        code, out = run("--archive", truncated, "--dest", dest, md5_expected=good_md5)
        check("a truncated archive is refused by its MD5",
              code != 0 and md5(truncated) in out and good_md5 in out and "MD5 checked" not in out
              and not dest.exists(), out)

        # Even with the MD5 it has, it must not unpack into place.
        code, out = run("--archive", truncated, "--dest", dest, md5_expected=md5(truncated))
        check("a truncated archive that passes the MD5 is refused by tar, leaving nothing",
              code != 0 and "does not unpack" in out and not dest.exists(), out)

        corrupt = tmp / "corrupt.tar.gz"
        corrupt.write_bytes(b"this is not a gzip'd tar at all\n" * 100)
        code, out = run("--archive", corrupt, "--dest", dest, md5_expected=md5(corrupt))
        check("a corrupt archive is refused, leaving nothing",
              code != 0 and "does not unpack" in out and not dest.exists(), out)

        # An archive short of a file, and one with a file of the wrong size.
        short = make_archive(tmp / "short.tar.gz", files=FILES[:-1])
        code, out = run("--archive", short, "--dest", dest, md5_expected=md5(short))
        check("an archive without test_batch.bin is refused, naming it, leaving nothing",
              code != 0 and "test_batch.bin is missing" in out and not dest.exists(), out)
        small = make_archive(tmp / "small.tar.gz", size=FILE_SIZE - 1)
        code, out = run("--archive", small, "--dest", dest, md5_expected=md5(small))
        check("an archive with files of the wrong size is refused, leaving nothing",
              code != 0 and f"has {FILE_SIZE - 1} bytes, not {FILE_SIZE}" in out and not dest.exists(), out)

        # An existing folder of the wrong size is not kept: it goes aside and the archive's takes its place.
        dest = tmp / "d"
        fill(dest / "cifar-10-batches-bin", files=FILES[:2])
        code, out = run("--archive", good, "--dest", dest, md5_expected=good_md5)
        aside = [p.name for p in dest.iterdir() if p.name.startswith("cifar-10-batches-bin.incomplete-")]
        check("an incomplete folder already there is moved aside and replaced",
              code == 0 and len(aside) == 1 and len(list(dest.iterdir())) == 2
              and (dest / "cifar-10-batches-bin" / "test_batch.bin").stat().st_size == FILE_SIZE, out)

        # A failure in a folder that was there already leaves it as it was: no temporary, the old folder kept.
        dest = tmp / "d2"
        fill(dest / "cifar-10-batches-bin", files=FILES[:2])
        before = snapshot(dest)
        code, out = run("--archive", good, "--dest", dest, md5_expected=wrong_md5)
        code2, out2 = run("--archive", short, "--dest", dest, md5_expected=md5(short))
        check("failures in an existing folder leave it as it was",
              code != 0 and code2 != 0 and snapshot(dest) == before
              and [p.name for p in dest.iterdir()] == ["cifar-10-batches-bin"], out + out2)

        # No network: the download fails, with the advice to use --archive or NIBBLE_DATA.
        dest = tmp / "e"
        code, out = run("--url", UNREACHABLE, "--dest", dest, md5_expected=good_md5)
        check("an unreachable URL fails, advising --archive and NIBBLE_DATA, leaving nothing",
              code != 0 and "could not download" in out and "--archive" in out and "NIBBLE_DATA" in out
              and not dest.exists(), out)

        if have_curl:
            dest = tmp / "f"
            code, out = run("--url", good.as_uri(), "--dest", dest, md5_expected=good_md5)
            check("a good download (file:// through curl) is unpacked and the archive removed",
                  code == 0 and "unpacked into" in out
                  and sorted(p.name for p in dest.iterdir()) == ["cifar-10-batches-bin"], out)
            dest = tmp / "g"
            code, out = run("--url", good.as_uri(), "--dest", dest, md5_expected=wrong_md5)
            check("a download with the wrong MD5 is refused, naming both sums, and removed",
                  code != 0 and good_md5 in out and wrong_md5 in out and "removed" in out
                  and "MD5 checked" not in out and not dest.exists(), out)
        else:
            print("skip: the download cases that succeed (curl is not installed)")

        # NIBBLE_DATA: only checked, never fetched into.
        partial = tmp / "partial"
        fill(partial, files=FILES[:3])
        (partial / FILES[1]).write_bytes(b"\x07" * 10)
        code, out = run("--dest", tmp / "h", nibble_data=partial)
        check("NIBBLE_DATA naming an incomplete folder names what is missing",
              code != 0 and all(f"{f} is missing" in out for f in FILES[3:])
              and f"{FILES[1]} has 10 bytes, not {FILE_SIZE}" in out and not (tmp / "h").exists(), out)
        code, out = run("--dest", tmp / "h", nibble_data=tmp / "nowhere")
        check("NIBBLE_DATA naming no folder says so",
              code != 0 and "does not exist" in out and not (tmp / "h").exists(), out)
        code, out = run("--dest", tmp / "h", nibble_data=tmp / "a" / "cifar-10-batches-bin")
        check("NIBBLE_DATA naming a complete folder is reported", code == 0 and "holds the six" in out, out)

    if failures:
        print(f"{len(failures)} case(s) failed")
        sys.exit(1)
    print("fetch-cifar10.sh: every case as expected")


if __name__ == "__main__":
    main()
