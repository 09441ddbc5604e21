#!/usr/bin/python3
"""scripts/jpeg_quality.py against images of known history: smooth random
images never compressed (no quality may fit, no subsampling may show), and
the same images through Pillow's JPEG encoder at qualities 90, 75 and 50
with 4:2:0 subsampling (each must be named, and the subsampling seen), all
written as a CIFAR-10 batch file and read back as the script reads one."""
import io
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import jpeg_quality  # noqa: E402


def smooth_images(n, rng):
    noise = rng.normal(size=(n, 3, 44, 44))
    kernel = np.exp(-0.5 * (np.arange(-6, 7) / 2.0) ** 2)
    kernel /= kernel.sum()
    blurred = np.apply_along_axis(lambda r: np.convolve(r, kernel, "valid"), 3, noise)
    blurred = np.apply_along_axis(lambda r: np.convolve(r, kernel, "valid"), 2, blurred)
    return np.clip(128 + 300 * blurred, 0, 255).astype(np.uint8)  # n×3×32×32


def through_jpeg(images, quality):
    out = []
    for image in images:
        buffer = io.BytesIO()
        Image.fromarray(image.transpose(1, 2, 0)).save(buffer, "JPEG", quality=quality, subsampling="4:2:0")
        buffer.seek(0)
        out.append(np.asarray(Image.open(buffer)).transpose(2, 0, 1))
    return np.stack(out)


def read_back(images, folder, name):
    path = Path(folder) / name
    records = np.concatenate([np.zeros((len(images), 1), np.uint8), images.reshape(len(images), -1)], axis=1)
    records.tofile(path)
    return jpeg_quality.read_pixels(path, len(images))


def main():
    rng = np.random.default_rng(7)
    images = smooth_images(600, rng)
    failures = []
    with tempfile.TemporaryDirectory() as folder:
        _, qualities, (_, _, subsampled) = jpeg_quality.estimate(read_back(images, folder, "plain.bin"))
        if qualities or subsampled:
            failures.append(f"never-compressed images: qualities {qualities}, subsampled {subsampled}")
        for quality in (90, 75, 50):
            pixels = read_back(through_jpeg(images, quality), folder, f"q{quality}.bin")
            _, qualities, (_, _, subsampled) = jpeg_quality.estimate(pixels)
            if quality not in qualities or len(qualities) > 3 or not subsampled:
                failures.append(f"quality {quality}: estimated {qualities}, subsampled {subsampled}")
    for failure in failures:
        print("FAIL:", failure)
    if failures:
        sys.exit(1)
    print("jpeg_quality: every known history recovered")


if __name__ == "__main__":
    main()
