//! Turning a table of strings into numbers a network can learn from, and back: column typing,
//! one-hot encoding of text features, imputation, standardisation, and target encoding. The fitted
//! [`Preprocessor`] is stored in model files so evaluation and prediction apply exactly the
//! training-time transformation.

use serde::{Deserialize, Serialize};

use crate::data::csv::Cells;
use crate::matrix::Matrix;

mod bad_rows;
pub mod dates;
mod fit;
mod fit_stream;
mod number_format;
mod plain_inputs;
mod roles;
mod stream_encoding;
mod stream_stats;

pub use fit_stream::{StreamFit, StreamFitted, MAX_STREAM_CATEGORIES};
pub use number_format::NumberFormat;
use number_format::{parse_num, plain_decimal};
pub use roles::{
    infer_role, limit_categories, ColumnRow, ColumnRules, DropReason, DroppedColumn,
    MANY_CATEGORIES, MIN_CATEGORY_ROWS,
};
mod transform;

/// What the model predicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// A class label.
    Classify,
    /// A real value.
    Regress,
}

/// How missing cells are filled (statistics from the training rows).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Impute {
    /// Mean of the column (most frequent category for text columns).
    Mean,
    /// Median of the column (most frequent category for text columns).
    Median,
}

/// How one input column becomes network inputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ColumnEncoding {
    /// A number, scaled as `z = (v − mean) / std` (for robust scaling `mean` holds the median and
    /// `std` the IQR-based scale), then soft-clipped beyond
    /// `±clip` when `clip` is set ([`crate::data::scaling::smooth_clip`]).
    Numeric {
        /// Column name.
        name: String,
        /// Subtracted (0 when not standardising).
        mean: f64,
        /// Divided by (1 when not standardising).
        std: f64,
        /// Value for empty cells, when imputing.
        fill: Option<f64>,
        /// Where the soft clip applied after scaling starts (robust scaling), if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        clip: Option<f64>,
        /// How the numbers are written, when not plainly (`1,234.5`, `1.234,5`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        format: Option<NumberFormat>,
    },
    /// A date or datetime ([`dates`]): the fractional year scaled as `(y − mean) / std`, then
    /// the month, the day of the week and (with `time`) the time of day as sines and cosines.
    Date {
        /// Column name.
        name: String,
        /// Mean fractional year of training (0 when not standardising).
        mean: f64,
        /// Its standard deviation (1 when not standardising).
        std: f64,
        /// Whether the column has times of day (7 inputs instead of 5).
        time: bool,
        /// Whether empty cells are filled (with zeros: the mean year, no season), when imputing.
        fill: bool,
    },
    /// A text category, one-hot encoded over the categories seen in training.
    Categorical {
        /// Column name.
        name: String,
        /// Categories seen in training (one input each).
        categories: Vec<String>,
        /// Category for empty cells, when imputing.
        fill: Option<String>,
        /// Whether one more input stands for every other category: the rare ones of training
        /// (in a column of many categories) and those never seen.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        other: bool,
    },
}

impl ColumnEncoding {
    /// The column's name.
    pub fn name(&self) -> &str {
        match self {
            ColumnEncoding::Numeric { name, .. }
            | ColumnEncoding::Date { name, .. }
            | ColumnEncoding::Categorical { name, .. } => name,
        }
    }
    /// Number of network inputs it produces.
    pub fn width(&self) -> usize {
        match self {
            ColumnEncoding::Numeric { .. } => 1,
            ColumnEncoding::Date { time, .. } => dates::date_width(*time),
            ColumnEncoding::Categorical {
                categories, other, ..
            } => categories.len() + usize::from(*other),
        }
    }
}

/// How the target column is encoded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TargetEncoding {
    /// Class labels, in index order.
    Classes {
        /// Column name.
        name: String,
        /// The label of each class index.
        labels: Vec<String>,
    },
    /// A real value, standardised for training and restored at prediction.
    Value {
        /// Column name.
        name: String,
        /// Mean of the training targets.
        mean: f64,
        /// Standard deviation of the training targets.
        std: f64,
        /// How the values are written, when not plainly (`1,234.5`, `12,5`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        format: Option<NumberFormat>,
    },
}

