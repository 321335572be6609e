//! The CSV reader and the preprocessing fitted on what it reads: any bytes must give a table or a
//! typed error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use neuron::data::csv::read_csv_bytes;
use neuron::data::preprocess::{Impute, Preprocessor};

fuzz_target!(|data: &[u8]| {
    let Ok(table) = read_csv_bytes(data.to_vec(), "fuzz.csv") else { return };
    for (standardize, impute) in [(true, None), (false, Some(Impute::Median))] {
        if let Ok(p) = Preprocessor::fit(&table, None, None, standardize, impute) {
            let _ = p.transform(&table, true);
            let _ = p.transform(&table, false);
        }
    }
    let _ = Preprocessor::fit(&table, Some("0"), None, true, Some(Impute::Mean));
});
