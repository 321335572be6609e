//! The GPU backend: every operation matches the CPU backend, in f32 and f64 — on the emulated
//! device always (the CUDA kernels run on the CPU, see `tests/emu/`), and on a real GPU with
//! `--features cuda`. With the feature, the kernels also compile with NVRTC.
//!
//! Without a GPU (or without NVRTC for the compile test) the real-GPU tests say they were skipped
//! and pass, unless `NEURON_REQUIRE_CUDA=1` is set, as `scripts/gpu-check.sh` does on the GPU
//! machine: then a missing GPU fails them. `NEURON_REQUIRE_NVRTC=1` (set by CI, which installs
//! NVRTC) makes the compilation test fail when NVRTC is missing.

mod common;

#[cfg(feature = "cuda")]
use common::{gpu, required};
#[cfg(feature = "cuda")]
use neuron::cuda::compile_kernels;
use neuron::data::augment::Augment;
use neuron::gpu::GpuFloat;
use neuron::optim::adam::AdamHyper;
use neuron::optim::rmsprop::RmsPropHyper;
use neuron::optim::sgd::SgdHyper;
use neuron::{Activation, Backend, Cpu, Loss, Operand, Rng};

#[cfg(feature = "cuda")]
#[test]
fn kernels_compile_with_nvrtc() {
    match compile_kernels() {
        Ok(ptx) => {
            // Every kernel the runtime loads by name.
            for k in neuron::gpu::KERNELS {
                for s in ["f32", "f64"] {
                    assert!(
                        ptx.contains(&format!(".entry {k}_{s}(")),
                        "the PTX lacks kernel {k}_{s}"
                    );
                }
            }
        }
        Err(e)
            if !required()
                && std::env::var("NEURON_REQUIRE_NVRTC").is_err()
                && e.to_string().contains("was not found") =>
        {
            eprintln!("skipped: {e}");
        }
        Err(e) => panic!("{e}"),
    }
}

/// The same operation on the CPU and the GPU, with results compared element by element.
struct Pair<T: GpuFloat, G: Backend<E = T>> {
    cpu: Cpu<T>,
    gpu: G,
    tol: f64,
    rng: Rng,
}

struct Buf<T: GpuFloat, G: Backend<E = T>> {
    c: <Cpu<T> as Backend>::Buf,
    g: G::Buf,
}

impl<T: GpuFloat, G: Backend<E = T>> Pair<T, G> {
    fn buf(&mut self, data: Vec<T>) -> Buf<T, G> {
        Buf {
            g: self.gpu.upload(&data).unwrap(),
            c: self.cpu.upload(&data).unwrap(),
        }
    }
    fn random(&mut self, n: usize) -> Buf<T, G> {
        let v = (0..n).map(|_| T::of(self.rng.normal())).collect();
        self.buf(v)
    }
    fn labels(&mut self, n: usize, classes: usize) -> Buf<T, G> {
        let v = (0..n)
            .map(|_| T::of(self.rng.below(classes) as f64))
            .collect();
        self.buf(v)
    }
    fn same(&self, what: &str, b: &Buf<T, G>) {
        let mut host = vec![T::zero(); b.c.len()];
        self.gpu.download(&b.g, &mut host).unwrap();
        for (i, (&g, &c)) in host.iter().zip(&b.c).enumerate() {
            let (g, c) = (g.f64(), c.f64());
            let err = (g - c).abs() / c.abs().max(1.0);
            assert!(
                err <= self.tol || (g.is_nan() && c.is_nan()),
                "{what} ({}): element {i}: GPU {g} vs CPU {c}",
                T::NAME
            );
        }
    }
}

