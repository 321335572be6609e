//! The fast path of encoding: the input of a numeric column's cell written as a plain decimal,
//! found without the general path (`encode_cell`), and the plain numbers of a whole row read
//! in one pass over its cells ([`PlainInputs`]). Both give the general path's inputs, bit for bit.

use super::transform::number_input;
use super::{plain_decimal, ColumnEncoding};
use crate::data::csv::Cells;

/// The input of a numeric column's cell that is a number or a plain decimal (most cells of
/// most tables), found without the general path (`encode_cell`); `None` leaves the cell to
/// it. The value is the one the general path computes, bit for bit.
#[inline]
pub(super) fn plain_number(
    col: &ColumnEncoding,
    t: &impl Cells,
    r: usize,
    c: usize,
) -> Option<f32> {
    let scale = PlainScale::of(col)?;
    let v = match t.number(r, c) {
        Some(v) if v.is_finite() => v,
        Some(_) => return None,
        None => plain_decimal(t.cell(r, c).as_bytes())?,
    };
    Some(scale.input(v))
}

/// How a number column read plainly (no number format) turns a value into its input:
/// the general path's [`number_input`].
#[derive(Clone, Copy)]
struct PlainScale {
    mean: f64,
    std: f64,
    clip: Option<f64>,
}

impl PlainScale {
    /// The scaling of `col`, when it is a number column read plainly.
    #[inline]
    fn of(col: &ColumnEncoding) -> Option<PlainScale> {
        match col {
            ColumnEncoding::Numeric {
                mean,
                std,
                clip,
                format: None,
                ..
            } => Some(PlainScale {
                mean: *mean,
                std: *std,
                clip: *clip,
            }),
            _ => None,
        }
    }

    /// The input of value `v`.
    #[inline]
    fn input(self, v: f64) -> f32 {
        number_input(v, (self.mean, self.std, self.clip))
    }
}

/// Where a plain number (`[+-]digits[.digits]`, at most 15 digits) of each of a table's columns
/// goes in a row of inputs, for the columns the model reads as numbers written plainly: the
/// fast path of `Preprocessor::transform`, reading a row's cells in one pass instead of one by
/// one.
pub(super) struct PlainInputs {
    /// For each column of the table, in order, up to the last with a slot: its input and
    /// scaling, or `None`.
    slots: Vec<Option<PlainSlot>>,
    /// How many columns have a slot.
    count: usize,
    /// The model's columns without one (indices into its columns, in order), left to the
    /// general path.
    others: Vec<usize>,
}

/// A numeric column of the model (`column`, an index into its columns), its input in the row,
/// and its scaling.
struct PlainSlot {
    column: usize,
    input: usize,
    scale: PlainScale,
}

impl PlainInputs {
    /// The slots of the model's `columns`, found in a table of `width` columns at `idx`, whose
    /// inputs start at `offsets`; `None` when no column has one, or a column of the table
    /// feeds two of the model's.
    pub(super) fn new(
        columns: &[ColumnEncoding],
        idx: &[usize],
        offsets: &[usize],
        width: usize,
    ) -> Option<PlainInputs> {
        let mut slots: Vec<Option<PlainSlot>> = (0..width).map(|_| None).collect();
        let mut others = Vec::new();
        let mut count = 0;
        for (k, (col, &c)) in columns.iter().zip(idx).enumerate() {
            let Some(scale) = PlainScale::of(col) else {
                others.push(k);
                continue;
            };
            let slot = slots.get_mut(c)?;
            if slot.is_some() {
                return None;
            }
            *slot = Some(PlainSlot {
                column: k,
                input: offsets[k],
                scale,
            });
            count += 1;
        }
        // The cells after the last number need not be looked at.
        let last = slots.iter().rposition(Option::is_some).map_or(0, |c| c + 1);
        slots.truncate(last);
        (count > 0).then_some(PlainInputs {
            slots,
            count,
            others,
        })
    }

