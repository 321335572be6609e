//! The Parquet reader: any bytes must read into a table or give a typed error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = neuron::data::parquet::read_parquet_bytes(data.to_vec(), "fuzz.parquet");
});
