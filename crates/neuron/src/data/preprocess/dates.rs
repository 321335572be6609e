//! Dates and datetimes (ISO 8601: `2024-03-15`, `2024-03-15 14:30`, `2024-03-15T14:30:00+02:00`)
//! as numbers a network can use: the year with its fraction (standardised like any number), and
//! the month, the day of the week and, when the column has times, the time of day, each as a
//! point on a circle (sine and cosine), so December sits next to January and 23:59 next to 00:00.
//! A time written with an offset is taken as written (its local wall-clock time): the hour of a
//! local day is what behaviour follows.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Timelike};

/// Formats tried after plain dates and RFC 3339.
const NAIVE: [&str; 4] = [
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
];
/// The same with an offset.
const OFFSET: [&str; 3] = [
    "%Y-%m-%d %H:%M:%S%.f%:z",
    "%Y-%m-%d %H:%M:%S%.f %:z",
    "%Y-%m-%dT%H:%M:%S%.f%z",
];

/// A date or datetime as written, and whether it has a time.
pub fn parse_datetime(s: &str) -> Option<(NaiveDateTime, bool)> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' || !b[..4].iter().all(u8::is_ascii_digit) {
        return None;
    }
    if b.len() == 10 {
        let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
        return Some((d.and_hms_opt(0, 0, 0)?, false));
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some((d.naive_local(), true));
    }
    for f in NAIVE {
        if let Ok(d) = NaiveDateTime::parse_from_str(s, f) {
            return Some((d, true));
        }
    }
    OFFSET
        .iter()
        .find_map(|f| DateTime::parse_from_str(s, f).ok())
        .map(|d| (d.naive_local(), true))
}

/// The year with the elapsed fraction of it.
pub fn fractional_year(d: NaiveDateTime) -> f64 {
    let days = if NaiveDate::from_ymd_opt(d.year(), 2, 29).is_some() {
        366.0
    } else {
        365.0
    };
    let day = f64::from(d.ordinal0()) + f64::from(d.num_seconds_from_midnight()) / 86_400.0;
    f64::from(d.year()) + day / days
}

/// Network inputs of a date column: 5, or 7 with times.
pub fn date_width(time: bool) -> usize {
    if time {
        7
    } else {
        5
    }
}

/// Writes the inputs of `d` into `out` (of [`date_width`] values): the fractional year scaled
/// as `(y − mean) / std`, then sine and cosine of the month, of the day of the week, and (with
/// `time`) of the time of day.
pub fn date_features(d: NaiveDateTime, (mean, std): (f64, f64), time: bool, out: &mut [f32]) {
    let circle = |v: f64, period: f64| {
        let a = std::f64::consts::TAU * v / period;
        [a.sin() as f32, a.cos() as f32]
    };
    out[0] = ((fractional_year(d) - mean) / std) as f32;
    out[1..3].copy_from_slice(&circle(f64::from(d.month0()), 12.0));
    out[3..5].copy_from_slice(&circle(f64::from(d.weekday().num_days_from_monday()), 7.0));
    if time {
        out[5..7].copy_from_slice(&circle(f64::from(d.num_seconds_from_midnight()), 86_400.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates_and_datetimes_are_read_as_written() {
        let (d, t) = parse_datetime("2024-03-15").unwrap();
        assert_eq!((d.to_string().as_str(), t), ("2024-03-15 00:00:00", false));
        for s in [
            "2024-03-15T14:30:00+02:00",
            "2024-03-15 14:30:00+02:00",
            "2024-03-15T14:30:00Z",
            "2024-03-15 14:30",
            "2024-03-15T14:30:00.250",
        ] {
            let (d, t) = parse_datetime(s).unwrap_or_else(|| panic!("{s}"));
            assert!(t && d.hour() == 14 && d.minute() == 30, "{s}: {d}");
        }
        for s in [
            "2024",
            "15/03/2024",
            "2024-13-01",
            "2024-02-30",
            "abc",
            "1,234.5",
            "2024-03-15x",
        ] {
            assert!(parse_datetime(s).is_none(), "{s}");
        }
    }

    #[test]
    fn features_put_neighbours_on_a_circle() {
        let f = |s: &str| {
            let (d, _) = parse_datetime(s).unwrap();
            let mut out = [0.0f32; 7];
            date_features(d, (2024.0, 1.0), true, &mut out);
            out
        };
        let (dec, jan) = (f("2023-12-31 23:59"), f("2024-01-01 00:00"));
        assert!(
            (jan[0] - dec[0]).abs() < 1e-3 && jan[0].abs() < 1e-3,
            "{jan:?} {dec:?}"
        );
        // Months 11 and 0 are neighbours; Sunday and Monday too; 23:59 and 00:00 too.
        let dist = |a: &[f32], b: &[f32]| ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt();
        assert!(dist(&dec[1..3], &jan[1..3]) < 0.6);
        assert!(dist(&dec[3..5], &jan[3..5]) < 0.9);
        assert!(dist(&dec[5..7], &jan[5..7]) < 0.01);
        assert!((fractional_year(parse_datetime("2024-07-02").unwrap().0) - 2024.5).abs() < 0.01);
    }
}
