//! The CUDA kernels (`src/cuda/kernels.cu`) run on the CPU through a small emulator
//! (`tests/emu/`: each block as real threads with a barrier for `__syncthreads`), and compared
//! with the CPU backend, kernel by kernel, in f32 and f64. This checks the kernels' logic on
//! machines without a GPU; `tests/cuda.rs` checks the real thing on a GPU.
//!
//! The launches mirror `src/cuda/mod.rs`: same kernel, same argument order and types, same launch
//! shape (blocks of 256 threads; the reductions one block of 256). Needs a C++20 compiler (`g++`).

use std::ffi::{c_char, c_void, CString};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use neuron::adam::AdamHyper;
use neuron::augment::Augment;
use neuron::rmsprop::RmsPropHyper;
use neuron::sgd::SgdHyper;
use neuron::{Activation, Backend, Cpu, Float, Loss, Rng};

type Launch = unsafe extern "C" fn(*const c_char, u32, u32, *mut *mut c_void) -> i32;

/// The emulator, compiled once per test run.
fn emulator() -> &'static libloading::Library {
    static LIB: OnceLock<libloading::Library> = OnceLock::new();
    LIB.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let lib: PathBuf = dir.join("libneuron_cuda_emu.so");
        let src = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/emu/emu.cpp");
        let out = Command::new(std::env::var("CXX").unwrap_or_else(|_| "g++".into()))
            .args(["-std=c++20", "-O1", "-shared", "-fPIC", "-pthread", "-o"])
            .arg(&lib)
            .arg(src)
            .output()
            .expect("a C++ compiler (g++) is needed to emulate the CUDA kernels");
        assert!(
            out.status.success(),
            "compiling the emulated kernels failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // SAFETY: the library was just built from our own source; loading runs no initialisers
        // beyond the C++ runtime's.
        unsafe { libloading::Library::new(&lib).unwrap() }
    })
}

/// A kernel argument, as the CUDA backend passes it.
enum A {
    I(i32),
    L(i64),
    U(u64),
    F(f32),
    D(f64),
    /// A "device" pointer (here: host memory).
    P(*mut c_void),
}

fn ptr<T>(v: &mut [T]) -> A {
    A::P(v.as_mut_ptr() as *mut c_void)
}

/// Scalars of the element type `T`, as the backend passes them (`T::of`).
trait Scalar: Float {
    fn arg(v: f64) -> A;
    const SUFFIX: &'static str;
}
impl Scalar for f32 {
    fn arg(v: f64) -> A {
        A::F(v as f32)
    }
    const SUFFIX: &'static str = "f32";
}
impl Scalar for f64 {
    fn arg(v: f64) -> A {
        A::D(v)
    }
    const SUFFIX: &'static str = "f64";
}

/// Launches `name_{f32|f64}` over `threads` elements (or as one reduction block).
fn launch<T: Scalar>(name: &str, threads: Option<usize>, mut args: Vec<A>) {
    let (grid, block) = match threads {
        Some(n) => (n.div_ceil(256).clamp(1, 1 << 16) as u32, 256),
        None => (1, 256),
    };
    let mut ptrs: Vec<*mut c_void> = args
        .iter_mut()
        .map(|a| match a {
            A::I(v) => v as *mut i32 as *mut c_void,
            A::L(v) => v as *mut i64 as *mut c_void,
            A::U(v) => v as *mut u64 as *mut c_void,
            A::F(v) => v as *mut f32 as *mut c_void,
            A::D(v) => v as *mut f64 as *mut c_void,
            A::P(v) => v as *mut *mut c_void as *mut c_void,
        })
        .collect();
    let full = CString::new(format!("{name}_{}", T::SUFFIX)).unwrap();
    // SAFETY: the symbol has the declared signature (tests/emu/emu.cpp), and every argument list
    // below matches its kernel's parameters; the buffers outlive the call.
    let rc = unsafe {
        let f: libloading::Symbol<Launch> = emulator().get(b"emu_launch").unwrap();
        f(full.as_ptr(), grid, block, ptrs.as_mut_ptr())
    };
    assert_eq!(rc, 0, "no kernel named {full:?}");
}

