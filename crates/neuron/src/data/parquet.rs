//! Reading Parquet files (the arrow-rs project's `parquet` crate; snappy and zstd pages) into the
//! same table of text as CSV, so columns are typed and encoded by the same rules: numbers stay
//! numbers, booleans, text and dictionary columns become categories, nulls are missing cells.
//! Dates and timestamps are written as ISO 8601 text. Nested columns (lists, maps, groups) are
//! refused.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use bytes::Bytes;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;

use super::csv::RawTable;
use super::parquet_rows::ParquetRows;
use crate::error::{NeuronError, Result};

/// The four bytes that start (and end) every Parquet file.
pub const MAGIC: &[u8; 4] = b"PAR1";

thread_local! {
    static GUARDED: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread is inside a call to the Parquet decoder. The decoder can panic on a corrupt
/// file (an assertion on a page's length, for instance); such a panic is caught and becomes an
/// error, and a panic hook may use this to stay silent about it.
pub fn in_guarded_call() -> bool {
    GUARDED.with(Cell::get)
}

/// Runs `f`, a call into the Parquet decoder, turning a panic into an error about `source`.
pub(crate) fn guarded<T>(source: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let outer = GUARDED.with(|g| g.replace(true));
    let r = catch_unwind(AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(outer));
    r.unwrap_or_else(|_| {
        Err(NeuronError::data(format!(
            "{source}: not a readable Parquet file (its pages are corrupt)"
        )))
    })
}

/// Whether `bytes` start like a Parquet file.
pub fn is_parquet(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

/// Reads a Parquet file.
pub fn read_parquet_path(path: impl AsRef<Path>) -> Result<RawTable> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| NeuronError::io(path, e))?;
    read_parquet_bytes(bytes, &path.display().to_string())
}

/// A cell as the text a CSV file would hold (text without surrounding whitespace, as CSV cells
/// are read).
pub(crate) fn parquet_cell(f: &Field, source: &str, column: &str) -> Result<String> {
    Ok(match f {
        Field::Null => String::new(),
        Field::Bool(b) => b.to_string(),
        Field::Byte(v) => v.to_string(),
        Field::Short(v) => v.to_string(),
        Field::Int(v) => v.to_string(),
        Field::Long(v) => v.to_string(),
        Field::UByte(v) => v.to_string(),
        Field::UShort(v) => v.to_string(),
        Field::UInt(v) => v.to_string(),
        Field::ULong(v) => v.to_string(),
        Field::Float16(v) => v.to_string(),
        // A float's exact value, as the column-by-column reader writes it.
        Field::Float(v) => f64::from(*v).to_string(),
        Field::Double(v) => v.to_string(),
        Field::Str(s) => s.trim_ascii().to_string(),
        Field::Bytes(b) => String::from_utf8_lossy(b.data()).trim_ascii().to_string(),
        Field::Group(_) | Field::ListInternal(_) | Field::MapInternal(_) => {
            return Err(NeuronError::data(format!(
                "{source}: column '{column}' is nested (a list, map or group); neuron reads flat columns"
            )))
        }
        Field::Date(_) | Field::TimestampMillis(_) | Field::TimestampMicros(_) => {
            calendar_text(f).ok_or_else(|| {
                NeuronError::data(format!(
                    "{source}: column '{column}' holds a date or time outside the calendar ({f:?})"
                ))
            })?
        }
        // Decimals and times, as the crate writes them (guarded: its formatting asserts).
        other => guarded(source, || Ok(other.to_string()))?
            .trim_matches('"')
            .to_string(),
    })
}

/// A date or timestamp written as the crate's row API writes it (`2024-05-01`, and
/// `2024-05-01 12:00:00.000 +00:00` in UTC), or `None` for one outside the years chrono covers
/// (about 262,000 either side of year 0), where the crate's own formatting panics.
fn calendar_text(f: &Field) -> Option<String> {
    use chrono::DateTime;
    let (t, format) = match *f {
        Field::Date(days) => {
            let t = i64::from(days).checked_mul(86_400);
            (t.and_then(|s| DateTime::from_timestamp(s, 0)), "%Y-%m-%d")
        }
        Field::TimestampMillis(ms) => (
            DateTime::from_timestamp_millis(ms),
            "%Y-%m-%d %H:%M:%S%.3f %:z",
        ),
        Field::TimestampMicros(us) => (
            DateTime::from_timestamp_micros(us),
            "%Y-%m-%d %H:%M:%S%.6f %:z",
        ),
        _ => return None,
    };
    t.map(|t| t.format(format).to_string())
}

