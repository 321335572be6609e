//! The ONNX reader: any bytes must read into a valid model or give a typed error, never a panic.
//! A model that reads must predict without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use neuron::{Cpu, Matrix};

fuzz_target!(|data: &[u8]| {
    if let Ok((mut model, _meta)) = neuron::io::onnx::from_onnx_bytes(data, "fuzz.onnx", Cpu::with_threads(1)) {
        let n = model.input_dim();
        if n <= 4096 {
            if let Ok(x) = Matrix::from_vec(2, n, vec![0.5f32; 2 * n]) {
                let _ = model.predict(&x);
            }
        }
    }
});