fn same<T: Float>(what: &str, got: &[T], want: &[T], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let (g, w) = (g.f64(), w.f64());
        let err = (g - w).abs() / w.abs().max(1.0);
        assert!(
            err <= tol || (g.is_nan() && w.is_nan()),
            "{what} ({}): element {i}: kernel {g} vs CPU {w}",
            T::NAME
        );
    }
}

fn random<T: Float>(rng: &mut Rng, n: usize) -> Vec<T> {
    (0..n).map(|_| T::of(rng.normal())).collect()
}

fn act_code(a: Activation) -> (i32, f64) {
    match a {
        Activation::Identity => (0, 0.0),
        Activation::Relu => (1, 0.0),
        Activation::LeakyRelu { alpha } => (2, alpha),
        Activation::Sigmoid => (3, 0.0),
        Activation::Tanh => (4, 0.0),
        Activation::Gelu => (5, 0.0),
    }
}

fn kernels_match_the_cpu<T: Scalar>(tol: f64) {
    let cpu = Cpu::<T>::with_threads(1);
    let mut rng = Rng::new(8);
    let (rows, cols) = (37usize, 11usize);
    let len = rows * cols;
    let (r, c, n) = (rows as i64, cols as i64, len as i64);

    for act in [
        Activation::Identity,
        Activation::Relu,
        Activation::LeakyRelu { alpha: 0.1 },
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Gelu,
    ] {
        let (code, alpha) = act_code(act);
        let bias: Vec<T> = random(&mut rng, cols);
        let z0: Vec<T> = random(&mut rng, len);
        let (mut zc, mut yc) = (z0.clone(), vec![T::zero(); len]);
        cpu.bias_act(act, rows, cols, Some(&bias), &mut zc, &mut yc);
        let (mut zk, mut yk, mut b) = (z0.clone(), vec![T::zero(); len], bias.clone());
        let a = vec![
            A::I(code),
            T::arg(alpha),
            A::L(r),
            A::L(c),
            ptr(&mut b),
            A::I(1),
            ptr(&mut zk),
            ptr(&mut yk),
        ];
        launch::<T>("bias_act", Some(len), a);
        same(&format!("bias_act {act:?} z"), &zk, &zc, tol);
        same(&format!("bias_act {act:?} y"), &yk, &yc, tol);
        // Without a bias: z unchanged.
        let (mut zk2, mut yk2, mut dummy) = (z0.clone(), vec![T::zero(); len], vec![T::zero(); 1]);
        let a = vec![
            A::I(code),
            T::arg(alpha),
            A::L(r),
            A::L(c),
            ptr(&mut dummy),
            A::I(0),
            ptr(&mut zk2),
            ptr(&mut yk2),
        ];
        launch::<T>("bias_act", Some(len), a);
        let (mut zc2, mut yc2) = (z0.clone(), vec![T::zero(); len]);
        cpu.bias_act(act, rows, cols, None, &mut zc2, &mut yc2);
        same(&format!("bias_act {act:?} without bias"), &yk2, &yc2, tol);
        same(&format!("bias_act {act:?} z kept"), &zk2, &z0, 0.0);

        let mut yk3 = vec![T::zero(); len];
        let mut x = z0.clone();
        launch::<T>(
            "act_forward",
            Some(len),
            vec![
                A::I(code),
                T::arg(alpha),
                A::L(n),
                ptr(&mut x),
                ptr(&mut yk3),
            ],
        );
        let mut yc3 = vec![T::zero(); len];
        cpu.act_forward(act, len, &z0, &mut yc3);
        same(&format!("act_forward {act:?}"), &yk3, &yc3, tol);

        let gy: Vec<T> = random(&mut rng, len);
        let mut gzc = vec![T::zero(); len];
        cpu.act_backward(act, len, &zc, &yc, &gy, &mut gzc);
        let (mut zz, mut yy, mut gg, mut gzk) =
            (zc.clone(), yc.clone(), gy.clone(), vec![T::zero(); len]);
        let a = vec![
            A::I(code),
            T::arg(alpha),
            A::L(n),
            ptr(&mut zz),
            ptr(&mut yy),
            ptr(&mut gg),
            ptr(&mut gzk),
        ];
        launch::<T>("act_backward", Some(len), a);
        same(&format!("act_backward {act:?}"), &gzk, &gzc, tol);
    }

    // Softmax and its backward pass: one thread per row.
    let x: Vec<T> = random(&mut rng, len);
    let mut yc = vec![T::zero(); len];
    cpu.softmax(rows, cols, &x, &mut yc);
    let (mut xk, mut yk) = (x.clone(), vec![T::zero(); len]);
    launch::<T>(
        "softmax",
        Some(rows),
        vec![A::L(r), A::L(c), ptr(&mut xk), ptr(&mut yk)],
    );
    same("softmax", &yk, &yc, tol);
    let gy: Vec<T> = random(&mut rng, len);
    let mut gxc = vec![T::zero(); len];
    cpu.softmax_backward(rows, cols, &yc, &gy, &mut gxc);
    let (mut yy, mut gg, mut gxk) = (yc.clone(), gy.clone(), vec![T::zero(); len]);
    launch::<T>(
        "softmax_backward",
        Some(rows),
        vec![A::L(r), A::L(c), ptr(&mut yy), ptr(&mut gg), ptr(&mut gxk)],
    );
    same("softmax_backward", &gxk, &gxc, tol);

    // Dropout: the same counter-based mask.
    let (p, seed) = (0.3f64, 99u64);
    let (mut mc, mut oc) = (vec![T::zero(); len], vec![T::zero(); len]);
    cpu.dropout(len, p, seed, &x, &mut mc, &mut oc);
    let (mut xx, mut mk, mut ok) = (x.clone(), vec![T::zero(); len], vec![T::zero(); len]);
    let a = vec![
        A::L(n),
        A::F(p as f32),
        T::arg(1.0 / (1.0 - p)),
        A::U(seed),
        ptr(&mut xx),
        ptr(&mut mk),
        ptr(&mut ok),
    ];
    launch::<T>("dropout", Some(len), a);
    same("dropout mask", &mk, &mc, 0.0);
    same("dropout output", &ok, &oc, tol);

    // Element-wise product, scale, fill.
    let mut prodc = vec![T::zero(); len];
    cpu.mul(len, &x, &gy, &mut prodc);
    let (mut a1, mut b1, mut prodk) = (x.clone(), gy.clone(), vec![T::zero(); len]);
    launch::<T>(
        "mul",
        Some(len),
        vec![A::L(n), ptr(&mut a1), ptr(&mut b1), ptr(&mut prodk)],
    );
    same("mul", &prodk, &prodc, tol);
    let (mut sc, mut sk) = (x.clone(), x.clone());
    cpu.scale(len, T::of(0.37), &mut sc);
    launch::<T>(
        "scale",
        Some(len),
        vec![A::L(n), T::arg(0.37), ptr(&mut sk)],
    );
    same("scale", &sk, &sc, tol);
    let (mut fc, mut fk) = (x.clone(), x.clone());
    cpu.fill(len - 3, T::of(2.5), &mut fc);
    launch::<T>(
        "fill",
        Some(len - 3),
        vec![A::L(n - 3), T::arg(2.5), ptr(&mut fk)],
    );
    same("fill (a prefix)", &fk, &fc, 0.0);

    // Gathering rows through an index list, from an offset.
    let idx = [9usize, 5, 0, 36, 5, 17];
    let ic = cpu.upload_indices(&idx).unwrap();
    let mut gc = vec![T::zero(); 5 * cols];
    cpu.gather_rows(cols, &x, &ic, 1, 5, &mut gc);
    let mut ik: Vec<i64> = idx.iter().map(|&i| i as i64).collect();
    let (mut src, mut gk) = (x.clone(), vec![T::zero(); 5 * cols]);
    launch::<T>(
        "gather_rows",
        Some(5 * cols),
        vec![
            A::L(5),
            A::L(c),
            ptr(&mut src),
            ptr(&mut ik),
            A::L(1),
            ptr(&mut gk),
        ],
    );
    same("gather_rows", &gk, &gc, 0.0);

    // Image augmentation.
    let aug = Augment {
        height: 5,
        width: 7,
        max_shift: 2,
        flip: true,
    };
    let imgs: Vec<T> = random(&mut rng, 40 * 35);
    let mut ac = vec![T::zero(); 40 * 35];
    cpu.augment_images(&aug, 40, 1234, &imgs, &mut ac);
    let (mut src, mut ak) = (imgs.clone(), vec![T::zero(); 40 * 35]);
    let a = vec![
        A::L(40),
        A::L(5),
        A::L(7),
        A::L(2),
        A::I(1),
        A::U(1234),
        ptr(&mut src),
        ptr(&mut ak),
    ];
    launch::<T>("augment", Some(40 * 35), a);
    same("augment", &ak, &ac, 0.0);

    // Losses: gradient, per-row partials, and the reduction into the accumulators.
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
        let out: Vec<T> = random(&mut rng, len);
        let t: Vec<T> = match loss {
            Loss::Mse => random(&mut rng, len),
            Loss::CrossEntropy { .. } => (0..rows).map(|_| T::of(rng.below(cols) as f64)).collect(),
            Loss::BinaryCrossEntropy => (0..len).map(|_| T::of(rng.below(2) as f64)).collect(),
        };
        let (mut gradc, mut accc) = (vec![T::zero(); len], vec![T::of(1.5), T::of(2.0)]);
        cpu.loss(&loss, rows, cols, &out, &t, &mut gradc, &mut accc);
        let (mut o, mut tt, mut gradk) = (out.clone(), t.clone(), vec![T::zero(); len]);
        let mut part = vec![0.0f64; 2 * rows];
        let (name, scale, mut a) = match loss {
            Loss::Mse => ("loss_mse", 1.0 / cols as f64, vec![A::L(r), A::L(c)]),
            Loss::CrossEntropy { label_smoothing } => (
                "loss_xent",
                1.0,
                vec![A::L(r), A::L(c), A::D(label_smoothing)],
            ),
            Loss::BinaryCrossEntropy => ("loss_bce", 1.0 / cols as f64, vec![A::L(r), A::L(c)]),
        };
        a.extend([ptr(&mut o), ptr(&mut tt), ptr(&mut gradk), ptr(&mut part)]);
        launch::<T>(name, Some(rows), a);
        same(&format!("{loss:?} gradient"), &gradk, &gradc, tol);
        let mut acck = vec![T::of(1.5), T::of(2.0)];
        launch::<T>(
            "reduce_acc",
            None,
            vec![A::L(r), ptr(&mut part), A::D(scale), ptr(&mut acck)],
        );
        same(&format!("{loss:?} accumulators"), &acck, &accc, tol);
    }

    // Sum of squares and the non-finite count (one block).
    let mut xs = x.clone();
    xs[7] = T::nan();
    let mut out = vec![0.0f64; 2];
    launch::<T>("stats", None, vec![A::L(n), ptr(&mut xs), ptr(&mut out)]);
    let want: f64 = x
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 7)
        .map(|(_, v)| v.f64() * v.f64())
        .sum();
    assert!(out[0].is_nan(), "a NaN makes the sum of squares NaN");
    assert_eq!(out[1], 1.0, "one non-finite element");
    let mut xf = x.clone();
    launch::<T>("stats", None, vec![A::L(n), ptr(&mut xf), ptr(&mut out)]);
    assert!((out[0] - (want + x[7].f64() * x[7].f64())).abs() <= 1e-9 * out[0]);
    assert_eq!(out[1], 0.0);
    assert!((out[0] - cpu.sum_squares(len, &x)).abs() <= 1e-9 * out[0]);

    // Optimizer updates, three steps each, with the scalars the backend computes.
    let n = 1000usize;
    let grads: Vec<T> = random(&mut rng, n);
    for variant in 0..3 {
        let w0: Vec<T> = random(&mut rng, n);
        let (mut wc, mut vc) = (w0.clone(), vec![T::zero(); n]);
        let (mut wk, mut vk, mut gk) = (w0.clone(), vec![T::zero(); n], grads.clone());
        for _ in 0..3 {
            let h = SgdHyper {
                lr: 0.05,
                momentum: if variant == 0 { 0.0 } else { 0.9 },
                nesterov: variant == 2,
                weight_decay: 0.01,
                grad_scale: 0.5,
            };
            cpu.sgd_update(n, &h, &mut wc, &grads, (variant > 0).then_some(&mut vc));
            let a = vec![
                A::L(n as i64),
                T::arg(h.lr),
                T::arg(h.weight_decay),
                T::arg(h.grad_scale),
                T::arg(h.momentum),
                A::I(h.nesterov as i32),
                A::I((variant > 0) as i32),
                ptr(&mut wk),
                ptr(&mut gk),
                ptr(&mut vk),
            ];
            launch::<T>("sgd", Some(n), a);
        }
        same(&format!("sgd variant {variant}"), &wk, &wc, tol);
    }
    for decoupled in [false, true] {
        let w0: Vec<T> = random(&mut rng, n);
        let (mut wc, mut mc, mut vc) = (w0.clone(), vec![T::zero(); n], vec![T::zero(); n]);
        let (mut wk, mut mk, mut vk, mut gk) = (
            w0.clone(),
            vec![T::zero(); n],
            vec![T::zero(); n],
            grads.clone(),
        );
        for step in 1..=3u64 {
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
            cpu.adam_update(n, &h, &mut wc, &grads, &mut mc, &mut vc);
            let t = h.step.max(1) as i32;
            let (bc1, bc2) = (1.0 - h.beta1.powi(t), 1.0 - h.beta2.powi(t));
            let (l2, shrink) = if decoupled {
                (0.0, 1.0 - h.lr * h.weight_decay)
            } else {
                (h.weight_decay, 1.0)
            };
            let a = vec![
                A::L(n as i64),
                T::arg(h.lr / bc1),
                T::arg(1.0 / bc2.sqrt()),
                T::arg(h.beta1),
                T::arg(h.beta2),
                T::arg(h.eps),
                T::arg(h.grad_scale),
                T::arg(l2),
                T::arg(shrink),
                ptr(&mut wk),
                ptr(&mut gk),
                ptr(&mut mk),
                ptr(&mut vk),
            ];
            launch::<T>("adam", Some(n), a);
        }
        same(&format!("adam decoupled={decoupled}"), &wk, &wc, tol);
        same("adam first moment", &mk, &mc, tol);
        same("adam second moment", &vk, &vc, tol);
    }
    let w0: Vec<T> = random(&mut rng, n);
    let (mut wc, mut sc) = (w0.clone(), vec![T::zero(); n]);
    let (mut wk, mut sk, mut gk) = (w0.clone(), vec![T::zero(); n], grads.clone());
    for _ in 0..3 {
        let h = RmsPropHyper {
            lr: 0.01,
            rho: 0.99,
            eps: 1e-8,
            weight_decay: 0.01,
            grad_scale: 1.0,
        };
        cpu.rmsprop_update(n, &h, &mut wc, &grads, &mut sc);
        let a = vec![
            A::L(n as i64),
            T::arg(h.lr),
            T::arg(h.rho),
            T::arg(h.eps),
            T::arg(h.weight_decay),
            T::arg(h.grad_scale),
            ptr(&mut wk),
            ptr(&mut gk),
            ptr(&mut sk),
        ];
        launch::<T>("rmsprop", Some(n), a);
    }
    same("rmsprop", &wk, &wc, tol);
}

