#!/usr/bin/env bash
# GPU check for neuron's CUDA backend, in two halves:
#
#   scripts/gpu-check.sh build   # on a machine with Rust (no GPU needed): builds the `neuron`
#                                # binary and the test executables with --features cuda into gpu-bin/
#   scripts/gpu-check.sh run     # on the GPU machine (no Rust needed), from the repository root:
#                                # runs the GPU tests, neuron's GPU benchmark and PyTorch's numbers
#                                # for the same configurations, and prints one table
#
# `run` needs the NVIDIA driver, the CUDA toolkit's libraries (cuBLAS, NVRTC; looked for in
# /usr/local/cuda/lib64 too) and python3 with torch. It fails if the GPU cannot be used: the tests
# run with NEURON_REQUIRE_CUDA=1. Budget: well under 5 minutes on an H100/H200.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=gpu-bin
EPOCHS=${EPOCHS:-3}

case "${1:-}" in
build)
    rm -rf "$BIN" && mkdir -p "$BIN"
    cargo build --release --features cuda -p neuron-cli
    cp target/release/neuron "$BIN/"
    # The test executables of the tests that use the GPU, found by name from cargo's JSON output.
    cargo test --release --features cuda -p neuron --no-run --message-format=json \
        --test gpu_backend --test gradients --test pytorch --test digits --test divergence |
        python3 -c '
import json, shutil, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["test"]:
        shutil.copy(m["executable"], sys.argv[1] + "/test-" + m["target"]["name"])
' "$BIN"
    strip "$BIN"/* 2>/dev/null || true
    ls -la "$BIN"
    ;;
run)
    # cuBLAS and NVRTC: the CUDA toolkit's lib64, or the NVIDIA wheels beside PyTorch.
    libs=/usr/local/cuda/lib64
    # (Not the stubs folder: its libcuda.so would hide the driver's.)
    for f in $(find /usr/local/cuda*/ /opt /usr/lib \( -name 'libcublas.so*' -o -name 'libnvrtc.so*' \) 2>/dev/null | grep -v /stubs/); do
        libs="$libs:$(dirname "$f")"
    done
    export LD_LIBRARY_PATH="$libs:${LD_LIBRARY_PATH:-}"
    export NEURON_REQUIRE_CUDA=1
    # The emulated GPU (CPU) tests ran where this was built; here the real GPU runs them.
    export NEURON_SKIP_EMULATOR=1
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
    OUT=${OUT:-/tmp/gpu-check}
    mkdir -p "$OUT"
    status=0
    for t in gpu_backend gradients pytorch digits divergence; do
        echo "== tests: $t"
        # The whole log when a test fails, its summary otherwise.
        if timeout 150 "$BIN/test-$t" --test-threads 1 > "/tmp/test-$t.log" 2>&1; then
            tail -n 3 "/tmp/test-$t.log"
        else
            status=1
            cat "/tmp/test-$t.log"
        fi
    done
    echo "== neuron benchmark (f32, then tf32)"
    timeout 200 "$BIN/neuron" bench --device cuda --epochs "$EPOCHS" --json > "$OUT/neuron-f32.json" || status=1
    timeout 200 "$BIN/neuron" bench --device cuda --precision tf32 --epochs "$EPOCHS" --json > "$OUT/neuron-tf32.json" || status=1
    echo "== where neuron's GPU time goes (one epoch per configuration)"
    timeout 200 "$BIN/neuron" bench --device cuda --epochs 1 --ops || status=1
    echo "== PyTorch (eager and CUDA graph; f32, then tf32)"
    timeout 200 python3 bench/torch_gpu.py --epochs "$EPOCHS" > "$OUT/torch-f32.json" || status=1
    timeout 200 python3 bench/torch_gpu.py --epochs "$EPOCHS" --tf32 > "$OUT/torch-tf32.json" || status=1
    python3 - "$OUT" <<'PY' || status=1
import json, sys
d = sys.argv[1]
n32, n16 = (json.load(open(f"{d}/neuron-{p}.json")) for p in ("f32", "tf32"))
t32, t16 = (json.load(open(f"{d}/torch-{p}.json")) for p in ("f32", "tf32"))
print(f"\n{t32['device']}, torch {t32['torch']}, data: neuron {n32['data']}, torch {t32['data']}; seconds per epoch (median)")
print(f"{'config':<11} {'neuron f32':>10} {'torch eager':>11} {'torch graph':>11} {'ratio*':>7} | {'neuron tf32':>11} {'torch graph tf32':>16} {'ratio*':>7}")
for c in n32["configs"]:
    name = c["config"]
    nt = c["s_per_epoch"]
    tt = t32["configs"][name]
    best = min(tt["eager"], tt["cuda_graph"])
    n16c = next(x for x in n16["configs"] if x["config"] == name)["s_per_epoch"]
    b16 = min(t16["configs"][name]["eager"], t16["configs"][name]["cuda_graph"])
    print(f"{name:<11} {nt:>10.4f} {tt['eager']:>11.4f} {tt['cuda_graph']:>11.4f} {nt / best:>7.2f} | {n16c:>11.4f} {b16:>16.4f} {n16c / b16:>7.2f}")
print("* neuron's epoch time over PyTorch's best (eager or CUDA graph) in the same precision")
PY
    exit $status
    ;;
*)
    echo "usage: $0 build|run" >&2
    exit 2
    ;;
esac
