#!/usr/bin/python3
"""Estimates the JPEG quality a CIFAR-10 copy in the binary layout went
through, from the traces JPEG leaves in the pixels.

A JPEG decoder's output, transformed back into 8×8 blocks of DCT
coefficients of luma, has each coefficient near a multiple of the step the
encoder quantized it with (rounding the decoded pixels to bytes blurs the
lattice a little). The steps are the standard luma table scaled by the
quality setting (libjpeg's rule), so the quality whose steps fit the
coefficients' lattice best is the one used. CIFAR-10 images are 32×32, a
whole number of 8×8 blocks, so the blocks line up with the encoder's.
Chroma subsampling (4:2:0) shows as colour that changes more between the
2-pixel cells than within them.

    /usr/bin/python3 scripts/jpeg_quality.py DIR/data_batch_1.bin [--images 5000]

Prints the fit of each quality from 30 to 100 for the best ones, the
estimate, and the chroma evidence. The official CIFAR-10 release was never
JPEG-compressed: on it no quality fits (every score stays near 0).
"""
import argparse

import numpy as np

LUMA_TABLE = np.array([
    [16, 11, 10, 16, 24, 40, 51, 61], [12, 12, 14, 19, 26, 58, 60, 55],
    [14, 13, 16, 24, 40, 57, 69, 56], [14, 17, 22, 29, 51, 87, 80, 62],
    [18, 22, 37, 56, 68, 109, 103, 77], [24, 35, 55, 64, 81, 104, 113, 92],
    [49, 64, 78, 87, 103, 121, 120, 101], [72, 92, 95, 98, 112, 100, 103, 99]])
# The low-frequency coefficients: the ones whose steps are small enough to
# leave a visible lattice at the qualities that matter.
FITTED = [(0, 1), (1, 0), (1, 1), (0, 2), (2, 0), (1, 2), (2, 1), (2, 2), (0, 3), (3, 0)]


def steps_for_quality(quality):
    """libjpeg's scaling of the standard table (jcparam.c's rule)."""
    scale = 5000 / quality if quality < 50 else 200 - 2 * quality
    return np.clip(np.floor((LUMA_TABLE * scale + 50) / 100), 1, 255)


def luma(x):
    """JPEG's Y (before its 128 offset) of n×3×H×W floats."""
    return 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]


def luma_dct_blocks(pixels):
    """8×8 DCT-II (JPEG's normalisation) of the luma of n×3×32×32 bytes."""
    centred = luma(pixels.astype(np.float64)) - 128.0
    blocks = centred.reshape(-1, 4, 8, 4, 8).transpose(0, 1, 3, 2, 4).reshape(-1, 8, 8)
    i = np.arange(8)
    basis = np.cos((2 * i[None, :] + 1) * i[:, None] * np.pi / 16) / 2
    basis[0] /= np.sqrt(2)
    return np.einsum("ui,bij,vj->buv", basis, blocks, basis)


def lattice_fit(coefficients, step):
    """Near 1 when the values sit on multiples of step, near 0 when they do not."""
    return float(np.mean(np.cos(2 * np.pi * coefficients / step)))


def estimate(pixels):
    """(fits, qualities, subsampled) for n×3×32×32 bytes: the lattice fit of
    each quality from 30 to 100, the qualities that fit best (several when
    they share the fitted steps; empty when none fits), and whether the
    colour shows 4:2:0-like subsampling."""
    dct = luma_dct_blocks(pixels)
    fits = {}
    for quality in range(30, 101):
        steps = steps_for_quality(quality)
        fits[quality] = float(np.mean([lattice_fit(dct[:, u, v], steps[u, v]) for u, v in FITTED]))
    best = max(fits, key=fits.get)
    fitted = tuple(zip(*FITTED))
    best_steps = steps_for_quality(best)[fitted]
    qualities = [] if fits[best] < 0.3 else \
        [q for q in fits if np.array_equal(steps_for_quality(q)[fitted], best_steps)]
    x = pixels.astype(np.float64)
    chroma = x[:, 2] - luma(x)
    jumps = np.abs(np.diff(chroma, axis=2)).mean(axis=(0, 1))  # between columns j and j+1
    within, across = jumps[0::2].mean(), jumps[1::2].mean()
    return fits, qualities, (within, across, across > 1.1 * within)


def read_pixels(path, images):
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % 3073:
        raise SystemExit(f"{path}: not whole CIFAR-10 records of 3,073 bytes")
    return raw.reshape(-1, 3073)[:images, 1:].reshape(-1, 3, 32, 32)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("batch", help="a CIFAR-10 binary batch file (records of 1 label byte + 3,072 pixel bytes)")
    parser.add_argument("--images", type=int, default=5000, help="how many images to read (default 5000)")
    args = parser.parse_args()
    fits, qualities, (within, across, subsampled) = estimate(read_pixels(args.batch, args.images))
    for quality in sorted(fits, key=fits.get, reverse=True)[:5]:
        print(f"quality {quality:3d}: lattice fit {fits[quality]:.3f}")
    if not qualities:
        print("no JPEG quality fits: these pixels show no trace of JPEG quantization")
    else:
        named = f"{min(qualities)}–{max(qualities)}" if len(qualities) > 1 else f"{qualities[0]}"
        print(f"estimate: JPEG quality {named} (luma steps of the fitted coefficients: "
              f"{[int(steps_for_quality(qualities[0])[u, v]) for u, v in FITTED]})")
    print(f"blue-difference colour: mean change {within:.2f} inside 2-pixel cells, {across:.2f} across them "
          f"({'4:2:0-like subsampling' if subsampled else 'no sign of subsampling'})")


if __name__ == "__main__":
    main()
