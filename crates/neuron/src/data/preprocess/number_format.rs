//! Numbers written for people: `1,234.50` (commas grouping thousands) or `1.234,50` / `12,5`
//! (a decimal comma, with dots or spaces grouping thousands). A column is read in such a format
//! only when every filled cell of it parses that way and some cell needs it; when a column fits
//! both (every cell like `1,234`), commas grouping thousands is chosen, and the column table
//! says so.

use serde::{Deserialize, Serialize};

/// How a number column writes its numbers, when not plainly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumberFormat {
    /// `1,234.5`: commas group thousands, a dot marks the decimals.
    CommaThousands,
    /// `1.234,5`, `1 234,5` or `1234,5`: a decimal comma; dots or spaces group thousands.
    DecimalComma,
}

/// Whether `int` is digits in groups of three after a first group of one to three, joined by
/// `sep`, or plain digits.
fn grouped(int: &str, sep: char) -> bool {
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if all_digits(int) {
        return true;
    }
    let mut parts = int.split(sep);
    let first = parts.next().unwrap_or("");
    all_digits(first) && first.len() <= 3 && parts.all(|p| p.len() == 3 && all_digits(p))
}

impl NumberFormat {
    /// The value of `s` in this format, or `None` when it is not written so.
    pub fn parse(self, s: &str) -> Option<f64> {
        let s = s.trim();
        let (sign, body) = match s.strip_prefix('-') {
            Some(rest) => ("-", rest),
            None => ("", s.strip_prefix('+').unwrap_or(s)),
        };
        let (int, frac) = match self {
            NumberFormat::CommaThousands => body.split_once('.').unwrap_or((body, "")),
            NumberFormat::DecimalComma => body.split_once(',').unwrap_or((body, "")),
        };
        if !frac.bytes().all(|b| b.is_ascii_digit())
            || (frac.is_empty() && body.ends_with(['.', ',']))
        {
            return None;
        }
        let ok = match self {
            NumberFormat::CommaThousands => grouped(int, ','),
            NumberFormat::DecimalComma => {
                grouped(int, '.') || grouped(int, ' ') || grouped(int, '\u{a0}')
            }
        };
        if !ok {
            return None;
        }
        let digits: String = int.chars().filter(char::is_ascii_digit).collect();
        format!("{sign}{digits}.{frac}")
            .trim_end_matches('.')
            .parse()
            .ok()
    }

    /// The format every filled cell of a column is written in, when some cell is not a plain
    /// number but all are numbers in the format.
    pub fn detect<'a>(cells: impl Iterator<Item = &'a str> + Clone) -> Option<NumberFormat> {
        let filled = cells.filter(|s| !s.is_empty());
        if filled.clone().all(|s| s.parse::<f64>().is_ok()) {
            return None;
        }
        [NumberFormat::CommaThousands, NumberFormat::DecimalComma]
            .into_iter()
            .find(|f| filled.clone().all(|s| f.parse(s).is_some()))
    }

    /// How the column table shows it.
    pub fn describe(self) -> &'static str {
        match self {
            NumberFormat::CommaThousands => "written 1,234.5",
            NumberFormat::DecimalComma => "written 1.234,5",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::NumberFormat::{self, *};

    fn detect(cells: &[&str]) -> Option<NumberFormat> {
        NumberFormat::detect(cells.iter().copied())
    }

    #[test]
    fn formats_are_read_and_detected_only_when_the_whole_column_agrees() {
        assert_eq!(CommaThousands.parse("1,234.50"), Some(1234.5));
        assert_eq!(CommaThousands.parse("-12,345,678"), Some(-12_345_678.0));
        assert_eq!(CommaThousands.parse("950"), Some(950.0));
        assert_eq!(CommaThousands.parse("1,23.5"), None);
        assert_eq!(CommaThousands.parse("1.2.3"), None);
        assert_eq!(DecimalComma.parse("1.234,5"), Some(1234.5));
        assert_eq!(DecimalComma.parse("12,75"), Some(12.75));
        assert_eq!(DecimalComma.parse("1 234 567,5"), Some(1_234_567.5));
        assert_eq!(DecimalComma.parse("abc"), None);
        assert_eq!(DecimalComma.parse("12,"), None);
        assert_eq!(
            detect(&["1,234.50", "950", "", "12,000"]),
            Some(CommaThousands)
        );
        assert_eq!(detect(&["12,5", "3", "1.000,25"]), Some(DecimalComma));
        assert_eq!(detect(&["1,234", "5,678"]), Some(CommaThousands));
        assert_eq!(detect(&["1.5", "2"]), None);
        assert_eq!(detect(&["12,5", "x"]), None);
        assert_eq!(detect(&["1,234.5", "1.234,5"]), None);
    }
}
