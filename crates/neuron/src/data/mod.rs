//! Data: reading CSV, Parquet and IDX files (and directories or globs of table files) and the
//! built-in sets, the in-memory `Dataset`, the
//! preprocessing of tables (scaling, one-hot encoding, targets), and image augmentation.

pub mod augment;
pub mod builtin;
pub mod cache;
pub mod csv;
pub mod dataset;
mod float_text;
pub mod holdout;
pub mod idx;
pub mod parquet;
mod parquet_rows;
pub mod preprocess;
pub mod records;
pub mod scaling;
pub mod segments;
pub mod stream;
mod stream_rows;
pub mod table;
