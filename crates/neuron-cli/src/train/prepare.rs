//! Reading and encoding the data: the training rows, the preprocessor and the test set.

use anyhow::{bail, Result};
use neuron::data::csv::RawTable;
use neuron::data::idx::ImageSet;
use neuron::data::preprocess::{ColumnRules, Impute, Preprocessor, Task};
use neuron::data::scaling::Scaling;
use neuron::Rng;

use super::{ImputeArg, ScalingArg, TaskArg, TrainArgs};
use crate::data::{self, Raw};

/// Training, validation and test data, encoded, plus the preprocessing.
pub(super) struct Prepared {
    pub(super) pre: Preprocessor,
    pub(super) train: data::Encoded,
    pub(super) test: Option<data::Encoded>,
    pub(super) images: bool,
}

pub(super) fn prepare(a: &TrainArgs, init: Option<&Preprocessor>) -> Result<Prepared> {
    match data::load(&a.data, true, a.delimiter)? {
        Raw::Images(set) => images(a, set, init),
        Raw::Table(t) => table(a, t, init),
    }
}

/// Image data: the training images, the data's own test images when it has them, and the
/// preprocessing of `--init` or one for images with the labels seen.
fn images(a: &TrainArgs, set: ImageSet, init: Option<&Preprocessor>) -> Result<Prepared> {
    let pre = match init {
        Some(p) => p.clone(),
        None => {
            let mut labels: Vec<u8> = set.labels.clone();
            labels.sort_unstable();
            labels.dedup();
            if labels.len() < 2 {
                bail!(
                    "{}: all images have the same label; classification needs two classes",
                    a.data
                );
            }
            let max = *labels.last().unwrap_or(&0) as usize;
            Preprocessor::for_images(
                set.height,
                set.width,
                (0..=max).map(|l| l.to_string()).collect(),
            )
        }
    };
    let train = data::encode(&Raw::Images(set), &pre, true)?;
    let test = match data::load(&a.data, false, a.delimiter) {
        Ok(raw) => Some(data::encode(&raw, &pre, true)?),
        Err(_) => None,
    };
    Ok(Prepared {
        pre,
        train,
        test,
        images: true,
    })
}

/// A table: a seeded `--test-split` share of the rows held out, the preprocessing fitted on the
/// rest (or that of `--init`).
fn table(a: &TrainArgs, t: RawTable, init: Option<&Preprocessor>) -> Result<Prepared> {
    let mut idx: Vec<usize> = (0..t.rows.len()).collect();
    Rng::new(a.seed ^ 0x7E57).shuffle(&mut idx);
    let n_test = (t.rows.len() as f64 * a.test_split).round() as usize;
    let mut is_test = vec![false; t.rows.len()];
    idx[..n_test].iter().for_each(|&i| is_test[i] = true);
    // Both parts keep the file's order of rows; the rows are moved, not copied.
    let (train_t, test_t) = t.split_rows(&is_test);
    let pre = match init {
        Some(p) => p.clone(),
        None => fit_preprocessor(a, &train_t)?,
    };
    let train = data::encode(&Raw::Table(train_t), &pre, true)?;
    let test = if test_t.rows.is_empty() {
        None
    } else {
        Some(data::encode(&Raw::Table(test_t), &pre, true)?)
    };
    Ok(Prepared {
        pre,
        train,
        test,
        images: false,
    })
}

/// The preprocessing fitted on the training rows with the task, imputation and scaling asked for.
fn fit_preprocessor(a: &TrainArgs, train: &RawTable) -> Result<Preprocessor> {
    let task = match a.task {
        TaskArg::Auto => None,
        TaskArg::Classify => Some(Task::Classify),
        TaskArg::Regress => Some(Task::Regress),
    };
    let impute = a.impute.map(|i| match i {
        ImputeArg::Mean => Impute::Mean,
        ImputeArg::Median => Impute::Median,
    });
    let scaling = match (a.no_standardize, a.scaling) {
        (true, _) => Scaling::None,
        (false, Some(ScalingArg::Standard)) => Scaling::Standard,
        (false, Some(ScalingArg::Robust) | None) => Scaling::Robust,
    };
    let rules = ColumnRules {
        drop: a.drop.clone(),
        keep: a.keep.clone(),
        categorical: a.categorical.clone(),
        infer: !a.keep_all_columns,
    };
    let target = (a.target.as_deref(), task);
    Ok(Preprocessor::fit_with_rules(
        train, target, scaling, impute, &rules,
    )?)
}
