"""Writes ``joe_kuo_6_21201.bin``, the Sobol' direction numbers bntune ships, from scipy's copy.

Source: S. Joe and F. Y. Kuo's table ``new-joe-kuo-6.21201`` (search criterion D(6), 21201
dimensions, https://web.maths.unsw.edu.au/~fkuo/sobol/), as redistributed by SciPy in
``scipy/stats/_sobol_direction_numbers.npz`` (arrays ``poly`` and ``vinit``; row 0 is the
degenerate first dimension, whose direction numbers are all 1).

Format (all integers little-endian; the bit stream is read least significant bit first):

    b"JK6\\0"             magic
    u32                   number of dimensions D (21201), including the degenerate first one
    bit stream, for each dimension 1..D-1:
        s       5 bits    degree of the primitive polynomial (1..18)
        a       s-1 bits  its interior coefficients: poly = 2**s + 2*a + 1
        m_j>>1  j bits    for j in 0..s: the initial direction numbers, which are odd and < 2**(j+1)

Run with the scipy of the ``test`` extra installed:  python make_direction_numbers.py
"""

from __future__ import annotations

import importlib.resources
import struct
import sys
from pathlib import Path

import numpy as np

OUT = Path(__file__).with_name("joe_kuo_6_21201.bin")


class BitWriter:
    def __init__(self) -> None:
        self.acc = 0
        self.nbits = 0

    def put(self, value: int, width: int) -> None:
        if not 0 <= value < (1 << width) or width < 0:
            raise ValueError(f"{value} does not fit in {width} bits")
        self.acc |= value << self.nbits
        self.nbits += width

    def to_bytes(self) -> bytes:
        return self.acc.to_bytes((self.nbits + 7) // 8, "little")


def main() -> int:
    npz = importlib.resources.files("scipy.stats").joinpath("_sobol_direction_numbers.npz")
    with importlib.resources.as_file(npz) as path:
        table = np.load(path)
        poly = [int(p) for p in table["poly"]]
        vinit = table["vinit"].astype(np.int64)
    writer = BitWriter()
    for dim in range(1, len(poly)):
        s = poly[dim].bit_length() - 1
        a = (poly[dim] - (1 << s) - 1) // 2
        if not (1 <= s <= 18 and poly[dim] % 2 == 1):
            raise ValueError(f"dimension {dim}: unexpected polynomial {poly[dim]}")
        writer.put(s, 5)
        writer.put(a, s - 1)
        for j in range(s):
            m = int(vinit[dim, j])
            if m % 2 != 1 or m >= 1 << (j + 1):
                raise ValueError(f"dimension {dim}: m_{j} = {m} is not odd and < 2**{j + 1}")
            writer.put(m >> 1, j)
        if any(int(x) != 0 for x in vinit[dim, s:]):
            raise ValueError(f"dimension {dim}: non-zero entries past the degree")
    data = b"JK6\0" + struct.pack("<I", len(poly)) + writer.to_bytes()
    OUT.write_bytes(data)
    print(f"wrote {OUT.name}: {len(poly)} dimensions, {len(data)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
