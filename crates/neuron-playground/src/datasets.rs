//! The points a page trains on: built-in 2-D sets (classification and regression), or two
//! columns and a label of an uploaded CSV.

use neuron::data::csv::RawTable;
use neuron::Rng;

use crate::error::ApiError;

/// Names of the built-in sets.
pub const BUILTIN: [&str; 8] = [
    "circles",
    "xor",
    "gauss",
    "spirals",
    "blobs3",
    "pinwheel5",
    "plane",
    "ripple",
];

/// Half the width of the square the built-in sets live in.
const HALF: f64 = 6.0;
/// Most rows of an uploaded CSV that are used.
pub const MAX_UPLOAD_ROWS: usize = 5000;

/// Labelled points in the plane.
#[derive(Clone, Debug)]
pub struct Points {
    /// `(x, y)` of each point.
    pub xy: Vec<[f64; 2]>,
    /// The class index, or the value for regression.
    pub label: Vec<f64>,
    /// The class names, or `None` for regression.
    pub classes: Option<Vec<String>>,
    /// `[x min, x max, y min, y max]` of the plane shown.
    pub extent: [f64; 4],
    /// Names of the x and y axes and of the label.
    pub names: [String; 3],
}

/// Generates built-in set `name` with `n` points.
pub fn builtin(name: &str, n: usize, noise: f64, seed: u64) -> Result<Points, ApiError> {
    let mut rng = Rng::new(seed ^ 0x5EED_DA7A);
    let mut p = Vec::with_capacity(n);
    for i in 0..n {
        p.push(match name {
            "circles" => circles(&mut rng, i, noise),
            "xor" => xor(&mut rng, noise),
            "gauss" => blob(
                &mut rng,
                i % 2,
                &[[2.0, 2.0], [-2.0, -2.0]],
                0.5 + 2.0 * noise,
            ),
            "spirals" => spiral(&mut rng, i, n, 2, noise),
            "blobs3" => blob(
                &mut rng,
                i % 3,
                &[[-3.0, -2.0], [3.0, -2.0], [0.0, 3.2]],
                0.6 + 2.0 * noise,
            ),
            "pinwheel5" => spiral(&mut rng, i, n, 5, noise),
            "plane" | "ripple" => surface(&mut rng, name, noise),
            _ => return Err(ApiError::bad(format!("dataset: unknown '{name}'"))),
        });
    }
    let k = match name {
        "plane" | "ripple" => 0,
        "blobs3" => 3,
        "pinwheel5" => 5,
        _ => 2,
    };
    Ok(Points {
        xy: p.iter().map(|q| [q.0, q.1]).collect(),
        label: p.iter().map(|q| q.2).collect(),
        classes: (k > 0).then(|| (0..k).map(|c| c.to_string()).collect()),
        extent: [-HALF, HALF, -HALF, HALF],
        names: ["x".into(), "y".into(), "label".into()],
    })
}

fn circles(rng: &mut Rng, i: usize, noise: f64) -> (f64, f64, f64) {
    let inner = i.is_multiple_of(2);
    let r = if inner {
        rng.uniform_in(0.0, 2.5)
    } else {
        rng.uniform_in(3.5, 5.0)
    };
    let a = rng.uniform_in(0.0, std::f64::consts::TAU);
    let (x, y) = (r * a.cos(), r * a.sin());
    let s = noise * 2.5;
    (
        x + s * rng.normal(),
        y + s * rng.normal(),
        if inner { 1.0 } else { 0.0 },
    )
}

fn xor(rng: &mut Rng, noise: f64) -> (f64, f64, f64) {
    let pad = |v: f64| if v > 0.0 { v + 0.3 } else { v - 0.3 };
    let (x, y) = (
        pad(rng.uniform_in(-5.0, 5.0)),
        pad(rng.uniform_in(-5.0, 5.0)),
    );
    let label = if x * y > 0.0 { 1.0 } else { 0.0 };
    let s = noise * 2.5;
    (x + s * rng.normal(), y + s * rng.normal(), label)
}

fn blob(rng: &mut Rng, c: usize, centres: &[[f64; 2]], sd: f64) -> (f64, f64, f64) {
    let [cx, cy] = centres[c];
    (cx + sd * rng.normal(), cy + sd * rng.normal(), c as f64)
}

/// `arms` interleaved spiral arms (2: the classic two spirals; 5: a pinwheel).
fn spiral(rng: &mut Rng, i: usize, n: usize, arms: usize, noise: f64) -> (f64, f64, f64) {
    let c = i % arms;
    let t = (i / arms) as f64 / (n / arms).max(1) as f64;
    let turns = if arms == 2 { 1.75 } else { 0.6 };
    let r = 0.3 + 5.0 * t;
    let a = turns * std::f64::consts::TAU * t + c as f64 * std::f64::consts::TAU / arms as f64;
    let s = noise * 1.5 + 0.05;
    (
        r * a.cos() + s * rng.normal(),
        r * a.sin() + s * rng.normal(),
        c as f64,
    )
}