/// Checks that every column chunk the footer describes lies inside the file (`len` bytes): the
/// reader trusts these offsets, and a corrupt footer must give an error, not a crash.
pub(crate) fn check_layout(reader: &impl FileReader, len: u64, source: &str) -> Result<()> {
    for (g, rg) in reader.metadata().row_groups().iter().enumerate() {
        for c in rg.columns() {
            let start = c.dictionary_page_offset().unwrap_or(c.data_page_offset());
            let (data, size) = (c.data_page_offset(), c.compressed_size());
            let inside = start >= 0
                && data >= start
                && size >= 0
                && (start as u64)
                    .checked_add(size as u64)
                    .is_some_and(|end| end <= len);
            if !inside {
                return Err(NeuronError::data(format!(
                    "{source}: not a readable Parquet file (row group {g}: a column chunk lies outside the file)"
                )));
            }
        }
    }
    Ok(())
}

/// The column names of a file whose columns are all flat.
pub(crate) fn flat_headers(reader: &impl FileReader, source: &str) -> Result<Vec<String>> {
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    let fields = schema.root_schema().get_fields();
    if let Some(f) = fields.iter().find(|f| f.is_group()) {
        return Err(NeuronError::data(format!(
            "{source}: column '{}' is nested (a list, map or group); neuron reads flat columns",
            f.name()
        )));
    }
    if fields.is_empty() {
        return Err(NeuronError::data(format!(
            "{source}: the file has no columns"
        )));
    }
    Ok(fields.iter().map(|f| f.name().to_string()).collect())
}

/// Parses a Parquet file held in memory.
pub fn read_parquet_bytes(bytes: Vec<u8>, source: &str) -> Result<RawTable> {
    guarded(source, || read_unguarded(bytes, source))
}

fn read_unguarded(bytes: Vec<u8>, source: &str) -> Result<RawTable> {
    let bad = |e: parquet::errors::ParquetError| {
        NeuronError::data(format!("{source}: not a readable Parquet file ({e})"))
    };
    let len = bytes.len() as u64;
    let reader = SerializedFileReader::new(Bytes::from(bytes)).map_err(bad)?;
    check_layout(&reader, len, source)?;
    let headers = flat_headers(&reader, source)?;
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut cells = ParquetRows::new(Box::new(reader));
    loop {
        let mut row = Vec::with_capacity(headers.len());
        if cells
            .next_into(source, rows.len() as u64 + 1, &mut row)?
            .is_none()
        {
            break;
        }
        if row.len() != headers.len() {
            return Err(NeuronError::data(format!(
                "{source}: row {} has {} fields, expected {}",
                rows.len() + 1,
                row.len(),
                headers.len()
            )));
        }
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(NeuronError::data(format!("{source}: no rows")));
    }
    let lines = (1..=rows.len() as u64).collect();
    Ok(RawTable {
        source: source.to_string(),
        headers,
        rows,
        lines,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_timestamps_read_as_the_crate_writes_them_or_give_an_error() {
        let cell = |f: Field| parquet_cell(&f, "t.parquet", "day");
        for f in [
            Field::Date(0),
            Field::Date(19_844),
            Field::Date(-719_162),
            Field::TimestampMillis(1_714_564_800_123),
            Field::TimestampMicros(-1_000_000_000_001),
        ] {
            assert_eq!(cell(f.clone()).unwrap(), f.to_string(), "{f:?}");
        }
        assert_eq!(cell(Field::Date(19_844)).unwrap(), "2024-05-01");
        for f in [
            Field::Date(i32::MAX),
            Field::Date(i32::MIN),
            Field::TimestampMillis(i64::MAX),
            Field::TimestampMicros(i64::MIN),
        ] {
            let e = cell(f).unwrap_err().to_string();
            assert!(
                e.contains("'day'") && e.contains("outside the calendar"),
                "{e}"
            );
        }
    }
}
