//! A streamed column's running statistics (what they decide is in `stream_encoding`).

use std::collections::HashMap;

use crate::data::float_text::push_f64;

use super::dates;
use super::fit_stream::MAX_STREAM_CATEGORIES;
use super::number_format::{read_plain, NumberFormat};

/// Running statistics of one column.
#[derive(Default)]
pub(super) struct Stats {
    pub(super) filled: usize,
    pub(super) numbers: usize,
    /// The finite numbers' Welford sums.
    pub(super) values: Welford,
    pub(super) integers: bool,
    /// Each distinct filled cell's count (a hash map: most cells are looked up, few inserted;
    /// [`Stats::sorted_counts`] gives them in order).
    pub(super) counts: HashMap<String, usize>,
    pub(super) too_many: bool,
    pub(super) first_empty: Option<String>,
    pub(super) first_text: Option<(String, String)>,
    pub(super) first_infinite: Option<(String, String)>,
    /// With bad rows skipped: the ordinals of the rows whose cell here is empty, and of those
    /// whose cell is no finite number (at most [`MAX_TRACKED`] of each).
    pub(super) empty_rows: Vec<u64>,
    pub(super) odd_rows: Vec<u64>,
    pub(super) track: bool,
    pub(super) overflow: bool,
    /// The fractional years of the cells that are dates, and whether any has a time.
    pub(super) dates: Welford,
    pub(super) date_times: bool,
    /// The column's values read as numbers written for people, in each format of
    /// [`FORMATS`], while every filled cell reads in it.
    pub(super) formats: [FormatSums; 2],
}

/// The formats of numbers written for people, in the order [`NumberFormat::detect`] tries them.
pub(super) const FORMATS: [NumberFormat; 2] =
    [NumberFormat::CommaThousands, NumberFormat::DecimalComma];

/// Running count, mean and sum of squared deviations (Welford, in f64).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Welford {
    pub(super) n: f64,
    pub(super) mean: f64,
    pub(super) m2: f64,
}

impl Welford {
    fn push(&mut self, x: f64) {
        self.n += 1.0;
        let d = x - self.mean;
        self.mean += d / self.n;
        self.m2 += d * (x - self.mean);
    }

    /// The standard deviation; 1 for values without spread.
    pub(super) fn std(&self) -> f64 {
        let sd = (self.m2 / self.n.max(1.0)).sqrt();
        if sd > 1e-12 {
            sd
        } else {
            1.0
        }
    }
}

/// A column's values read in one format of numbers written for people, while every filled cell
/// so far reads in it (`ok`).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct FormatSums {
    pub(super) ok: bool,
    /// Whether every cell so far reads in this format as its plain value, so that the sums are
    /// the column's own ([`Stats::values`]) and are not kept twice.
    pub(super) shared: bool,
    pub(super) sums: Welford,
}

impl FormatSums {
    fn add(&mut self, v: Option<f64>) {
        match v {
            Some(x) if x.is_finite() => self.sums.push(x),
            _ => self.ok = false,
        }
    }

    /// The sums, given the column's own.
    pub(super) fn sums<'a>(&'a self, values: &'a Welford) -> &'a Welford {
        if self.shared {
            values
        } else {
            &self.sums
        }
    }
}

/// Rows with empty or non-numeric cells remembered per column when bad rows are skipped.
pub(super) const MAX_TRACKED: usize = 1 << 18;

impl Stats {
    /// Empty statistics; with `track`, the rows of empty and non-numeric cells are remembered.
    pub(super) fn new(track: bool) -> Self {
        let ok = FormatSums {
            ok: true,
            shared: true,
            sums: Welford::default(),
        };
        Stats {
            integers: true,
            track,
            formats: [ok; 2],
            ..Default::default()
        }
    }