#[test]
fn emulated_cuda_kernels_match_the_cpu_in_f64() {
    kernels_match_the_cpu::<f64>(1e-12);
}

#[test]
fn emulated_cuda_kernels_match_the_cpu_in_f32() {
    kernels_match_the_cpu::<f32>(1e-5);
}

#[test]
fn grid_stride_loops_cover_more_elements_than_threads() {
    // 70,000 elements with the grid capped at 16 blocks of 256 threads (as a capped launch would be):
    // every element is still written.
    let n = 70_000usize;
    let mut x = vec![0.0f32; n];
    let mut args = [A::L(n as i64), A::F(3.0), ptr(&mut x)];
    let mut ptrs: Vec<*mut c_void> = args
        .iter_mut()
        .map(|a| match a {
            A::L(v) => v as *mut i64 as *mut c_void,
            A::F(v) => v as *mut f32 as *mut c_void,
            A::P(v) => v as *mut *mut c_void as *mut c_void,
            _ => unreachable!(),
        })
        .collect();
    let name = CString::new("fill_f32").unwrap();
    // SAFETY: fill_f32(i64 n, float v, float* x) and a buffer of n floats.
    let rc = unsafe {
        let f: libloading::Symbol<Launch> = emulator().get(b"emu_launch").unwrap();
        f(name.as_ptr(), 16, 256, ptrs.as_mut_ptr())
    };
    assert_eq!(rc, 0);
    assert!(x.iter().all(|&v| v == 3.0));
}