    /// Writes the inputs of a row's plain-number columns from its `cells` into `row`, as
    /// [`plain_number`] computes them, and sets `todo` to the model's columns left to the
    /// general path, in order: those without a slot, and those whose cell is not a plain
    /// number (`1e3`, an empty cell). False when the row ends before its last such column:
    /// the whole row then goes the general way.
    #[inline]
    pub(super) fn encode<'a>(
        &self,
        cells: impl Iterator<Item = &'a str>,
        row: &mut [f32],
        todo: &mut Vec<usize>,
    ) -> bool {
        todo.clear();
        let mut seen = 0;
        for (cell, slot) in cells.zip(&self.slots) {
            if let Some(s) = slot {
                seen += 1;
                match plain_decimal(cell.as_bytes()) {
                    Some(v) => row[s.input] = s.scale.input(v),
                    None => todo.push(s.column),
                }
            }
        }
        // The failed cells came in the table's order, which need not be the model's.
        let failed = !todo.is_empty();
        todo.extend_from_slice(&self.others);
        if failed {
            todo.sort_unstable();
        }
        seen == self.count
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::csv::RawTable;
    use crate::data::preprocess::transform::{encode_cell, Cell};
    use crate::data::preprocess::{ColumnRules, Encoded, Impute, Preprocessor};
    use crate::data::records::RecordChunk;
    use crate::data::scaling::Scaling;
    use crate::rng::Rng;

    /// A table's cells handed over one at a time only (the default [`Cells::row`]), so that
    /// encoding takes the general path for every cell.
    struct CellByCell<'a, T>(&'a T);

    impl<T: Cells> Cells for CellByCell<'_, T> {
        fn source(&self) -> &str {
            self.0.source()
        }
        fn headers(&self) -> &[String] {
            self.0.headers()
        }
        fn row_count(&self) -> usize {
            self.0.row_count()
        }
        fn cell(&self, r: usize, c: usize) -> &str {
            self.0.cell(r, c)
        }
        fn place(&self, r: usize) -> (&str, u64) {
            self.0.place(r)
        }
        fn retain_rows(&mut self, _keep: &[bool]) {}
    }

    /// Rows of a label `y`, numbers `a` (some written `1e3`, `.5` or left empty), plain
    /// numbers `b` and `d`, numbers with a decimal comma `w`, and a category `c`.
    fn mixed_rows(n: usize) -> Vec<Vec<String>> {
        let mut rng = Rng::new(11);
        let num = |rng: &mut Rng| format!("{:.4}", rng.normal() * 3.0);
        (0..n)
            .map(|r| {
                let a = match r % 7 {
                    2 => "1e3".to_string(),
                    4 => ".5".to_string(),
                    5 => String::new(),
                    _ => num(&mut rng),
                };
                let w = format!("{},{}", rng.below(100), rng.below(10));
                let c = ["red", "green", "blue"][rng.below(3)].to_string();
                let y = ["yes", "no"][rng.below(2)].to_string();
                vec![y, a, num(&mut rng), w, c, num(&mut rng)]
            })
            .collect()
    }

    /// The preprocessing inferred from `t`, its target `y`, empty cells imputed.
    fn fitted(t: &RawTable) -> Preprocessor {
        let (rules, impute) = (ColumnRules::inferred(), Some(Impute::Mean));
        Preprocessor::fit_with_rules(t, (Some("y"), None), Scaling::Standard, impute, &rules)
            .unwrap()
    }

    fn same_inputs(fast: &Encoded, general: &Encoded) {
        let bits = |e: &Encoded| {
            e.x.as_slice()
                .iter()
                .map(|v| v.to_bits())
                .collect::<Vec<_>>()
        };
        assert_eq!(bits(fast), bits(general));
        assert_eq!(fast.classes, general.classes);
        assert_eq!(fast.unseen, general.unseen);
    }

    /// Rows whose plain numbers are read in one pass give the inputs that reading every cell
    /// on its own gives, bit for bit: rows of plain numbers, rows with another spelling or an
    /// empty cell (left to the general path), columns that are not plain numbers (a category,
    /// a decimal comma), from text cells and from CSV records, one of them short.
    #[test]
    fn rows_read_in_one_pass_encode_as_cell_by_cell() {
        let headers: Vec<String> = ["y", "a", "b", "w", "c", "d"].map(String::from).to_vec();
        let table = RawTable {
            source: "t.csv".into(),
            headers: headers.clone(),
            rows: mixed_rows(70),
            ..Default::default()
        };
        let pre = fitted(&table);
        assert_eq!(
            pre.input_width(),
            4 + 3,
            "a, b, w, d and the three categories of c"
        );
        let plain = PlainInputs::new(&pre.columns, &[1, 2, 3, 4, 5], &[0, 1, 2, 3, 6], 6);
        assert_eq!(plain.map(|p| (p.count, p.others)), Some((3, vec![2, 3])));
        let fast = pre.transform(&table, true).unwrap();
        same_inputs(&fast, &pre.transform(&CellByCell(&table), true).unwrap());
        let mut chunk = RecordChunk {
            source: "t.csv".into(),
            headers,
            ..Default::default()
        };
        for (r, row) in table.rows.iter().enumerate() {
            let rec = chunk.slot();
            rec.clear();
            // Row 3 ends before its last cell, which is then empty (and imputed).
            for cell in row.iter().take(if r == 3 { 5 } else { 6 }) {
                rec.push_field(&format!(" {cell}"));
            }
            chunk.commit("t.csv", r as u64 + 2, false);
        }
        let records = pre.transform(&chunk, true).unwrap();
        same_inputs(&records, &pre.transform(&CellByCell(&chunk), true).unwrap());
        assert_eq!(pre.columns[4].name(), "d");
        assert_eq!(
            records.x.as_slice()[3 * 7 + 6],
            0.0,
            "the mean of d, standardised"
        );
        assert_eq!(records.x.as_slice()[..3 * 7], fast.x.as_slice()[..3 * 7]);
    }

    /// A cell that is not a number stops the encoding with the same message on both paths: the
    /// first bad cell in the model's order of columns, whatever the table's order.
    #[test]
    fn a_bad_cell_is_reported_as_the_general_path_reports_it() {
        let headers = ["y", "a", "b", "w", "c", "d"].map(String::from).to_vec();
        let pre = fitted(&RawTable {
            source: "t.csv".into(),
            headers: headers.clone(),
            rows: mixed_rows(20),
            ..Default::default()
        });
        // The same columns in another order: d, b, then the others.
        let order = [5, 2, 0, 1, 3, 4];
        let mut rows: Vec<Vec<String>> = (mixed_rows(20).into_iter())
            .map(|row| order.iter().map(|&c| row[c].clone()).collect())
            .collect();
        rows[9][0] = "1.2.3".into();
        rows[9][1] = "x".into();
        rows[12][1] = "y".into();
        let table = RawTable {
            source: "t.csv".into(),
            headers: order.iter().map(|&c| headers[c].clone()).collect(),
            rows,
            ..Default::default()
        };
        let fast = pre.transform(&table, true).unwrap_err().to_string();
        let general = pre.transform(&CellByCell(&table), true).unwrap_err();
        assert_eq!(fast, general.to_string());
        assert!(
            fast.contains("column 'b' (field 2): 'x' is not a number"),
            "{fast}"
        );
    }

    /// The shortcut takes the plain decimals of up to 15 digits and gives the general path's
    /// input for them, bit for bit; every other spelling is left to the general path.
    #[test]
    fn plain_numbers_encode_as_the_general_path_encodes_them() {
        let plain = [
            "1.0006",
            "-0.856",
            "+3",
            "0",
            "-0.0",
            "007",
            "2.5",
            "12345678.5",
            "0.12345678901234",
        ];
        let other = [
            "",
            "1e3",
            ".5",
            "5.",
            "1,5",
            "inf",
            "NaN",
            "abc",
            "99999999999999999",
        ];
        let cells: Vec<&str> = plain.iter().chain(&other).copied().collect();
        let table = RawTable {
            source: "t.csv".into(),
            headers: vec!["x".into()],
            rows: cells.iter().map(|c| vec![c.to_string()]).collect(),
            ..Default::default()
        };
        for clip in [None, Some(1.5)] {
            let col = ColumnEncoding::Numeric {
                name: "x".into(),
                mean: 0.37,
                std: 1.9,
                fill: Some(0.25),
                clip,
                format: None,
            };
            for (r, cell) in cells.iter().enumerate() {
                let mut general = [0.0f32];
                let _ = encode_cell(&col, Cell::Text(cell.trim()), &mut general, String::new);
                let short = plain_number(&col, &table, r, 0);
                assert_eq!(short.is_some(), r < plain.len(), "{cell}");
                if let Some(v) = short {
                    assert_eq!(v.to_bits(), general[0].to_bits(), "{cell}");
                }
            }
        }
    }
}
