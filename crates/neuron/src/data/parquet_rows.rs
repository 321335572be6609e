//! A Parquet file read row by row as text cells. Files whose columns all have plain types
//! (booleans, integers, floats, text) are decoded column by column, a batch of rows at a time,
//! and each cell is written as text from its typed value: the fast path, with no per-row objects.
//! Files with other logical types (dates, times, timestamps, decimals, half floats, raw fixed-size
//! bytes) go through the crate's row API, which writes those types as text. Both give the same
//! text for the same value (see [`super::parquet::parquet_cell`]). A float is written as its exact
//! value (widened to `f64`), so its text reads back as the very number the file holds.
//!
//! Readers that only need a column's numbers can ask for them as numbers
//! ([`ParquetRows::next_typed`]): on the fast path, integer and float columns so named are then
//! not written as text at all (their cells are left empty), which is most of the reading's cost.

use std::fmt::Write;
use std::ops::Range;

use parquet::basic::{ConvertedType, LogicalType, Type as Physical};
use parquet::column::reader::{ColumnReader, ColumnReaderImpl};
use parquet::data_type::{
    BoolType, ByteArrayType, DataType, DoubleType, FloatType, Int32Type, Int64Type,
};
use parquet::errors::ParquetError;
use parquet::file::reader::FileReader;
use parquet::record::reader::RowIter;
use parquet::schema::types::ColumnDescriptor;

use super::float_text::push_f64;
use super::parquet::{guarded, parquet_cell};
use crate::error::{NeuronError, Result};

/// Rows decoded per column at a time on the fast path.
const BATCH: usize = 4096;

/// The rows of one Parquet file, in order.
pub(crate) enum ParquetRows {
    /// Column by column (every column has a plain type).
    Columns(Box<ColumnBatches>),
    /// Through the crate's row API.
    Records(RowIter<'static>),
}

impl ParquetRows {
    /// Reads `file`: column by column when every column has a plain type.
    pub(crate) fn new(file: Box<dyn FileReader>) -> Self {
        let schema = file.metadata().file_metadata().schema_descr_ptr();
        let kinds: Option<Vec<Text>> = schema.columns().iter().map(|c| text_of(c)).collect();
        match kinds {
            Some(kinds) => {
                // Where each row group starts, counted in compressed bytes.
                let mut offsets = Vec::new();
                let mut at = 0;
                for g in file.metadata().row_groups() {
                    offsets.push(at);
                    at += g.compressed_size().max(0) as u64;
                }
                ParquetRows::Columns(Box::new(ColumnBatches {
                    end_group: offsets.len(),
                    offsets,
                    file,
                    kinds,
                    group: 0,
                    started: None,
                    columns: Vec::new(),
                    len: 0,
                    at: 0,
                }))
            }
            None => ParquetRows::Records(RowIter::from_file_into(file)),
        }
    }

    /// Reads only the row groups that start at `range.start` or later and before `range.end`
    /// (places given by [`ParquetRows::group_started`]); `None` if the file cannot be read from
    /// a row group (it is read through the row API).
    pub(crate) fn within(mut self, range: Range<u64>) -> Option<Self> {
        match &mut self {
            ParquetRows::Columns(c) => {
                c.group = c.offsets.partition_point(|&o| o < range.start);
                c.end_group = c.offsets.partition_point(|&o| o < range.end);
                Some(self)
            }
            ParquetRows::Records(_) => None,
        }
    }

    /// Where a row group starts (in compressed bytes from the first), if the row read last was
    /// the first of a row group after the first (a place a segment can start).
    pub(crate) fn group_started(&mut self) -> Option<u64> {
        match self {
            ParquetRows::Columns(c) => c.started.take().filter(|&o| o > 0),
            ParquetRows::Records(_) => None,
        }
    }

    /// Whether the file is read column by column.
    #[cfg(test)]
    pub(crate) fn columnar(&self) -> bool {
        matches!(self, ParquetRows::Columns(_))
    }

    /// The next row's cells into `cells` (their strings reused), numbered `row` (from 1) for
    /// messages about `name`; `Ok(None)` after the last row.
    pub(crate) fn next_into(
        &mut self,
        name: &str,
        row: u64,
        cells: &mut Vec<String>,
    ) -> Result<Option<u64>> {
        self.next_typed(name, row, cells, &[], &mut Vec::new())
    }

