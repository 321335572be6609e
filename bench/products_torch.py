#!/usr/bin/env python3
"""PyTorch's (MKL's) matrix products alone, on the same shapes and in the same way as
`cargo run --release -p neuron --example products`: operands in cache ("hot") and after 64 MiB of
other data were touched ("cold"). GFLOP/s, median and best of 7 rounds.

    python3 bench/products_torch.py 2      # threads
"""
import sys
import time

import torch

SHAPES = [
    ("b1024 forward X·Wᵀ 784→256", 1024, 256, 784, False, True),
    ("b1024 weight grad Gᵀ·X", 256, 784, 1024, True, False),
    ("b1024 input grad G·W 256→128", 1024, 256, 128, False, False),
    ("wide forward 1024→1024", 1024, 1024, 1024, False, True),
    ("wide weight grad", 1024, 1024, 1024, True, False),
    ("wide input grad", 1024, 1024, 1024, False, False),
    ("b128 forward 784→256", 128, 256, 784, False, True),
    ("b128 weight grad 784→256", 256, 784, 128, True, False),
]


def main():
    if len(sys.argv) > 1:
        torch.set_num_threads(int(sys.argv[1]))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; GFLOP/s, median and best of 7")
    junk = torch.ones(16 << 20)
    for name, m, n, k, ta, tb in SHAPES:
        a = torch.rand(k, m).t() if ta else torch.rand(m, k)
        b = torch.rand(n, k).t() if tb else torch.rand(k, n)
        c = torch.empty(m, n)
        flops = 2 * m * n * k
        reps = max(3, int(1e10 / flops))
        rates = [[], []]
        for r in range(14):
            cold, seconds = r % 2, 0.0
            for _ in range(reps):
                if cold:
                    junk[::16] += 1
                t0 = time.perf_counter()
                torch.mm(a, b, out=c)
                seconds += time.perf_counter() - t0
            rates[cold].append(flops * reps / seconds / 1e9)
        hot, cold = sorted(rates[0]), sorted(rates[1])
        print(f"{name:<32} hot {hot[3]:6.1f} {hot[6]:6.1f}   cold {cold[3]:6.1f} {cold[6]:6.1f}")


if __name__ == "__main__":
    main()
