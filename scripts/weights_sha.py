#!/usr/bin/env python3
"""SHA-256 of the weights a fixed recipe trains, on 1 and 2 threads: the check that a change to the
training loop changes no result.

    cargo build --release && python3 scripts/weights_sha.py [--fashion] [--neuron PATH]

Run it before and after a change; the lines must be identical. The digits recipe is 3 epochs of
the built-in digits with one validation split (no cross-validation, so that the loop is what runs);
`--fashion` adds 1 epoch of the Fashion-MNIST default recipe (`apt-get install
dataset-fashion-mnist`). Only the tensor bytes are hashed: the metadata holds times. The bits
depend on the CPU's product kernels, so compare hashes from the same kind of machine.
"""

import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "neuron")
RECIPES = {
    "digits, 3 epochs": ["--data", "builtin:digits", "--epochs", "3", "--cv-folds", "0",
                         "--keep-all-columns"],
    "fashion-mnist, 1 epoch": ["--data", "fashion-mnist", "--epochs", "1"],
}


def tensor_sha(path):
    """SHA-256 of the tensors' bytes, in the header's order of names."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    h = hashlib.sha256()
    for name in sorted(k for k in header if k != "__metadata__"):
        a, b = header[name]["data_offsets"]
        h.update(name.encode())
        h.update(data[a:b])
    return h.hexdigest()


def main():
    binary = sys.argv[sys.argv.index("--neuron") + 1] if "--neuron" in sys.argv else BIN
    names = [k for k in RECIPES if "--fashion" in sys.argv or not k.startswith("fashion")]
    with tempfile.TemporaryDirectory() as d:
        for name in names:
            for threads in (1, 2):
                out = os.path.join(d, "m.safetensors")
                subprocess.run([binary, "train", *RECIPES[name], "--threads", str(threads), "--out", out,
                                "--quiet"], check=True)
                print(f"{name}, {threads} thread(s): {tensor_sha(out)}")


if __name__ == "__main__":
    main()