    /// [`ParquetRows::next_into`], with the numbers of the integer and float columns marked in
    /// `numeric` into `numbers` instead of text (their cells left empty; `None` for a null).
    /// `numbers` has one entry per column, `None` for every column given as text.
    pub(crate) fn next_typed(
        &mut self,
        name: &str,
        row: u64,
        cells: &mut Vec<String>,
        numeric: &[bool],
        numbers: &mut Vec<Option<f64>>,
    ) -> Result<Option<u64>> {
        let unreadable =
            |e: ParquetError| NeuronError::data(format!("{name}: row {row}: unreadable ({e})"));
        match self {
            ParquetRows::Columns(c) => {
                if c.at == c.len && !guarded(name, || c.next_batch().map_err(unreadable))? {
                    return Ok(None);
                }
                c.write_row(cells, (numeric, numbers), name, row)?;
            }
            ParquetRows::Records(rows) => {
                numbers.clear();
                let Some(r) = guarded(name, || Ok(rows.next()))? else {
                    return Ok(None);
                };
                let r = r.map_err(unreadable)?;
                cells.clear();
                for (col, f) in r.get_column_iter() {
                    cells.push(parquet_cell(f, name, col)?);
                    numbers.push(None);
                }
            }
        }
        Ok(Some(row))
    }
}

/// How a plain column's values are written as text (as the row API would write them).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Text {
    Bool,
    I8,
    I16,
    I32,
    U8,
    U16,
    U32,
    I64,
    U64,
    F32,
    F64,
    /// Text that must be UTF-8.
    Utf8,
    /// Bytes, read as UTF-8 with invalid sequences replaced.
    Bytes,
}

impl Text {
    /// Whether the column holds numbers (integers or floats).
    fn is_number(self) -> bool {
        !matches!(self, Text::Bool | Text::Utf8 | Text::Bytes)
    }
}

/// The text kind of a column, or `None` for a type the fast path leaves to the row API.
fn text_of(c: &ColumnDescriptor) -> Option<Text> {
    use ConvertedType as C;
    let integer = matches!(
        c.logical_type_ref(),
        None | Some(LogicalType::Integer { .. })
    );
    let text = matches!(
        c.logical_type_ref(),
        None | Some(LogicalType::String | LogicalType::Enum | LogicalType::Json)
    );
    Some(match (c.physical_type(), c.converted_type()) {
        (Physical::BOOLEAN, _) => Text::Bool,
        (Physical::FLOAT, _) => Text::F32,
        (Physical::DOUBLE, _) => Text::F64,
        (Physical::INT32, C::NONE | C::INT_32) if integer => Text::I32,
        (Physical::INT32, C::INT_8) if integer => Text::I8,
        (Physical::INT32, C::INT_16) if integer => Text::I16,
        (Physical::INT32, C::UINT_8) if integer => Text::U8,
        (Physical::INT32, C::UINT_16) if integer => Text::U16,
        (Physical::INT32, C::UINT_32) if integer => Text::U32,
        (Physical::INT64, C::NONE | C::INT_64) if integer => Text::I64,
        (Physical::INT64, C::UINT_64) if integer => Text::U64,
        (Physical::BYTE_ARRAY, C::UTF8 | C::ENUM | C::JSON) if text => Text::Utf8,
        (Physical::BYTE_ARRAY, C::NONE | C::BSON) if text => Text::Bytes,
        _ => return None,
    })
}

/// One column's reader and its current batch: the definition levels (nullable columns) and the
/// values present.
struct Column<T: DataType> {
    reader: ColumnReaderImpl<T>,
    nullable: bool,
    defs: Vec<i16>,
    values: Vec<T::T>,
    /// The next value to hand out.
    next: usize,
}

impl<T: DataType> Column<T> {
    fn new(reader: ColumnReaderImpl<T>, nullable: bool) -> Self {
        let (defs, values, next) = (Vec::new(), Vec::new(), 0);
        Column {
            reader,
            nullable,
            defs,
            values,
            next,
        }
    }

