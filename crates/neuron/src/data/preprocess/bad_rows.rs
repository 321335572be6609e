//! Rows a fitted preprocessor cannot encode (a number column's cell that is no number, or not
//! finite; an empty cell with nothing to impute; a class never seen in training), found so that
//! they can be skipped (`neuron train --stream --bad-rows skip`) instead of stopping the run.

use crate::data::csv::Cells;
use crate::error::Result;

use super::{at, parse_num, ColumnEncoding, Preprocessor, TargetEncoding};

impl Preprocessor {
    /// Why record `r` of `t` cannot be encoded (its location, column and value), or `None`.
    /// `idx` and `tc` are the feature and target columns' indices in `t`.
    fn row_problem(
        &self,
        t: &impl Cells,
        r: usize,
        idx: &[usize],
        tc: Option<usize>,
    ) -> Option<String> {
        for (col, &c) in self.columns.iter().zip(idx) {
            let cell = t.cell(r, c);
            let bad = match col {
                _ if cell.is_empty() => match col {
                    ColumnEncoding::Numeric { fill, .. } => fill.is_none(),
                    ColumnEncoding::Date { fill, .. } => !fill,
                    ColumnEncoding::Categorical { fill, .. } => fill.is_none(),
                },
                ColumnEncoding::Numeric {
                    format: Some(f), ..
                } => !f.parse(cell).is_some_and(f64::is_finite),
                ColumnEncoding::Numeric { .. } => !parse_num(cell).is_some_and(f64::is_finite),
                ColumnEncoding::Date { .. } | ColumnEncoding::Categorical { .. } => false,
            };
            if bad {
                return Some(format!("{}: '{cell}' cannot be encoded", at(t, r, c)));
            }
        }
        let c = tc?;
        let cell = t.cell(r, c);
        let bad = match &self.target {
            TargetEncoding::Classes { labels, .. } => !labels.iter().any(|l| l == cell),
            TargetEncoding::Value {
                format: Some(f), ..
            } => !f.parse(cell).is_some_and(f64::is_finite),
            TargetEncoding::Value { .. } => !parse_num(cell).is_some_and(f64::is_finite),
        };
        bad.then(|| format!("{}: target '{cell}' cannot be encoded", at(t, r, c)))
    }

    /// Removes from `t` (in place) the records that cannot be encoded; returns how many, and
    /// why the first could not.
    pub fn drop_bad_rows(&self, t: &mut impl Cells) -> Result<(usize, Option<String>)> {
        let (idx, tc) = if self.positional {
            self.by_position(t)?
        } else {
            self.by_name(t)?
        };
        let mut first = None;
        let keep: Vec<bool> = (0..t.row_count())
            .map(|r| match self.row_problem(t, r, &idx, tc) {
                Some(why) => {
                    first.get_or_insert(why);
                    false
                }
                None => true,
            })
            .collect();
        let dropped = keep.iter().filter(|&&k| !k).count();
        if dropped > 0 {
            t.retain_rows(&keep);
        }
        Ok((dropped, first))
    }
}

#[cfg(test)]
mod tests {
    use crate::data::csv::read_csv_bytes;
    use crate::data::preprocess::Preprocessor;

    #[test]
    fn rows_that_cannot_be_encoded_are_found_with_their_place() {
        let fit = read_csv_bytes(b"a,c,y\n1,red,x\n2,blue,z\n".to_vec(), "f.csv").unwrap();
        let pre = Preprocessor::fit(&fit, None, None, true, None).unwrap();
        let text = "a,c,y\n3,red,x\n1.2.3,red,x\n4,,x\n5,green,z\ninf,red,x\n6,blue,w\n";
        let mut t = read_csv_bytes(text.as_bytes().to_vec(), "t.csv").unwrap();
        let (dropped, first) = pre.drop_bad_rows(&mut t).unwrap();
        assert_eq!(dropped, 4);
        let first = first.unwrap();
        assert!(
            first.contains("t.csv:3") && first.contains("'1.2.3'"),
            "{first}"
        );
        // An unseen category is not a bad row (it encodes as all zeros).
        assert_eq!(t.rows, [["3", "red", "x"], ["5", "green", "z"]]);
        assert_eq!(t.lines, [2, 5]);
        pre.transform(&t, true).unwrap();
    }
}
