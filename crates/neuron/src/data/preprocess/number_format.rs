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
        if filled.clone().all(|s| parse_num(s).is_some()) {
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
#[inline]
pub(super) fn parse_num(s: &str) -> Option<f64> {
    read_plain(s).0
}

/// A cell read as [`parse_num`] reads it, and whether it is written `[+-]digits[.digits]` with a
/// fraction (`Some(true)`), without one (`Some(false)`), or otherwise (`None`): both from one
/// pass over the cell.
#[inline]
pub(super) fn read_plain(s: &str) -> (Option<f64>, Option<bool>) {
    match decimal(s.as_bytes()) {
        Some(d) => (d.value().or_else(|| s.parse().ok()), Some(d.frac > 0)),
        None => (s.parse().ok(), None),
    }
}

/// A cell written `[+-]digits[.digits]`: its sign, its digits as one integer (meaningful while
/// there are at most 15 of them), and how many digits come before and after the point.
struct Decimal {
    neg: bool,
    digits: u64,
    int: usize,
    frac: usize,
}

/// The cell as a [`Decimal`], read in one pass; `None` for any other spelling.
#[inline]
fn decimal(b: &[u8]) -> Option<Decimal> {
    let (neg, b) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    if b.len() <= 8 {
        return short_decimal(neg, b);
    }
    // The sum may wrap past 19 digits, but then it is not used.
    let mut digits = 0u64;
    let int = digit_run(b, &mut digits);
    let frac = match &b[int..] {
        [] => 0,
        [b'.', f @ ..] if !f.is_empty() && digit_run(f, &mut digits) == f.len() => f.len(),
        _ => return None,
    };
    (int > 0).then_some(Decimal {
        neg,
        digits,
        int,
        frac,
    })
}

/// The number of digits that `b` starts with, added to `digits` one by one (wrapping).
fn digit_run(b: &[u8], digits: &mut u64) -> usize {
    let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
    for &c in &b[..n] {
        *digits = digits.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
    }
    n
}

/// Eight bytes of `'0'`.
const ZEROS: u64 = 0x3030_3030_3030_3030;

/// The 1 to 8 bytes `b` as one little-endian word (the first byte lowest, the rest zero), from
/// two overlapping loads, so that no byte is copied on its own.
#[inline]
fn load_word(b: &[u8]) -> u64 {
    let n = b.len();
    let two = |at: usize| u64::from(u16::from_le_bytes([b[at], b[at + 1]]));
    let four = |at: usize| u64::from(u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]));
    match n {
        0 => 0,
        1 => u64::from(b[0]),
        2..=3 => two(0) | two(n - 2) << (8 * (n - 2)),
        _ => four(0) | four(n - 4) << (8 * (n - 4)),
    }
}

/// [`decimal`] for a cell of at most 8 bytes after its sign (most numbers in a table), read as
/// one 64-bit word instead of digit by digit: the point is found and taken out, the digits are
/// moved to the word's end behind leading `'0'`s, all eight bytes are checked to be digits at
/// once, and their value is found in three multiplications (pairs, then fours, then eight).
#[inline]
fn short_decimal(neg: bool, b: &[u8]) -> Option<Decimal> {
    let n = b.len();
    let x = load_word(b);
    let y = x ^ 0x2e2e_2e2e_2e2e_2e2e;
    let zero_bytes = y.wrapping_sub(0x0101_0101_0101_0101) & !y & 0x8080_8080_8080_8080;
    let point = (zero_bytes.trailing_zeros() / 8) as usize;
    let (d, int, frac) = if point < n {
        if point == 0 || point == n - 1 {
            return None;
        }
        let low = x & ((1u64 << (8 * point)) - 1);
        (
            low | (x >> (8 * (point + 1)) << (8 * point)),
            point,
            n - 1 - point,
        )
    } else {
        (x, n, 0)
    };
    let k = int + frac;
    if k == 0 {
        return None;
    }
    let aligned = d << (8 * (8 - k)) | ZEROS.checked_shr(8 * k as u32).unwrap_or(0);
    let high = 0xf0f0_f0f0_f0f0_f0f0;
    let carried = aligned.wrapping_add(0x0606_0606_0606_0606) & high;
    if (aligned & high) | (carried >> 4) != 0x3333_3333_3333_3333 {
        return None;
    }
    let v = aligned - ZEROS;
    let v = v.wrapping_mul(10).wrapping_add(v >> 8);
    let odd = (v & 0x0000_00ff_0000_00ff).wrapping_mul(100 + (1_000_000 << 32));
    let even = ((v >> 16) & 0x0000_00ff_0000_00ff).wrapping_mul(1 + (10_000 << 32));
    Some(Decimal {
        neg,
        digits: (odd.wrapping_add(even) >> 32) & 0xffff_ffff,
        int,
        frac,
    })
}