    /// Decodes up to `n` rows; how many there were.
    fn fill(&mut self, n: usize) -> std::result::Result<usize, ParquetError> {
        self.defs.clear();
        self.values.clear();
        self.next = 0;
        let defs = self.nullable.then_some(&mut self.defs);
        Ok(self.reader.read_records(n, defs, None, &mut self.values)?.0)
    }

    /// Row `r`'s value of the batch, `None` when null (rows are taken in order).
    fn take(&mut self, r: usize) -> Option<Option<&T::T>> {
        if self.nullable && *self.defs.get(r)? == 0 {
            return Some(None);
        }
        self.next += 1;
        self.values.get(self.next - 1).map(Some)
    }
}

/// A plain column of one of the types the fast path reads.
enum AnyColumn {
    Bool(Column<BoolType>),
    I32(Column<Int32Type>),
    I64(Column<Int64Type>),
    F32(Column<FloatType>),
    F64(Column<DoubleType>),
    Bytes(Column<ByteArrayType>),
}

impl AnyColumn {
    fn new(reader: ColumnReader, nullable: bool) -> Option<Self> {
        Some(match reader {
            ColumnReader::BoolColumnReader(r) => AnyColumn::Bool(Column::new(r, nullable)),
            ColumnReader::Int32ColumnReader(r) => AnyColumn::I32(Column::new(r, nullable)),
            ColumnReader::Int64ColumnReader(r) => AnyColumn::I64(Column::new(r, nullable)),
            ColumnReader::FloatColumnReader(r) => AnyColumn::F32(Column::new(r, nullable)),
            ColumnReader::DoubleColumnReader(r) => AnyColumn::F64(Column::new(r, nullable)),
            ColumnReader::ByteArrayColumnReader(r) => AnyColumn::Bytes(Column::new(r, nullable)),
            _ => return None,
        })
    }

    fn fill(&mut self, n: usize) -> std::result::Result<usize, ParquetError> {
        match self {
            AnyColumn::Bool(c) => c.fill(n),
            AnyColumn::I32(c) => c.fill(n),
            AnyColumn::I64(c) => c.fill(n),
            AnyColumn::F32(c) => c.fill(n),
            AnyColumn::F64(c) => c.fill(n),
            AnyColumn::Bytes(c) => c.fill(n),
        }
    }

    /// Writes row `r`'s cell as `kind` text into `out` (empty when null).
    fn write(&mut self, r: usize, kind: Text, out: &mut String) -> Written {
        out.clear();
        // Writing into a String cannot fail.
        match self {
            AnyColumn::Bool(c) => put(c.take(r), out, |v, o| {
                o.push_str(if *v { "true" } else { "false" });
                true
            }),
            AnyColumn::I32(c) => put(c.take(r), out, |&v, o| write_i32(o, v, kind)),
            AnyColumn::I64(c) => put(c.take(r), out, |&v, o| match kind {
                Text::U64 => write!(o, "{}", v as u64).is_ok(),
                _ => write!(o, "{v}").is_ok(),
            }),
            AnyColumn::F32(c) => put(c.take(r), out, |&v, o| {
                push_f64(o, f64::from(v));
                true
            }),
            AnyColumn::F64(c) => put(c.take(r), out, |&v, o| {
                push_f64(o, v);
                true
            }),
            AnyColumn::Bytes(c) => put(c.take(r), out, |v, o| {
                let text = match kind {
                    Text::Utf8 => match std::str::from_utf8(v.data()) {
                        Ok(s) => std::borrow::Cow::Borrowed(s),
                        Err(_) => return false,
                    },
                    _ => String::from_utf8_lossy(v.data()),
                };
                o.push_str(text.trim_ascii());
                true
            }),
        }
    }
}

