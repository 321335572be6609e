//! The table of a model's columns (name, role, encoding, inputs), printed by `neuron train` as it
//! fits the preprocessing and by `neuron summary` from the model file.

use neuron::data::preprocess::{ColumnRow, Preprocessor};

/// Feature rows shown one by one before the rest are summed up.
const SHOWN_FEATURES: usize = 12;

/// The lines of the table: every dropped column and the target, and the features (the first
/// few of a wide table, then a count of the rest).
pub fn column_lines(pre: &Preprocessor) -> Vec<String> {
    let rows = pre.column_table();
    let features: Vec<&ColumnRow> = rows.iter().filter(|r| r.role == "feature").collect();
    let others: Vec<&ColumnRow> = rows.iter().filter(|r| r.role != "feature").collect();
    let wide = features.len() > SHOWN_FEATURES + 4;
    let shown: Vec<&ColumnRow> = if wide {
        features[..SHOWN_FEATURES].to_vec()
    } else {
        features.clone()
    };
    let all: Vec<&ColumnRow> = shown.iter().chain(&others).copied().collect();
    let w = all
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(6, 32);
    let rw = all.iter().map(|r| r.role.len()).max().unwrap_or(4).max(4);
    let ew = all
        .iter()
        .map(|r| r.encoding.chars().count())
        .max()
        .unwrap_or(8)
        .clamp(8, 48);
    let mut lines = vec![format!(
        "  {:<w$}  {:<rw$}  {:<ew$}  inputs",
        "column", "role", "encoding"
    )];
    let line = |r: &ColumnRow| {
        let inputs = if r.role == "feature" {
            r.inputs.to_string()
        } else {
            "-".into()
        };
        format!(
            "  {:<w$}  {:<rw$}  {:<ew$}  {inputs}",
            r.name, r.role, r.encoding
        )
    };
    lines.extend(shown.iter().map(|r| line(r)));
    if wide {
        let rest = &features[SHOWN_FEATURES..];
        let inputs: usize = rest.iter().map(|r| r.inputs).sum();
        lines.push(format!(
            "  … and {} more features ({inputs} inputs)",
            rest.len()
        ));
    }
    lines.extend(others.iter().map(|r| line(r)));
    lines
}

/// Prints the table to stderr, as training does.
pub fn eprint_columns(pre: &Preprocessor) {
    let n = pre.columns.len() + pre.dropped.len() + 1;
    eprintln!("columns ({n}; --drop, --keep and --categorical override):");
    for line in column_lines(pre) {
        eprintln!("{line}");
    }
}