impl Decimal {
    /// The value when there are at most 15 digits in all (nearly every number in a table),
    /// without the general parser: the digits as an integer m < 10¹⁵ < 2⁵³ and the power 10ᵏ
    /// (k ≤ 15) are both exact in f64, so the one division m / 10ᵏ is correctly rounded and
    /// equals what `f64::from_str` returns, bit for bit (Clinger's fast path). `None` past 15
    /// digits, where the general parser reads the cell.
    #[inline]
    fn value(&self) -> Option<f64> {
        const POW10: [f64; 16] = [
            1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
        ];
        if self.int + self.frac > 15 {
            return None;
        }
        // Below 2⁵³, so the signed conversion (one instruction) is exact.
        let x = self.digits as i64 as f64 / POW10[self.frac];
        Some(if self.neg { -x } else { x })
    }
}

/// The fast path of [`parse_num`] alone: the value of a plain decimal of at most 15 digits
/// (always finite), `None` for any other cell, which [`parse_num`] then reads.
#[inline]
pub(super) fn plain_decimal(b: &[u8]) -> Option<f64> {
    decimal(b)?.value()
}

#[cfg(test)]
mod tests {
    use super::NumberFormat::{self, *};
    use super::{parse_num, plain_decimal, read_plain};
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

    #[test]
    fn plain_spellings_are_told_apart_in_the_same_pass() {
        let cases = [
            ("12", Some(false)),
            ("-0.5", Some(true)),
            ("+7.25", Some(true)),
            ("12345678901234567890.5", Some(true)),
            ("1.", None),
            (".5", None),
            ("1e3", None),
            ("1,5", None),
            ("inf", None),
            ("", None),
            ("-", None),
        ];
        for (s, simple) in cases {
            let bits = |x: Option<f64>| x.map(f64::to_bits);
            let (value, got) = read_plain(s);
            assert_eq!(got, simple, "{s}");
            assert_eq!(bits(value), bits(s.parse::<f64>().ok()), "{s}");
        }
    }

    #[test]
    fn short_cells_read_as_a_word_as_they_read_digit_by_digit() {
        use super::{decimal, Decimal};
        let by_digits = |b: &[u8]| {
            let (neg, b) = match b.first() {
                Some(b'-') => (true, &b[1..]),
                Some(b'+') => (false, &b[1..]),
                _ => (false, b),
            };
            let int = b.iter().take_while(|c| c.is_ascii_digit()).count();
            let frac = match &b[int..] {
                [] => 0,
                [b'.', f @ ..] if !f.is_empty() && f.iter().all(u8::is_ascii_digit) => f.len(),
                _ => return None,
            };
            let digits = b.iter().filter(|c| c.is_ascii_digit());
            let digits = digits.fold(0u64, |m, &c| m * 10 + u64::from(c - b'0'));
            (int > 0).then_some((neg, digits, int, frac))
        };
        let parts = |d: Decimal| (d.neg, d.digits, d.int, d.frac);
        let alphabet = b"0123456789..-+e, /:";
        let mut rng = Rng::new(11);
        for _ in 0..300_000 {
            let len = rng.below(10);
            let cell: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect();
            assert_eq!(decimal(&cell).map(parts), by_digits(&cell), "{cell:?}");
        }
        for s in [
            "99999999",
            "-12345678",
            "1.234567",
            "0.000001",
            "+9.9999999",
        ] {
            let cell = s.as_bytes();
            assert_eq!(decimal(cell).map(parts), by_digits(cell), "{s}");
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
