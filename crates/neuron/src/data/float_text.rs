//! Floats written as text exactly as Rust's `Display` writes them (`format!("{v}")`: the shortest
//! digits that read back to the same float, never in exponent notation), but found by the Ryū
//! algorithm (the `ryu` crate), several times faster. The two differ only where the float lies
//! exactly halfway between two shortest candidates: Ryū takes the even digit, `Display` the one
//! of larger magnitude; such ties are detected exactly and written as `Display` writes them. Parquet's float and double columns are read as this
//! text (a float as its exact value, widened to `f64`), so a column reads as the same cells
//! whichever way the file is read.

use std::fmt::Write;

/// Appends `v` to `out` as `write!(out, "{v}")` would.
pub(crate) fn push_f64(out: &mut String, v: f64) {
    let (bits, finite) = (v.to_bits(), v.is_finite());
    let (exp, frac) = ((bits >> 52) & 0x7ff, bits & ((1 << 52) - 1));
    let (m, e) = match exp {
        0 => (frac, -1074),
        _ => (frac | 1 << 52, exp as i32 - 1075),
    };
    push_float(out, v, finite, (m, e));
}

/// Whether `m`·2^`e` lies exactly halfway between `d`·10^`k` and (`d`+1)·10^`k`:
/// m·2^(e+1) = (2d+1)·10^k, where 2d+1 is odd. `d` is only computed when the powers of two agree.
fn halfway((m, e): (u64, i32), k: i32, d: impl FnOnce() -> Option<u64>) -> bool {
    if m == 0 || e + m.trailing_zeros() as i32 + 1 != k {
        return false;
    }
    let Some(d) = d() else {
        return false;
    };
    let m_odd = m >> m.trailing_zeros();
    let five = |p: i32| 5u128.checked_pow(p.max(0) as u32);
    let side = |x: u128, p: i32| five(p).and_then(|f| f.checked_mul(x));
    let lhs = side(u128::from(m_odd), -k);
    lhs.is_some() && lhs == side(2 * u128::from(d) + 1, k)
}

/// Whether the shortest digits `text` (an optional `-`, digits, an optional point and digits)
/// of `m`·2^`e` scaled by 10^`exp` end on a tie that `Display` breaks upwards: Ryū ends a tie on
/// an even digit, `Display` on the digit one up (no carry, the digit being even).
fn tie_up(text: &str, exp: i32, exact: (u64, i32)) -> bool {
    let bytes = text.as_bytes();
    if !matches!(bytes.last(), Some(d) if d % 2 == 0) {
        return false;
    }
    let after_point = bytes.iter().rposition(|&b| b == b'.');
    let after_point = after_point.map_or(0, |p| text.len() - p - 1) as i32;
    let d = || {
        let mut digits = bytes.iter().filter(|b| b.is_ascii_digit());
        digits.try_fold(0u64, |acc, &b| {
            acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        })
    };
    halfway(exact, exp - after_point, d)
}

/// `v` (`m`·2^`e` exactly) written by Ryū, then laid out as `Display` lays it out.
fn push_float<F: ryu::Float + std::fmt::Display>(
    out: &mut String,
    v: F,
    finite: bool,
    exact: (u64, i32),
) {
    if !finite {
        let _ = write!(out, "{v}");
        return;
    }
    let mut buf = ryu::Buffer::new();
    let text = buf.format_finite(v);
    let e_at = text.bytes().position(|b| b == b'e');
    let (mantissa, exp) = match e_at.map(|at| (&text[..at], &text[at + 1..])) {
        None => (text.strip_suffix(".0").unwrap_or(text), 0),
        Some((m, e)) => match e.parse::<i32>() {
            Ok(e) => (m, e),
            Err(_) => {
                let _ = write!(out, "{v}");
                return;
            }
        },
    };
    let start = out.len();
    out.push_str(mantissa);
    if tie_up(mantissa, exp, exact) {
        let last = out.pop().map_or(b'0', |c| c as u8);
        out.push(char::from(last + 1));
    }
    if exp != 0 {
        without_exponent(out, start, exp);
    }
}

/// Rewrites the number `out[start..]` (`-`? digits, `.`? digits) times 10^`exp` without an
/// exponent, as `Display` writes it.
fn without_exponent(out: &mut String, start: usize, exp: i32) {
    let text = out.split_off(start);
    let (sign, text) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text.as_str()),
    };
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let all = format!("{int}{frac}");
    let lead = all.len() - all.trim_start_matches('0').len();
    let digits = all.trim_matches('0');
    let point = int.len() as i32 + exp - lead as i32;
    let zeros = |out: &mut String, k: i32| (0..k).for_each(|_| out.push('0'));
    out.push_str(sign);
    if digits.is_empty() {
        out.push('0');
    } else if point <= 0 {
        out.push_str("0.");
        zeros(out, -point);
        out.push_str(digits);
    } else if point as usize >= digits.len() {
        out.push_str(digits);
        zeros(out, point - digits.len() as i32);
    } else {
        let (a, b) = digits.split_at(point as usize);
        out.push_str(a);
        out.push('.');
        out.push_str(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    fn same64(v: f64) {
        let mut s = String::new();
        push_f64(&mut s, v);
        assert_eq!(s, v.to_string(), "{:e}", v);
    }

    #[test]
    fn floats_are_written_as_display_writes_them() {
        for v in [
            0.0f32,
            -0.0,
            1.0,
            -1.5,
            1e20,
            1.5e-7,
            0.1,
            1.0006,
            f32::MAX,
            f32::MIN_POSITIVE,
        ] {
            same64(f64::from(v));
        }
        for v in [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            5e-324,
            1e300,
            123456789.125,
        ] {
            same64(v);
        }
        let mut rng = Rng::new(11);
        for _ in 0..300_000 {
            let bits = rng.next_u64();
            let (a, b) = (f32::from_bits(bits as u32), f64::from_bits(bits));
            same64(f64::from(a));
            same64(b);
            // Short decimals, as tables hold them.
            let c = (bits % 2_000_001) as f64 / 10f64.powi((bits >> 40) as i32 % 9) - 100.0;
            same64(c);
            // Quarters and eighths of large numbers: halfway cases.
            same64((bits % (1 << 55)) as f64 / 8.0);
        }
    }
}