fn every_operation_matches_the_cpu<T: GpuFloat, G: Backend<E = T>>(gpu: G, tol: f64) {
    let mut p = Pair {
        cpu: Cpu::<T>::with_threads(2),
        gpu,
        tol,
        rng: Rng::new(5),
    };
    let (m, n, k) = (37, 23, 19);
    // Products, each operand plain and transposed, overwritten and accumulated.
    for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
        for acc in [false, true] {
            let a = p.random(m * k);
            let b = p.random(k * n);
            let mut c = p.random(m * n);
            let (oa, ob) = (
                Operand {
                    buf: &a.c,
                    transposed: ta,
                },
                Operand {
                    buf: &b.c,
                    transposed: tb,
                },
            );
            p.cpu.matmul(m, n, k, oa, ob, &mut c.c, acc);
            let (oa, ob) = (
                Operand {
                    buf: &a.g,
                    transposed: ta,
                },
                Operand {
                    buf: &b.g,
                    transposed: tb,
                },
            );
            p.gpu.matmul(m, n, k, oa, ob, &mut c.g, acc);
            p.same(&format!("matmul ta={ta} tb={tb} accumulate={acc}"), &c);
        }
    }
    let (rows, cols) = (33, 10);
    let len = rows * cols;
    for act in [
        Activation::Identity,
        Activation::Relu,
        Activation::LeakyRelu { alpha: 0.1 },
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Gelu,
    ] {
        let bias = p.random(cols);
        let mut z = p.random(len);
        let mut y = p.random(len);
        p.cpu
            .bias_act(act, rows, cols, Some(&bias.c), &mut z.c, &mut y.c);
        p.gpu
            .bias_act(act, rows, cols, Some(&bias.g), &mut z.g, &mut y.g);
        p.same(&format!("bias_act {act:?} z"), &z);
        p.same(&format!("bias_act {act:?} y"), &y);
        p.cpu.bias_act(act, rows, cols, None, &mut z.c, &mut y.c);
        p.gpu.bias_act(act, rows, cols, None, &mut z.g, &mut y.g);
        p.same(&format!("bias_act {act:?} without bias"), &y);
        let mut y2 = p.random(len);
        p.cpu.act_forward(act, len, &z.c, &mut y2.c);
        p.gpu.act_forward(act, len, &z.g, &mut y2.g);
        p.same(&format!("act_forward {act:?}"), &y2);
        let gy = p.random(len);
        let mut gz = p.random(len);
        p.cpu.act_backward(act, len, &z.c, &y.c, &gy.c, &mut gz.c);
        p.gpu.act_backward(act, len, &z.g, &y.g, &gy.g, &mut gz.g);
        p.same(&format!("act_backward {act:?}"), &gz);
    }
    let g = p.random(len);
    let mut out = p.random(cols);
    p.cpu.col_sum(rows, cols, &g.c, &mut out.c);
    p.gpu.col_sum(rows, cols, &g.g, &mut out.g);
    p.same("col_sum", &out);
    let x = p.random(len);
    let mut y = p.random(len);
    p.cpu.softmax(rows, cols, &x.c, &mut y.c);
    p.gpu.softmax(rows, cols, &x.g, &mut y.g);
    p.same("softmax", &y);
    let gy = p.random(len);
    let mut gx = p.random(len);
    p.cpu.softmax_backward(rows, cols, &y.c, &gy.c, &mut gx.c);
    p.gpu.softmax_backward(rows, cols, &y.g, &gy.g, &mut gx.g);
    p.same("softmax_backward", &gx);
    let (mut mask, mut yd) = (p.random(len), p.random(len));
    p.cpu
        .dropout(len, 0.3, 99, 37, &x.c, &mut mask.c, &mut yd.c);
    p.gpu
        .dropout(len, 0.3, 99, 37, &x.g, &mut mask.g, &mut yd.g);
    p.same("dropout mask (same counter-based draws)", &mask);
    p.same("dropout output", &yd);
    let mut prod = p.random(len);
    p.cpu.mul(len, &x.c, &gy.c, &mut prod.c);
    p.gpu.mul(len, &x.g, &gy.g, &mut prod.g);
    p.same("mul", &prod);
    let mut s = p.random(len);
    p.cpu.scale(len, T::of(0.37), &mut s.c);
    p.gpu.scale(len, T::of(0.37), &mut s.g);
    p.same("scale", &s);
    let mut f = p.random(len);
    p.cpu.fill(len - 3, T::of(2.5), &mut f.c);
    p.gpu.fill(len - 3, T::of(2.5), &mut f.g);
    p.same("fill (a prefix)", &f);
    let mut cp = p.random(len);
    p.cpu.copy(len - 5, &x.c, &mut cp.c);
    p.gpu.copy(len - 5, &x.g, &mut cp.g);
    p.same("copy (a prefix)", &cp);
    let idx = [9usize, 5, 0, 32, 5, 17];
    let (ic, ig) = (
        p.cpu.upload_indices(&idx).unwrap(),
        p.gpu.upload_indices(&idx).unwrap(),
    );
    let mut gat = p.random(5 * cols);
    p.cpu.gather_rows(cols, &x.c, &ic, 1, 5, &mut gat.c);
    p.gpu.gather_rows(cols, &x.g, &ig, 1, 5, &mut gat.g);
    p.same("gather_rows", &gat);
    let aug = Augment {
        height: 5,
        width: 7,
        max_shift: 2,
        flip: true,
    };
    let imgs = p.random(40 * 35);
    let mut a = p.random(40 * 35);
    p.cpu.augment_images(&aug, 40, 1234, 5, &imgs.c, &mut a.c);
    p.gpu.augment_images(&aug, 40, 1234, 5, &imgs.g, &mut a.g);
    p.same("augment_images", &a);
    // Losses, with their gradient and the accumulated (loss, correct) pair.
    for loss in [
        Loss::Mse,
        Loss::CrossEntropy {
            label_smoothing: 0.0,
        },
        Loss::CrossEntropy {
            label_smoothing: 0.1,
        },
        Loss::BinaryCrossEntropy,
    ] {
        let out = p.random(len);
        let t = match loss {
            Loss::Mse => p.random(len),
            Loss::CrossEntropy { .. } => p.labels(rows, cols),
            Loss::BinaryCrossEntropy => p.labels(len, 2),
        };
        let mut grad = p.random(len);
        let mut acc = p.buf(vec![T::of(1.5), T::of(2.0)]);
        p.cpu
            .loss(&loss, rows, cols, &out.c, &t.c, &mut grad.c, &mut acc.c);
        p.gpu
            .loss(&loss, rows, cols, &out.g, &t.g, &mut grad.g, &mut acc.g);
        p.same(&format!("{loss:?} gradient"), &grad);
        p.same(&format!("{loss:?} accumulators"), &acc);
    }
    let ss = (p.cpu.sum_squares(len, &x.c), p.gpu.sum_squares(len, &x.g));
    assert!((ss.0 - ss.1).abs() <= tol * ss.0, "sum_squares {ss:?}");
    assert!(p.gpu.all_finite(len, &x.g));
    let bad = p.buf(vec![T::one(), T::nan(), T::one()]);
    assert!(!p.gpu.all_finite(3, &bad.g) && p.gpu.all_finite(1, &bad.g));
    // Optimizer updates: three steps each.
    let n = 1000;
    let grads = p.random(n);
    for (name, variant) in [("sgd", 0), ("momentum", 1), ("nesterov", 2)] {
        let mut w = p.random(n);
        let mut v = p.random(n);
        for _ in 0..3 {
            let h = SgdHyper {
                lr: 0.05,
                momentum: if variant == 0 { 0.0 } else { 0.9 },
                nesterov: variant == 2,
                weight_decay: 0.01,
                grad_scale: 0.5,
            };
            let (vc, vg) = if variant == 0 {
                (None, None)
            } else {
                (Some(&mut v.c), Some(&mut v.g))
            };
            p.cpu.sgd_update(n, &h, &mut w.c, &grads.c, vc);
            p.gpu.sgd_update(n, &h, &mut w.g, &grads.g, vg);
        }
        p.same(name, &w);
    }
    for decoupled in [false, true] {
        let (mut w, mut m1, mut v1) = (
            p.random(n),
            p.buf(vec![T::zero(); n]),
            p.buf(vec![T::zero(); n]),
        );
        for step in 1..=3 {
            let h = AdamHyper {
                lr: 0.01,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: 0.05,
                decoupled,
                step,
                grad_scale: 1.0,
            };
            p.cpu
                .adam_update(n, &h, &mut w.c, &grads.c, &mut m1.c, &mut v1.c);
            p.gpu
                .adam_update(n, &h, &mut w.g, &grads.g, &mut m1.g, &mut v1.g);
        }
        p.same(&format!("adam decoupled={decoupled}"), &w);
        p.same("adam first moment", &m1);
        p.same("adam second moment", &v1);
    }
    let (mut w, mut sq) = (p.random(n), p.buf(vec![T::zero(); n]));
    for _ in 0..3 {
        let h = RmsPropHyper {
            lr: 0.01,
            rho: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            grad_scale: 1.0,
        };
        p.cpu.rmsprop_update(n, &h, &mut w.c, &grads.c, &mut sq.c);
        p.gpu.rmsprop_update(n, &h, &mut w.g, &grads.g, &mut sq.g);
    }
    p.same("rmsprop", &w);
    // Grid-stride loops: more elements than one launch has threads (65,536 blocks of 256).
    let big = (1 << 24) + 1000;
    let mut f = p.gpu.alloc(big).unwrap();
    p.gpu.fill(big, T::of(3.0), &mut f);
    let mut host = vec![T::zero(); big];
    p.gpu.download(&f, &mut host).unwrap();
    assert!(
        host.iter().all(|&v| v == T::of(3.0)),
        "every element filled"
    );
}

