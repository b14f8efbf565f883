#!/usr/bin/env python3
"""Convert a pocketsphinx PTM/semi-continuous `sendump` into a Sphinx-III `mixture_weights`
file (what sphinxtrain's bw/map_adapt need). Python-3 port of sphinxtrain's sendump.py.
usage: sendump2mixw.py SENDUMP MIXTURE_WEIGHTS"""

import struct
import sys

import numpy as np


def readstr(fh):
    n = struct.unpack("<I", fh.read(4))[0]
    return None if n == 0 else fh.read(n)[:-1].decode("ascii", "replace")


def load(path):
    mixw_shift, feature_count, cluster_count = 10, 0, 0
    with open(path, "rb") as fh:
        while True:
            h = readstr(fh)
            if h is None:
                break
            k = h.split()
            if len(k) == 2 and k[0] == "mixw_shift":
                mixw_shift = int(k[1])
            if len(k) == 2 and k[0] == "feature_count":
                feature_count = int(k[1])
            if len(k) == 2 and k[0] == "cluster_count":
                cluster_count = int(k[1])
        if cluster_count != 0:
            sys.exit("clustered sendump not supported")
        n_density, n_sen = struct.unpack("<II", fh.read(8))
        raw = np.frombuffer(fh.read(feature_count * n_density * n_sen), dtype=np.uint8)
    raw = raw.reshape(feature_count, n_density, n_sen).astype(np.float64)
    w = np.power(1.0001, -(raw * (1 << mixw_shift)))  # (feat, density, sen)
    w = w.transpose(2, 0, 1)  # (sen, feat, density)
    w /= w.sum(axis=2, keepdims=True)
    print(f"senones {n_sen}, features {feature_count}, codewords {n_density}", file=sys.stderr)
    return w


def write(path, w):
    d1, d2, d3 = w.shape
    with open(path, "wb") as fh:
        head = b"s3\nversion 1.0\n"  # no chksum0 attribute: sphinxtrain then expects no checksum
        lsb = (len(head) + len(b"endhdr\n")) & 3
        fh.write(head + b" " * ((4 - lsb) & 3) + b"endhdr\n")
        fh.write(struct.pack("=i", 0x11223344))
        fh.write(struct.pack("=IIII", d1, d2, d3, d1 * d2 * d3))
        w.astype("<f4").ravel().tofile(fh)


if __name__ == "__main__":
    write(sys.argv[2], load(sys.argv[1]))