    /// Adds `cell` to the sums of each format it still reads in. A plain decimal (`-12.5`) has
    /// its plain value in the thousands-comma format, a plain integer in both: only other cells
    /// are parsed again. `plain` and `simple` are what [`read_plain`] says of the cell; this is
    /// called before the cell's plain value joins the column's sums.
    fn read_formats(&mut self, cell: &str, (plain, simple): (Option<f64>, Option<bool>)) {
        let values = self.values;
        for (f, w) in FORMATS.iter().zip(&mut self.formats) {
            if !w.ok {
                continue;
            }
            let same = match f {
                NumberFormat::CommaThousands => simple.is_some(),
                NumberFormat::DecimalComma => simple == Some(false),
            };
            match (same, w.shared) {
                (true, true) => w.ok = plain.is_some_and(f64::is_finite),
                (true, false) => w.add(plain),
                (false, _) => {
                    if w.shared {
                        (w.shared, w.sums) = (false, values);
                    }
                    w.add(f.parse(cell));
                }
            }
        }
    }

    fn remember(list: &mut Vec<u64>, overflow: &mut bool, row: u64) {
        if list.len() < MAX_TRACKED {
            list.push(row);
        } else {
            *overflow = true;
        }
    }
}

impl Stats {
    pub(super) fn add(&mut self, cell: &str, row: u64, at: impl Fn() -> String) {
        if cell.is_empty() {
            self.first_empty.get_or_insert_with(&at);
            if self.track {
                Self::remember(&mut self.empty_rows, &mut self.overflow, row);
            }
            return;
        }
        self.filled += 1;
        let (plain, simple) = read_plain(cell);
        self.read_formats(cell, (plain, simple));
        match plain {
            Some(x) if x.is_finite() => {
                self.numbers += 1;
                self.values.push(x);
                // `fract` is a call; it is needed only while every value so far was whole.
                self.integers = self.integers && x.fract() == 0.0;
            }
            Some(_) => {
                self.numbers += 1;
                self.first_infinite
                    .get_or_insert_with(|| (at(), cell.to_string()));
                if self.track {
                    Self::remember(&mut self.odd_rows, &mut self.overflow, row);
                }
            }
            None => {
                if let Some((d, time)) = dates::parse_datetime(cell) {
                    self.dates.push(dates::fractional_year(d));
                    self.date_times |= time;
                }
                self.first_text
                    .get_or_insert_with(|| (at(), cell.to_string()));
                if self.track {
                    Self::remember(&mut self.odd_rows, &mut self.overflow, row);
                }
            }
        }
        if self.too_many {
            // Past the limit the counts decide nothing more.
        } else if let Some(c) = self.counts.get_mut(cell) {
            *c += 1;
        } else if self.counts.len() < MAX_STREAM_CATEGORIES {
            self.counts.insert(cell.to_string(), 1);
        } else {
            self.too_many = true;
        }
    }

    /// [`Stats::add`] for a cell read as a number (a Parquet number column): the same counts and
    /// sums. The number is written as text only where the text still decides something: while
    /// the distinct values are counted, or whether the decimal-comma format still reads the
    /// column (a finite float's text is a plain decimal, which the thousands-comma format reads
    /// as its value, and the decimal-comma format too when it has no fraction).
    pub(super) fn add_number(&mut self, v: f64, row: u64, at: impl Fn() -> String) {
        let fraction = v.fract() != 0.0;
        if !v.is_finite() || !self.too_many || (self.formats[1].ok && fraction) {
            let mut text = String::new();
            push_f64(&mut text, v);
            return self.add(&text, row, at);
        }
        self.filled += 1;
        for w in self.formats.iter_mut().filter(|w| w.ok && !w.shared) {
            w.add(Some(v));
        }
        self.numbers += 1;
        self.values.push(v);
        self.integers &= !fraction;
    }

    /// The distinct cells and their counts, in the order of the cells.
    pub(super) fn sorted_counts(&self) -> Vec<(String, usize)> {
        let mut counts: Vec<(String, usize)> =
            self.counts.iter().map(|(c, &n)| (c.clone(), n)).collect();
        counts.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        counts
    }

    /// Whether every filled cell is a date.
    pub(super) fn all_dates(&self) -> bool {
        self.dates.n as usize == self.filled
    }
}
