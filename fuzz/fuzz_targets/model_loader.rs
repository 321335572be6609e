//! The model-file loader: any bytes must load into a valid model or give a typed error, never a
//! panic. A model that loads must predict without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use neuron::{Cpu, Matrix};

fuzz_target!(|data: &[u8]| {
    if let Ok((mut model, _meta)) = neuron::io::model_file::from_bytes_on(data, "fuzz.safetensors", Cpu::with_threads(1)) {
        let n = model.input_dim();
        if n <= 4096 {
            if let Ok(x) = Matrix::from_vec(2, n, vec![0.5f32; 2 * n]) {
                let _ = model.predict(&x);
            }
        }
    }
});
