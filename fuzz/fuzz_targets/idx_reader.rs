//! The IDX reader: any bytes (raw or gzip) must parse or give a typed error, never a panic or a
//! huge allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = neuron::data::idx::parse_idx(data.to_vec(), "fuzz-idx") {
        assert_eq!(a.data.len(), a.dims.iter().product::<usize>());
    }
});
