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

/// A cell read as a number, as Rust's `f64::from_str` reads it (`1e3`, `inf`, `NaN` too).
pub(super) fn parse_num(s: &str) -> Option<f64> {
    match plain_decimal(s.as_bytes()) {
        Some(x) => Some(x),
        None => s.parse::<f64>().ok(),
    }
}

/// The parts of a cell written `[+-]digits[.digits]`: whether it is negative, the integer's
/// digits and the fraction's (empty without a point); `None` for any other spelling.
pub(super) fn decimal_parts(b: &[u8]) -> Option<(bool, &[u8], &[u8])> {
    let (neg, b) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    let int = b.iter().take_while(|c| c.is_ascii_digit()).count();
    let frac: &[u8] = match &b[int..] {
        [] => &[],
        [b'.', f @ ..] if !f.is_empty() && f.iter().all(u8::is_ascii_digit) => f,
        _ => return None,
    };
    (int > 0).then_some((neg, &b[..int], frac))
}

/// A cell written `[+-]digits[.digits]` with at most 15 digits in all (nearly every number in a
/// table), read without the general parser: the digits as an integer m < 10¹⁵ < 2⁵³ and the
/// power 10ᵏ (k ≤ 15) are both exact in f64, so the one division m / 10ᵏ is correctly rounded and
/// equals what `f64::from_str` returns, bit for bit (Clinger's fast path). `None` for any other
/// spelling, which the general parser then reads.
fn plain_decimal(b: &[u8]) -> Option<f64> {
    const POW10: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    let (neg, int, frac) = decimal_parts(b)?;
    if int.len() + frac.len() > 15 {
        return None;
    }
    let m = int
        .iter()
        .chain(frac)
        .fold(0u64, |m, &c| m * 10 + u64::from(c - b'0'));
    let x = m as f64 / POW10[frac.len()];
    Some(if neg { -x } else { x })
}

#[cfg(test)]
mod tests {
    use super::NumberFormat::{self, *};
    use super::{parse_num, plain_decimal};
    use crate::rng::Rng;

    #[test]
    fn plain_decimals_read_bit_for_bit_as_the_general_parser_reads_them() {
        let mut rng = Rng::new(5);
        for _ in 0..200_000 {
            let int = rng.below(10_000_000) as u64;
            let frac_digits = rng.below(9);
            let frac = rng.below(1_000_000_000) as u64 % 10u64.pow(frac_digits as u32);
            let sign = ["", "-", "+"][rng.below(3)];
            let s = match frac_digits {
                0 => format!("{sign}{int}"),
                k => format!("{sign}{int}.{frac:0k$}"),
            };
            let want = s.parse::<f64>().unwrap();
            let got = plain_decimal(s.as_bytes()).unwrap();
            assert_eq!(got.to_bits(), want.to_bits(), "{s}");
        }
        for s in [
            "0",
            "-0",
            "-0.0",
            "007.50",
            "999999999999999",
            "0.00000000000001",
        ] {
            let got = plain_decimal(s.as_bytes()).unwrap();
            assert_eq!(got.to_bits(), s.parse::<f64>().unwrap().to_bits(), "{s}");
        }
        // Other spellings go to the general parser, or are not numbers.
        for s in [
            ".5",
            "1.",
            "1e3",
            "inf",
            "NaN",
            "1234567890123456",
            "99999999999999999999999",
            "-",
        ] {
            assert_eq!(plain_decimal(s.as_bytes()), None, "{s}");
            let bits = |x: Option<f64>| x.map(f64::to_bits);
            assert_eq!(bits(parse_num(s)), bits(s.parse::<f64>().ok()), "{s}");
        }
        for s in ["", "+", "1.2.3", "1,5", " 1", "--1", "1-"] {
            assert_eq!(parse_num(s), None, "{s}");
        }
    }

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