impl AnyColumn {
    /// Row `r`'s value of a number column as `kind` reads it: `Some(None)` for a null, `None`
    /// when the batch lacks the value (a corrupt file) or the column holds no numbers.
    fn number(&mut self, r: usize, kind: Text) -> Option<Option<f64>> {
        Some(match self {
            AnyColumn::I32(c) => c.take(r)?.map(|&v| match kind {
                Text::I8 => f64::from(v as i8),
                Text::I16 => f64::from(v as i16),
                Text::U8 => f64::from(v as u8),
                Text::U16 => f64::from(v as u16),
                Text::U32 => f64::from(v as u32),
                _ => f64::from(v),
            }),
            AnyColumn::I64(c) => c.take(r)?.map(|&v| match kind {
                Text::U64 => v as u64 as f64,
                _ => v as f64,
            }),
            AnyColumn::F32(c) => c.take(r)?.map(|&v| f64::from(v)),
            AnyColumn::F64(c) => c.take(r)?.copied(),
            AnyColumn::Bool(_) | AnyColumn::Bytes(_) => return None,
        })
    }
}

/// What writing a cell gave.
enum Written {
    Done,
    /// The batch lacks the value (a corrupt file).
    Missing,
    /// Text that is not UTF-8.
    NotUtf8,
}

/// Writes `v` (`Some(None)` for a null: an empty cell) into `out` with `f`, which returns false
/// for text that is not UTF-8.
fn put<T>(
    v: Option<Option<&T>>,
    out: &mut String,
    f: impl FnOnce(&T, &mut String) -> bool,
) -> Written {
    match v {
        None => Written::Missing,
        Some(None) => Written::Done,
        Some(Some(v)) if f(v, out) => Written::Done,
        Some(Some(_)) => Written::NotUtf8,
    }
}

/// An INT32 value as its logical integer type writes it.
fn write_i32(out: &mut String, v: i32, kind: Text) -> bool {
    match kind {
        Text::I8 => write!(out, "{}", v as i8),
        Text::I16 => write!(out, "{}", v as i16),
        Text::U8 => write!(out, "{}", v as u8),
        Text::U16 => write!(out, "{}", v as u16),
        Text::U32 => write!(out, "{}", v as u32),
        _ => write!(out, "{v}"),
    }
    .is_ok()
}

/// A file of plain columns, read a batch of rows at a time, row group after row group.
pub(crate) struct ColumnBatches {
    file: Box<dyn FileReader>,
    kinds: Vec<Text>,
    /// Where each row group starts (in compressed bytes from the first).
    offsets: Vec<u64>,
    /// The next row group to open, and the one after the last to read.
    group: usize,
    end_group: usize,
    /// Where the row group opened for the row read last starts.
    started: Option<u64>,
    /// The open row group's columns (empty before the first and after the last).
    columns: Vec<AnyColumn>,
    /// Rows in the current batch, and the next to hand out.
    len: usize,
    at: usize,
}

impl ColumnBatches {
    /// Decodes the next batch; false after the last row.
    fn next_batch(&mut self) -> std::result::Result<bool, ParquetError> {
        loop {
            if self.columns.is_empty() && !self.open_group()? {
                return Ok(false);
            }
            let mut counts = Vec::with_capacity(self.columns.len());
            for c in &mut self.columns {
                counts.push(c.fill(BATCH)?);
            }
            let n = counts.first().copied().unwrap_or(0);
            if let Some(m) = counts.iter().find(|&&m| m != n) {
                return Err(ParquetError::General(format!(
                    "row group {}: columns of {n} and {m} rows",
                    self.group - 1
                )));
            }
            if n > 0 {
                (self.len, self.at) = (n, 0);
                return Ok(true);
            }
            self.columns.clear();
        }
    }

    /// Opens the next row group's columns; false when there is none.
    fn open_group(&mut self) -> std::result::Result<bool, ParquetError> {
        if self.group >= self.end_group.min(self.file.num_row_groups()) {
            return Ok(false);
        }
        self.started = self.offsets.get(self.group).copied();
        let group = self.file.get_row_group(self.group)?;
        let schema = group.metadata().schema_descr_ptr();
        for i in 0..self.kinds.len() {
            let nullable = schema.column(i).max_def_level() > 0;
            let column = AnyColumn::new(group.get_column_reader(i)?, nullable)
                .ok_or_else(|| ParquetError::General(format!("column {i}: unexpected type")))?;
            self.columns.push(column);
        }
        self.group += 1;
        Ok(true)
    }

