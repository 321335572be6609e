//! Data: reading CSV and IDX files and the built-in sets, the in-memory `Dataset`, the
//! preprocessing of tables (scaling, one-hot encoding, targets), and image augmentation.

pub mod augment;
pub mod builtin;
pub mod csv;
pub mod dataset;
pub mod idx;
pub mod preprocess;
pub mod scaling;
