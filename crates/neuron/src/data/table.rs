//! A table from a path: one CSV or Parquet file (told apart by content), or several read as one
//! table: a directory of them, or a glob such as `shards/*.parquet`. The files are taken in name
//! order and must have the same columns; error messages name the file and line of a bad cell.

use std::path::{Path, PathBuf};

use super::csv::{read_csv_bytes_with, RawTable};
use super::parquet::{is_parquet, read_parquet_bytes};
use crate::error::{NeuronError, Result};

/// File names read as tables in a directory.
const TABLE_EXTENSIONS: [&str; 5] = [".csv", ".csv.gz", ".tsv", ".parquet", ".pq"];

fn is_table_name(p: &Path) -> bool {
    let name = p.file_name().map(|n| n.to_string_lossy().to_lowercase());
    name.is_some_and(|n| TABLE_EXTENSIONS.iter().any(|e| n.ends_with(e)))
}

/// Reads one file: Parquet when it starts with `PAR1`, else CSV (with `delimiter`, or the
/// detected one).
pub fn read_table_file(path: impl AsRef<Path>, delimiter: Option<u8>) -> Result<RawTable> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| NeuronError::io(path, e))?;
    let source = path.display().to_string();
    if is_parquet(&bytes) {
        read_parquet_bytes(bytes, &source)
    } else {
        read_csv_bytes_with(bytes, &source, delimiter)
    }
}

/// The files `src` names when it is a directory holding tables or a glob pattern, in name
/// order; `None` when it is neither (a single file, or a directory of something else).
pub fn table_files(src: &str) -> Result<Option<Vec<PathBuf>>> {
    let mut files: Vec<PathBuf> = if src.contains(['*', '?', '[']) {
        let paths = glob::glob(src)
            .map_err(|e| NeuronError::data(format!("{src}: not a usable pattern ({e})")))?;
        paths
            .filter_map(|p| p.ok())
            .filter(|p| p.is_file())
            .collect()
    } else if Path::new(src).is_dir() {
        let dir = std::fs::read_dir(src).map_err(|e| NeuronError::io(Path::new(src), e))?;
        let files: Vec<PathBuf> = dir
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && is_table_name(p))
            .collect();
        if files.is_empty() {
            return Ok(None);
        }
        files
    } else {
        return Ok(None);
    };
    if files.is_empty() {
        return Err(NeuronError::data(format!("{src}: no file matches")));
    }
    files.sort();
    Ok(Some(files))
}

/// Reads `src`: one file, or every file of a directory of tables or of a glob, as one table.
pub fn read_table(src: &str, delimiter: Option<u8>) -> Result<RawTable> {
    match table_files(src)? {
        None => read_table_file(src, delimiter),
        Some(files) => {
            let tables = files
                .iter()
                .map(|f| read_table_file(f, delimiter))
                .collect::<Result<Vec<_>>>()?;
            concat(tables, src)
        }
    }
}

/// The tables one after another, as one; their columns must agree.
pub fn concat(tables: Vec<RawTable>, source: &str) -> Result<RawTable> {
    let mut out = RawTable {
        source: source.to_string(),
        ..Default::default()
    };
    for (k, t) in tables.into_iter().enumerate() {
        if k == 0 {
            out.headers = t.headers.clone();
        } else if t.headers != out.headers {
            return Err(NeuronError::data(format!(
                "{}: its columns ({}) differ from those of {} ({})",
                t.source,
                t.headers.join(", "),
                out.files[0],
                out.headers.join(", ")
            )));
        }
        out.file_of
            .extend(std::iter::repeat_n(k as u32, t.rows.len()));
        out.files.push(t.source);
        out.rows.extend(t.rows);
        out.lines.extend(t.lines);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_read_as_one_table_and_name_their_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.csv"), "x,y\n1,a\n2,b\n").unwrap();
        std::fs::write(dir.path().join("b.csv"), "x;y\n3;a\n").unwrap();
        std::fs::write(dir.path().join("notes.md"), "not a table").unwrap();
        let t = read_table(dir.path().to_str().unwrap(), None).unwrap();
        assert_eq!(t.rows.len(), 3);
        assert!(t.location(2).ends_with("b.csv:2"), "{}", t.location(2));
        let pattern = format!("{}/a*.csv", dir.path().display());
        assert_eq!(read_table(&pattern, None).unwrap().rows.len(), 2);
        std::fs::write(dir.path().join("c.csv"), "x,z\n1,2\n").unwrap();
        let e = read_table(dir.path().to_str().unwrap(), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("c.csv: its columns (x, z) differ"), "{e}");
        let none = format!("{}/*.parquet", dir.path().display());
        assert!(read_table(&none, None)
            .unwrap_err()
            .to_string()
            .contains("no file matches"));
        let empty = tempfile::tempdir().unwrap();
        assert!(table_files(empty.path().to_str().unwrap())
            .unwrap()
            .is_none());
    }
}
