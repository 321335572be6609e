//! The Parquet readers: any bytes must read into a table, in memory or streamed (with the number
//! columns taken as numbers, as a streamed epoch reads them), or give a typed error, never a panic
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
    // The streaming reader opens files: one per fuzzing process, rewritten for each input.
    let path = std::env::temp_dir().join(format!("neuron-fuzz-{}.parquet", std::process::id()));
    if std::fs::write(&path, data).is_ok() {
        if let Some(path) = path.to_str() {
            let _ = read_streamed(path);
        }
    }
});

/// Every chunk of the file at `path`, streamed, integer and float columns as numbers.
fn read_streamed(path: &str) -> neuron::Result<usize> {
    let mut s = neuron::data::stream::TableStream::open(path, None)?;
    s.numbers_for(vec![true; s.headers().len()]);
    let mut chunk = neuron::data::records::RecordChunk::default();
    let mut chunks = 0;
    while s.next_records_into(&mut chunk, 7)? {
        chunks += 1;
    }
    Ok(chunks)
}
