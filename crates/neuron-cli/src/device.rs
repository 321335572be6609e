//! `--device cpu|cuda[:N]` and `--precision f32|tf32`: choosing the backend a command runs on.

use anyhow::{bail, Result};
use neuron::{Backend, Cpu};

/// Where a command computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Device {
    /// The CPU, with the `--threads` helper team.
    Cpu,
    /// The NVIDIA GPU with this index.
    Cuda(usize),
}

impl std::str::FromStr for Device {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "cpu" => Ok(Device::Cpu),
            "cuda" | "gpu" => Ok(Device::Cuda(0)),
            _ => match s.strip_prefix("cuda:").map(str::parse) {
                Some(Ok(i)) => Ok(Device::Cuda(i)),
                _ => Err(format!("unknown device {s:?} (use cpu, cuda or cuda:N)")),
            },
        }
    }
}

/// Work that runs on whichever `f32` backend the user picked.
pub trait OnBackend {
    type Out;
    fn run<B: Backend<E = f32>>(self, be: B) -> Result<Self::Out>;
}

/// Runs `job` on `device`; `tf32` lets cuBLAS use TF32 tensor cores (GPU only).
pub fn dispatch<J: OnBackend>(device: &str, threads: usize, tf32: bool, job: J) -> Result<J::Out> {
    let device: Device = device.parse().map_err(anyhow::Error::msg)?;
    match device {
        Device::Cpu => {
            if tf32 {
                bail!("--precision tf32 applies to --device cuda only");
            }
            job.run(Cpu::<f32>::with_threads(threads))
        }
        Device::Cuda(i) => cuda(i, tf32, job),
    }
}

#[cfg(feature = "cuda")]
fn cuda<J: OnBackend>(index: usize, tf32: bool, job: J) -> Result<J::Out> {
    let gpu = neuron::Cuda::<f32>::new(index)?;
    gpu.set_tf32(tf32)?;
    job.run(gpu)
}

#[cfg(not(feature = "cuda"))]
fn cuda<J: OnBackend>(_index: usize, _tf32: bool, _job: J) -> Result<J::Out> {
    bail!("this neuron was built without GPU support: rebuild it with `cargo build --release --features cuda`")
}

/// `--precision`: `f32` (exact products) or `tf32` (tensor-core products on the GPU).
pub fn tf32(precision: &str) -> Result<bool> {
    match precision {
        "f32" => Ok(false),
        "tf32" => Ok(true),
        "bf16" => bail!("--precision bf16 is not supported yet (use f32 or tf32)"),
        p => bail!("unknown precision {p:?} (use f32 or tf32)"),
    }
}