/// The fitted transformation from raw rows to network inputs and targets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Preprocessor {
    /// One encoding per input column, in input order.
    pub columns: Vec<ColumnEncoding>,
    /// The target.
    pub target: TargetEncoding,
    /// Whether numeric features are standardised.
    pub standardize: bool,
    /// Missing-value policy.
    pub impute: Option<Impute>,
    /// Image geometry `[height, width]` when the inputs are pixels.
    #[serde(default)]
    pub image: Option<[usize; 2]>,
    /// Whether columns are matched by position rather than by name (models imported from ONNX,
    /// which name no columns): the features are the table's columns other than the target, in
    /// order.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub positional: bool,
    /// Table columns left out of the inputs (constant, identifier-like, or asked for), and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dropped: Vec<DroppedColumn>,
}

/// Rows turned into numbers.
#[derive(Clone, Debug)]
pub struct Encoded {
    /// Network inputs.
    pub x: Matrix<f32>,
    /// Class index per row (classification targets), when the target column was present.
    pub classes: Option<Vec<usize>>,
    /// Standardised target per row (regression), when present.
    pub values: Option<Vec<f32>>,
    /// For each text column with categories unseen in training: (column, number of cells).
    pub unseen: Vec<(String, usize)>,
    /// Columns of the table that are neither a feature of the model nor its target, in order.
    pub ignored: Vec<String>,
}

impl Encoded {
    /// The network's targets for `loss` and `outputs` network outputs: the class index (softmax
    /// cross-entropy, or a single binary output), one-hot rows (several sigmoid outputs), or the
    /// standardised value (regression).
    pub fn targets(
        &self,
        loss: crate::nn::loss::Loss,
        outputs: usize,
    ) -> crate::error::Result<Matrix<f32>> {
        use crate::nn::loss::Loss;
        let n = self.x.rows();
        match (&self.classes, &self.values) {
            (Some(c), _) => match loss {
                Loss::CrossEntropy { .. } => {
                    Matrix::from_vec(n, 1, c.iter().map(|&k| k as f32).collect())
                }
                Loss::BinaryCrossEntropy if outputs == 1 => {
                    Matrix::from_vec(n, 1, c.iter().map(|&k| k as f32).collect())
                }
                _ => {
                    let mut m = Matrix::zeros(n, outputs);
                    for (r, &k) in c.iter().enumerate() {
                        if k < outputs {
                            m.set(r, k, 1.0);
                        }
                    }
                    Ok(m)
                }
            },
            (None, Some(v)) => Matrix::from_vec(n, 1, v.clone()),
            (None, None) => Err(crate::error::NeuronError::data(
                "the data have no target column",
            )),
        }
    }
}

/// Classification when the target has text labels, or at most this many distinct integers.
pub const MAX_AUTO_CLASSES: usize = 20;

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_unstable_by(f64::total_cmp);
    let n = s.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        s[n / 2]
    } else {
        0.5 * (s[n / 2 - 1] + s[n / 2])
    }
}

/// Sorts labels numerically when they all are numbers, else lexicographically.
fn sort_labels(labels: &mut [String]) {
    if labels.iter().all(|l| parse_num(l).is_some()) {
        labels.sort_by(|a, b| {
            parse_num(a)
                .unwrap_or(0.0)
                .total_cmp(&parse_num(b).unwrap_or(0.0))
        });
    } else {
        labels.sort();
    }
}

fn at(t: &impl Cells, r: usize, c: usize) -> String {
    format!(
        "{}: column '{}' (field {})",
        t.location(r),
        t.headers()[c],
        c + 1
    )
}

impl Preprocessor {
    /// A preprocessor for images of `h × w` pixels already scaled to [0, 1], with class labels.
    pub fn for_images(h: usize, w: usize, labels: Vec<String>) -> Self {
        Preprocessor {
            columns: (0..h * w)
                .map(|i| ColumnEncoding::Numeric {
                    name: format!("px{i}"),
                    mean: 0.0,
                    std: 1.0,
                    fill: None,
                    clip: None,
                    format: None,
                })
                .collect(),
            target: TargetEncoding::Classes {
                name: "label".into(),
                labels,
            },
            standardize: false,
            impute: None,
            image: Some([h, w]),
            positional: false,
            dropped: Vec::new(),
        }
    }