    /// The current row's cells into `cells`; the number columns marked in `numeric` into
    /// `numbers` instead (see [`ParquetRows::next_typed`]).
    fn write_row(
        &mut self,
        cells: &mut Vec<String>,
        (numeric, numbers): (&[bool], &mut Vec<Option<f64>>),
        name: &str,
        row: u64,
    ) -> Result<()> {
        cells.resize(self.columns.len(), String::new());
        numbers.clear();
        numbers.resize(self.columns.len(), None);
        let at = self.at;
        let columns = self.columns.iter_mut().zip(&self.kinds);
        for (c, ((col, &kind), cell)) in columns.zip(cells.iter_mut()).enumerate() {
            let written = if kind.is_number() && numeric.get(c) == Some(&true) {
                cell.clear();
                col.number(at, kind).map_or(Written::Missing, |v| {
                    numbers[c] = v;
                    Written::Done
                })
            } else {
                col.write(at, kind, cell)
            };
            let why = match written {
                Written::Done => continue,
                Written::Missing => "unreadable (it has fewer values than rows)",
                Written::NotUtf8 => "text that is not UTF-8",
            };
            let schema = self.file.metadata().file_metadata().schema_descr_ptr();
            let column = schema.column(c).name().to_string();
            return Err(NeuronError::data(format!(
                "{name}: row {row}: column '{column}': {why}"
            )));
        }
        self.at += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;
    use parquet::data_type::ByteArray;
    use parquet::file::properties::WriterProperties;
    use parquet::file::reader::SerializedFileReader;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;

    use super::*;

    const SCHEMA: &str = "message t {
        required boolean b; optional int32 i8 (INT_8); optional int32 u32 (UINT_32);
        required int32 i; optional int64 l; optional int64 ul (UINT_64); optional float f;
        required double d; optional binary s (UTF8); optional binary raw; optional int32 none;
    }";

    /// Column `c`'s values for rows `rows` and their definition levels (every fifth row null in
    /// nullable columns, and every row of the last).
    fn write_column(
        col: &mut parquet::file::writer::SerializedColumnWriter<'_>,
        c: usize,
        rows: std::ops::Range<i64>,
    ) {
        let nullable = ![0, 3, 7].contains(&c);
        let defs: Vec<i16> = rows
            .clone()
            .map(|r| i16::from(!(nullable && (r % 5 == 2 || c == 10))))
            .collect();
        let present: Vec<i64> = rows
            .zip(&defs)
            .filter(|(_, &d)| d == 1)
            .map(|(r, _)| r)
            .collect();
        let defs = nullable.then_some(&defs[..]);
        let text = |r: i64| ByteArray::from(format!(" v{} ", r % 13).as_str());
        let done = match c {
            0 => put::<BoolType>(col, &present, defs, |r| r % 3 == 0),
            1 | 2 | 3 | 10 => put::<Int32Type>(col, &present, defs, |r| (r * 2_654_435_761) as i32),
            4 | 5 => put::<Int64Type>(col, &present, defs, |r| {
                r.wrapping_mul(-6_364_136_223_846_793_005)
            }),
            6 => put::<FloatType>(col, &present, defs, |r| r as f32 / 7.0 - 3e3),
            7 => put::<DoubleType>(col, &present, defs, |r| (r as f64).sin() * 1e-3),
            _ => put::<ByteArrayType>(col, &present, defs, text),
        };
        done.unwrap();
    }

    /// Writes row `r`'s value `f(r)` for each present row, with the definition levels `defs`.
    fn put<T: DataType>(
        col: &mut parquet::file::writer::SerializedColumnWriter<'_>,
        present: &[i64],
        defs: Option<&[i16]>,
        f: impl Fn(i64) -> T::T,
    ) -> parquet::errors::Result<usize> {
        let values: Vec<T::T> = present.iter().map(|&r| f(r)).collect();
        col.typed::<T>().write_batch(&values, defs, None)
    }

