//! A [`Runtime`] on the CPU: buffers in host memory, the CUDA kernels of `src/gpu/kernels.cu`
//! run by the emulator in `tests/emu/` (compiled with `g++` on first use), products by the
//! definition of cuBLAS's `gemm`. With it, the whole GPU backend runs without a GPU.

use std::cell::UnsafeCell;
use std::ffi::{c_char, c_void, CString};
use std::process::Command;
use std::sync::OnceLock;

use neuron::gpu::{Arg, Elem, GemmCfg, Gpu, GpuFloat, Runtime};

type Launch = unsafe extern "C" fn(*const c_char, u32, u32, *mut *mut c_void) -> i32;

/// The emulator library, compiled once per test executable.
pub fn emulator() -> &'static libloading::Library {
    static LIB: OnceLock<libloading::Library> = OnceLock::new();
    LIB.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let lib = dir.join("libneuron_cuda_emu.so");
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
        // SAFETY: the library was just built from our own source.
        unsafe { libloading::Library::new(&lib).unwrap() }
    })
}

/// Calls the emulator's `emu_launch` with cuLaunchKernel's convention.
///
/// # Safety
/// `args` must point to values of the kernel's parameter types, in order, and every pointer
/// argument to memory large enough for what the kernel touches.
pub unsafe fn emu_launch(name: &str, grid: u32, block: u32, args: &mut [*mut c_void]) -> i32 {
    let name = CString::new(name).unwrap();
    unsafe {
        let f: libloading::Symbol<Launch> = emulator().get(b"emu_launch").unwrap();
        f(name.as_ptr(), grid, block, args.as_mut_ptr())
    }
}

/// The emulated device.
pub struct Emu;

/// A buffer in host memory that kernels write through its address.
pub struct EmuBuf<X> {
    addr: u64,
    cells: Box<[UnsafeCell<X>]>,
}
// SAFETY: kernels run one at a time (the emulator serialises launches), as on one stream.
unsafe impl<X: Send> Send for EmuBuf<X> {}
unsafe impl<X: Sync> Sync for EmuBuf<X> {}

impl<X: Elem> EmuBuf<X> {
    fn ptr(&self) -> *mut X {
        self.addr as *mut X
    }
}

/// The backend on the emulated device; `None` (with a note) when `NEURON_SKIP_EMULATOR=1`, as on
/// the GPU machine, which runs the real thing and may lack a C++ compiler and this source tree.
pub fn emulated<T: GpuFloat>() -> Option<Gpu<T, Emu>> {
    if std::env::var("NEURON_SKIP_EMULATOR").is_ok_and(|v| v == "1") {
        eprintln!("skipped: the emulated GPU (NEURON_SKIP_EMULATOR=1)");
        return None;
    }
    Some(Gpu::with_runtime(Emu).unwrap())
}

impl Runtime for Emu {
    type Raw = u64;
    type Buf<X: Elem> = EmuBuf<X>;

    fn name(&self) -> String {
        "GPU emulated on the CPU".into()
    }

    fn alloc<X: Elem>(&self, len: usize) -> Result<EmuBuf<X>, String> {
        let cells: Box<[UnsafeCell<X>]> = (0..len.max(1))
            .map(|_| UnsafeCell::new(X::default()))
            .collect();
        let addr = cells.as_ptr() as u64;
        Ok(EmuBuf { addr, cells })
    }

    fn len<X: Elem>(buf: &EmuBuf<X>) -> usize {
        buf.cells.len()
    }

    fn raw<X: Elem>(buf: &EmuBuf<X>) -> &u64 {
        &buf.addr
    }

    fn htod<X: Elem>(&self, src: &[X], dst: &mut EmuBuf<X>) -> Result<(), String> {
        assert!(src.len() <= dst.cells.len());
        // SAFETY: in bounds; no kernel runs concurrently.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst.ptr(), src.len()) };
        Ok(())
    }