#[test]
fn emulated_gpu_matches_the_cpu_in_f64() {
    if let Some(g) = common::emu::emulated::<f64>() {
        every_operation_matches_the_cpu(g, 1e-11);
    }
}

#[test]
fn emulated_gpu_matches_the_cpu_in_f32() {
    if let Some(g) = common::emu::emulated::<f32>() {
        every_operation_matches_the_cpu(g, 2e-5);
    }
}

#[cfg(feature = "cuda")]
#[test]
fn every_operation_matches_the_cpu_in_f64() {
    if let Some(g) = gpu::<f64>() {
        every_operation_matches_the_cpu(g.clone(), 1e-11);
        g.synchronize().unwrap();
    }
}

#[cfg(feature = "cuda")]
#[test]
fn every_operation_matches_the_cpu_in_f32() {
    if let Some(g) = gpu::<f32>() {
        every_operation_matches_the_cpu(g.clone(), 2e-5);
        g.synchronize().unwrap();
    }
}

#[cfg(feature = "cuda")]
#[test]
fn a_missing_gpu_is_an_error_not_a_panic() {
    // Either a GPU opens, or the error explains why; asking for a GPU that does not exist fails.
    use neuron::Cuda;
    match Cuda::<f32>::new(0) {
        Ok(_) => assert!(Cuda::<f32>::new(1 << 20).is_err()),
        Err(e) => assert!(e.to_string().starts_with("GPU: "), "{e}"),
    }
}

#[test]
fn a_too_short_buffer_is_an_error_not_a_write_past_it() {
    let Some(g) = common::emu::emulated::<f32>() else {
        return;
    };
    let mut small = g.alloc(5).unwrap();
    g.fill(10, 1.0, &mut small);
    let mut out = [0.0f32; 5];
    let err = g.download(&small, &mut out).unwrap_err();
    assert!(err.to_string().contains("fill"), "{err}");
    // The error is sticky, like CUDA's own.
    assert!(g.alloc(1).is_err());
    // Indices beyond the source are refused before any kernel runs.
    let g = common::emu::emulated::<f32>().expect("emulator");
    let src = g.upload(&[1.0, 2.0, 3.0, 4.0]).unwrap();
    let idx = g.upload_indices(&[0, 7]).unwrap();
    let mut dst = g.alloc(4).unwrap();
    g.gather_rows(2, &src, &idx, 0, 2, &mut dst);
    assert!(g.download(&dst, &mut [0.0; 4]).is_err());
}
