//! Training curves (`--plot`): loss, and accuracy or R², per epoch, for training and validation.
//! PNG or SVG, chosen by the file extension; written to a temporary file, then renamed.

use std::path::Path;

use anyhow::{anyhow, bail, Result};
use neuron::data::preprocess::Task;
use neuron::History;
use plotters::prelude::*;

static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

type Series = Vec<(&'static str, RGBColor, Vec<(f64, f64)>)>;

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    series: &Series,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let pts = series.iter().flat_map(|s| s.2.iter());
    let (mut x1, mut y0, mut y1) = (1.0f64, f64::INFINITY, f64::NEG_INFINITY);
    for &(x, y) in pts {
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if !y0.is_finite() {
        return Ok(());
    }
    let pad = ((y1 - y0) * 0.05).max(1e-6);
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d(1.0..x1.max(2.0), (y0 - pad)..(y1 + pad))
        .map_err(|e| anyhow!("{e}"))?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        // Epochs are whole numbers: at most one tick per epoch, printed without a fraction.
        .x_labels((x1 as usize).clamp(2, 10))
        .x_label_formatter(&epoch_label)
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    for (name, color, data) in series {
        let c = *color;
        chart
            .draw_series(LineSeries::new(data.iter().copied(), c.stroke_width(2)))
            .map_err(|e| anyhow!("{e}"))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

/// A tick on the epoch axis: `20`, not `20.0`; ticks between epochs keep one decimal.
fn epoch_label(x: &f64) -> String {
    if (x - x.round()).abs() < 1e-9 {
        format!("{}", x.round() as i64)
    } else {
        format!("{x:.1}")
    }
}

fn render<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    h: &History,
    task: Task,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let (left, right) = root.split_horizontally(root.dim_in_pixel().0 / 2);
    let ep = |f: &dyn Fn(&neuron::EpochRecord) -> Option<f64>| -> Vec<(f64, f64)> {
        h.epochs
            .iter()
            .filter_map(|r| f(r).map(|v| (r.epoch as f64, v)))
            .collect()
    };
    let mut loss: Series = vec![("training loss", BLUE, ep(&|r| Some(r.loss)))];
    let val = ep(&|r| r.val_loss);
    if !val.is_empty() {
        loss.push(("validation loss", RED, val));
    }
    panel(&left, "loss", &loss)?;
    let second: Series = match task {
        Task::Classify => {
            let mut s = vec![("training accuracy", BLUE, ep(&|r| r.accuracy))];
            let v = ep(&|r| r.val_accuracy);
            if !v.is_empty() {
                s.push(("validation accuracy", RED, v));
            }
            s
        }
        Task::Regress => vec![("validation R²", RED, ep(&|r| r.val_r2))],
    };
    let title = if task == Task::Classify {
        "accuracy"
    } else {
        "R²"
    };
    panel(&right, title, &second)?;
    root.present().map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

/// Draws `h` to `path` (`.png` or `.svg`).
pub fn draw(path: &Path, h: &History, task: Task) -> Result<()> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ext != "png" && ext != "svg" {
        bail!("--plot: {} must end in .png or .svg", path.display());
    }
    let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".neuron-plot-{}.{ext}", std::process::id()));
    let size = (1100, 420);
    let result = if ext == "png" {
        render(BitMapBackend::new(&tmp, size).into_drawing_area(), h, task)
    } else {
        render(SVGBackend::new(&tmp, size).into_drawing_area(), h, task)
    };
    if let Err(e) = result
        .and_then(|_| std::fs::rename(&tmp, path).map_err(|e| anyhow!("{}: {e}", path.display())))
    {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn epoch_ticks_are_whole_numbers() {
        assert_eq!(super::epoch_label(&20.0), "20");
        assert_eq!(super::epoch_label(&1.0), "1");
        assert_eq!(super::epoch_label(&2.5), "2.5");
    }
}