fn surface(rng: &mut Rng, name: &str, noise: f64) -> (f64, f64, f64) {
    let (x, y) = (rng.uniform_in(-HALF, HALF), rng.uniform_in(-HALF, HALF));
    let v = match name {
        "plane" => (x + y) / 6.0,
        _ => (x * 0.8).sin() * (y * 0.8).cos(),
    };
    (x, y, v + noise * 0.5 * rng.normal())
}

/// The points of an uploaded table: columns `x` and `y` (numbers) and `label` (classes when it
/// holds text or at most 10 distinct integers, else a value to regress).
pub fn from_table(t: &RawTable, x: &str, y: &str, label: &str) -> Result<Points, ApiError> {
    let col = |name: &str| -> Result<usize, ApiError> {
        t.headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| ApiError::bad(format!("columns: the CSV has no column '{name}'")))
    };
    let (cx, cy, cl) = (col(x)?, col(y)?, col(label)?);
    let rows = &t.rows[..t.rows.len().min(MAX_UPLOAD_ROWS)];
    let num = |r: usize, c: usize| -> Result<f64, ApiError> {
        let s = rows[r][c].trim();
        s.parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| {
                ApiError::bad(format!(
                    "line {}: column '{}' is not a number: '{s}'",
                    t.lines[r], t.headers[c]
                ))
            })
    };
    let mut xy = Vec::with_capacity(rows.len());
    for r in 0..rows.len() {
        xy.push([num(r, cx)?, num(r, cy)?]);
    }
    if xy.len() < 4 {
        return Err(ApiError::bad("the CSV needs at least 4 rows".into()));
    }
    let (label_v, classes) = labels(rows, cl, t, &num)?;
    Ok(Points {
        extent: extent(&xy),
        xy,
        label: label_v,
        classes,
        names: [x.into(), y.into(), label.into()],
    })
}

type Labels = (Vec<f64>, Option<Vec<String>>);

fn labels(
    rows: &[Vec<String>],
    c: usize,
    t: &RawTable,
    num: &dyn Fn(usize, usize) -> Result<f64, ApiError>,
) -> Result<Labels, ApiError> {
    let mut names: Vec<String> = rows.iter().map(|r| r[c].trim().to_string()).collect();
    names.sort();
    names.dedup();
    let ints = names.iter().all(|s| s.parse::<i64>().is_ok());
    let text = names.iter().any(|s| s.parse::<f64>().is_err());
    if text || (ints && names.len() <= 10) {
        if names.len() < 2 || names.len() > 10 {
            return Err(ApiError::bad(format!(
                "column '{}' has {} classes; the playground shows 2 to 10",
                t.headers[c],
                names.len()
            )));
        }
        if ints {
            names.sort_by_key(|s| s.parse::<i64>().unwrap_or(0));
        }
        let idx = rows
            .iter()
            .map(|r| names.iter().position(|n| n == r[c].trim()).unwrap_or(0) as f64)
            .collect();
        return Ok((idx, Some(names)));
    }
    let v = (0..rows.len())
        .map(|r| num(r, c))
        .collect::<Result<_, _>>()?;
    Ok((v, None))
}

/// The bounding box of the points with a 10 % margin.
fn extent(xy: &[[f64; 2]]) -> [f64; 4] {
    let mut e = [f64::MAX, f64::MIN, f64::MAX, f64::MIN];
    for p in xy {
        e = [
            e[0].min(p[0]),
            e[1].max(p[0]),
            e[2].min(p[1]),
            e[3].max(p[1]),
        ];
    }
    let pad = |lo: f64, hi: f64| {
        let m = ((hi - lo) * 0.1).max(1e-6);
        (lo - m, hi + m)
    };
    let (x0, x1) = pad(e[0], e[1]);
    let (y0, y1) = pad(e[2], e[3]);
    [x0, x1, y0, y1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_set_has_its_points_and_classes() {
        for name in BUILTIN {
            let p = builtin(name, 100, 0.1, 3).unwrap();
            assert_eq!(p.xy.len(), 100);
            assert!(p
                .xy
                .iter()
                .flatten()
                .all(|v| v.is_finite() && v.abs() < 12.0));
            match &p.classes {
                Some(c) => assert!(p.label.iter().all(|&l| l >= 0.0 && (l as usize) < c.len())),
                None => assert!(p.label.iter().all(|l| l.is_finite())),
            }
        }
        let five = builtin("pinwheel5", 100, 0.0, 1).unwrap();
        assert_eq!(five.classes.unwrap().len(), 5);
    }

    #[test]
    fn an_upload_with_text_labels_becomes_classes() {
        let csv = "a,b,kind\n1,2,cat\n2,3,dog\n3,1,cat\n0,0,dog\n";
        let t = neuron::data::csv::read_csv_bytes(csv.as_bytes().to_vec(), "up.csv").unwrap();
        let p = from_table(&t, "a", "b", "kind").unwrap();
        assert_eq!(p.classes.unwrap(), vec!["cat", "dog"]);
        assert_eq!(p.label, vec![0.0, 1.0, 0.0, 1.0]);
        let e = from_table(&t, "a", "kind", "b").unwrap_err();
        assert!(e.message.contains("not a number"), "{}", e.message);
    }
}
