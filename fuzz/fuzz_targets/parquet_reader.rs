//! The Parquet reader: any bytes must read into a table or give a typed error, never a panic
//! that escapes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Panics inside the Parquet decoder on corrupt pages are caught by the reader and become
    // errors; any other panic still aborts (the fuzzer's harness catches it) and is a crash.
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| {
        let fuzzer = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !neuron::data::parquet::in_guarded_call() {
                fuzzer(info);
            }
        }));
    });
    let _ = neuron::data::parquet::read_parquet_bytes(data.to_vec(), "fuzz.parquet");
});