    /// Number of network inputs.
    pub fn input_width(&self) -> usize {
        self.columns.iter().map(ColumnEncoding::width).sum()
    }

    /// The task.
    pub fn task(&self) -> Task {
        match self.target {
            TargetEncoding::Classes { .. } => Task::Classify,
            TargetEncoding::Value { .. } => Task::Regress,
        }
    }

    /// Class labels (classification), in index order.
    pub fn labels(&self) -> Option<&[String]> {
        match &self.target {
            TargetEncoding::Classes { labels, .. } => Some(labels),
            TargetEncoding::Value { .. } => None,
        }
    }

    /// The target column's name.
    pub fn target_name(&self) -> &str {
        match &self.target {
            TargetEncoding::Classes { name, .. } | TargetEncoding::Value { name, .. } => name,
        }
    }

    /// Turns a standardised prediction back into the target's units.
    pub fn unscale_value(&self, v: f64) -> f64 {
        match self.target {
            TargetEncoding::Value { mean, std, .. } => v * std + mean,
            TargetEncoding::Classes { .. } => v,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::csv::{read_csv_bytes, RawTable};

    fn table(s: &str) -> RawTable {
        read_csv_bytes(s.as_bytes().to_vec(), "t.csv").unwrap()
    }

    #[test]
    fn encodes_numeric_text_and_targets() {
        let t = table("a,color,y\n1,red,cat\n3,blue,dog\n5,red,cat\n");
        let p = Preprocessor::fit(&t, None, None, true, None).unwrap();
        assert_eq!(p.input_width(), 3);
        assert_eq!(p.labels().unwrap(), ["cat", "dog"]);
        let e = p.transform(&t, true).unwrap();
        let sd = (8.0f64 / 3.0).sqrt() as f32;
        assert!((e.x.get(0, 0) + 2.0 / sd).abs() < 1e-6);
        assert_eq!(&e.x.row(1)[1..], &[1.0, 0.0]); // blue, red sorted
        assert_eq!(e.classes.unwrap(), [0, 1, 0]);
        let t2 = table("a,color\n2,green\n");
        let e2 = p.transform(&t2, false).unwrap();
        assert_eq!(e2.unseen, vec![("color".to_string(), 1)]);
    }

    #[test]
    fn detects_tasks_and_reports_bad_cells() {
        let t = table("a,y\n1,0.5\n2,1.5\n3,2.5\n");
        assert_eq!(
            Preprocessor::fit(&t, None, None, true, None)
                .unwrap()
                .task(),
            Task::Regress
        );
        let t = table("a,y\n1,1\n2,2\n3,1\n");
        assert_eq!(
            Preprocessor::fit(&t, None, None, true, None)
                .unwrap()
                .task(),
            Task::Classify
        );
        let e =
            Preprocessor::fit(&table("a,y\n1,1\nx,2\n3,1\n"), None, None, true, None).unwrap_err();
        assert!(
            e.to_string()
                .contains("t.csv:3: column 'a' (field 1): 'x' is not a number"),
            "{e}"
        );
        let e = Preprocessor::fit(&table("a,y\n1,1\nnan,2\n"), None, None, true, None).unwrap_err();
        assert!(e.to_string().contains("not a finite number"), "{e}");
        let e = Preprocessor::fit(&table("a,y\n1,1\n,2\n"), None, None, true, None).unwrap_err();
        assert!(e.to_string().contains("--impute"), "{e}");
        let p = Preprocessor::fit(
            &table("a,y\n1,1\n,2\n5,1\n"),
            None,
            None,
            false,
            Some(Impute::Median),
        )
        .unwrap();
        assert_eq!(
            p.transform(&table("a,y\n,1\n"), true).unwrap().x.get(0, 0),
            3.0
        );
        let e = Preprocessor::fit(&table("a,y\n1,1\n2,1\n"), None, None, true, None).unwrap_err();
        assert!(e.to_string().contains("single class"), "{e}");
        let e =
            Preprocessor::fit(&table("a,y\n1,1\n2,1\n"), Some("z"), None, true, None).unwrap_err();
        assert!(e.to_string().contains("no column 'z'"), "{e}");
    }
}