    fn dtoh<X: Elem>(&self, src: &EmuBuf<X>, dst: &mut [X]) -> Result<(), String> {
        assert!(dst.len() <= src.cells.len());
        // SAFETY: as above.
        unsafe { std::ptr::copy_nonoverlapping(src.ptr(), dst.as_mut_ptr(), dst.len()) };
        Ok(())
    }

    fn dtod<X: Elem>(
        &self,
        len: usize,
        src: &EmuBuf<X>,
        dst: &mut EmuBuf<X>,
    ) -> Result<(), String> {
        assert!(len <= src.cells.len() && len <= dst.cells.len());
        // SAFETY: as above (distinct buffers).
        unsafe { std::ptr::copy(src.ptr(), dst.ptr(), len) };
        Ok(())
    }

    fn launch(
        &self,
        name: &str,
        grid: u32,
        block: u32,
        args: &[Arg<'_, u64>],
    ) -> Result<(), String> {
        // Values the argument pointers point to, as cuLaunchKernel receives them.
        enum V {
            I(i32),
            L(i64),
            U(u64),
            F(f32),
            D(f64),
        }
        let mut vals: Vec<V> = args
            .iter()
            .map(|a| match a {
                Arg::I32(v) => V::I(*v),
                Arg::I64(v) => V::L(*v),
                Arg::U64(v) => V::U(*v),
                Arg::F32(v) => V::F(*v),
                Arg::F64(v) => V::D(*v),
                Arg::Buf(addr) => V::U(**addr),
            })
            .collect();
        let mut ptrs: Vec<*mut c_void> = vals
            .iter_mut()
            .map(|v| match v {
                V::I(x) => x as *mut i32 as *mut c_void,
                V::L(x) => x as *mut i64 as *mut c_void,
                V::U(x) => x as *mut u64 as *mut c_void,
                V::F(x) => x as *mut f32 as *mut c_void,
                V::D(x) => x as *mut f64 as *mut c_void,
            })
            .collect();
        // SAFETY: the backend passes each kernel its parameters in order and of the declared
        // types — which is what these tests check, by comparing results with the CPU backend.
        match unsafe { emu_launch(name, grid, block, &mut ptrs) } {
            0 => Ok(()),
            _ => Err(format!("no kernel named {name}")),
        }
    }

    fn gemm<T: GpuFloat>(
        &self,
        cfg: &GemmCfg<T>,
        a: &EmuBuf<T>,
        b: &EmuBuf<T>,
        c: &mut EmuBuf<T>,
    ) -> Result<(), String> {
        // cuBLAS's definition, column-major: C = α·op(A)·op(B) + β·C.
        let (m, n, k) = (cfg.m as usize, cfg.n as usize, cfg.k as usize);
        let (lda, ldb, ldc) = (cfg.lda as usize, cfg.ldb as usize, cfg.ldc as usize);
        // SAFETY: reads and writes inside the buffers, which the backend checked; no kernel runs.
        let get = |buf: &EmuBuf<T>, i: usize| unsafe { *buf.ptr().add(i) };
        let op_a = |i: usize, l: usize| {
            get(
                a,
                if cfg.trans_a {
                    l + i * lda
                } else {
                    i + l * lda
                },
            )
        };
        let op_b = |l: usize, j: usize| {
            get(
                b,
                if cfg.trans_b {
                    j + l * ldb
                } else {
                    l + j * ldb
                },
            )
        };
        for j in 0..n {
            for i in 0..m {
                let s: f64 = (0..k).map(|l| op_a(i, l).f64() * op_b(l, j).f64()).sum();
                let idx = i + j * ldc;
                assert!(idx < c.cells.len(), "product writes past C");
                let old = get(c, idx).f64();
                let v = cfg.alpha.f64() * s
                    + if cfg.beta.f64() == 0.0 {
                        0.0
                    } else {
                        cfg.beta.f64() * old
                    };
                // SAFETY: in bounds (asserted).
                unsafe { *c.ptr().add(idx) = T::of(v) };
            }
        }
        Ok(())
    }

    fn synchronize(&self) -> Result<(), String> {
        Ok(())
    }
}