    /// A file of every plain type, in row groups of `groups` rows, with small pages.
    fn plain_file(groups: &[i64]) -> Bytes {
        let schema = Arc::new(parse_message_type(SCHEMA).unwrap());
        let props = WriterProperties::builder()
            .set_data_page_row_count_limit(700)
            .build();
        let mut w = SerializedFileWriter::new(Vec::new(), schema, Arc::new(props)).unwrap();
        let mut start = 0;
        for &n in groups {
            let mut g = w.next_row_group().unwrap();
            let mut c = 0;
            while let Some(mut col) = g.next_column().unwrap() {
                write_column(&mut col, c, start..start + n);
                col.close().unwrap();
                c += 1;
            }
            g.close().unwrap();
            start += n;
        }
        Bytes::from(w.into_inner().unwrap())
    }

    fn all_rows(mut rows: ParquetRows) -> Result<Vec<Vec<String>>> {
        let mut out = Vec::new();
        let mut cells = Vec::new();
        while rows
            .next_into("t.parquet", out.len() as u64 + 1, &mut cells)?
            .is_some()
        {
            out.push(cells.clone());
        }
        Ok(out)
    }

    #[test]
    fn columns_give_the_row_apis_text_for_every_plain_type() {
        let bytes = plain_file(&[5000, 1, 9000]);
        let reader = |b: &Bytes| Box::new(SerializedFileReader::new(b.clone()).unwrap());
        let columns = ParquetRows::new(reader(&bytes));
        assert!(columns.columnar());
        let fast = all_rows(columns).unwrap();
        let slow = all_rows(ParquetRows::Records(RowIter::from_file_into(reader(
            &bytes,
        ))))
        .unwrap();
        assert_eq!(fast.len(), 14_001);
        assert_eq!(fast, slow);
        assert_eq!(fast[2][1], "");
        assert_eq!(fast[3][8], "v3");
    }

    #[test]
    fn number_columns_asked_for_as_numbers_give_their_texts_values() {
        let bytes = plain_file(&[3000, 4000]);
        let reader = |b: &Bytes| Box::new(SerializedFileReader::new(b.clone()).unwrap());
        let text = all_rows(ParquetRows::new(reader(&bytes))).unwrap();
        let mut rows = ParquetRows::new(reader(&bytes));
        let numeric = [true; 11];
        let (mut cells, mut numbers) = (Vec::new(), Vec::new());
        let mut typed = 0;
        for (r, want) in text.iter().enumerate() {
            let row = rows.next_typed(
                "t.parquet",
                r as u64 + 1,
                &mut cells,
                &numeric,
                &mut numbers,
            );
            assert!(row.unwrap().is_some());
            for (c, want) in want.iter().enumerate() {
                let number = [1, 2, 3, 4, 5, 6, 7, 10].contains(&c);
                match numbers[c] {
                    // Numbers: the value their text reads as, and no text.
                    Some(v) => {
                        assert!(number && cells[c].is_empty(), "{r} {c}");
                        assert_eq!(v.to_bits(), want.parse::<f64>().unwrap().to_bits());
                        typed += 1;
                    }
                    // Nulls and the other columns: the text (empty for a null).
                    None => assert!(if number {
                        want.is_empty()
                    } else {
                        &cells[c] == want
                    }),
                }
            }
        }
        // Two required number columns, five with every fifth row null, one all null.
        assert_eq!(typed, 7000 * 2 + 5 * 7000 * 4 / 5);
        let end = rows.next_typed("t.parquet", 7001, &mut cells, &numeric, &mut numbers);
        assert!(end.unwrap().is_none());
    }

    #[test]
    fn dates_and_other_logical_types_go_through_the_row_api() {
        let schema = parse_message_type("message t { required int32 day (DATE); }").unwrap();
        let schema = Arc::new(schema);
        let mut w = SerializedFileWriter::new(Vec::new(), schema, Default::default()).unwrap();
        let mut g = w.next_row_group().unwrap();
        let mut col = g.next_column().unwrap().unwrap();
        col.typed::<Int32Type>()
            .write_batch(&[19_000, 19_001], None, None)
            .unwrap();
        col.close().unwrap();
        g.close().unwrap();
        let bytes = Bytes::from(w.into_inner().unwrap());
        let rows = ParquetRows::new(Box::new(SerializedFileReader::new(bytes).unwrap()));
        assert!(!rows.columnar());
        assert_eq!(all_rows(rows).unwrap(), [["2022-01-08"], ["2022-01-09"]]);
    }
}
