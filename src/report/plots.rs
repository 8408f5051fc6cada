//! The SVG plots of `lfc eval --report`, drawn with plotters' SVG backend
//! (text is SVG `<text>`, no fonts are read). Each function returns one
//! standalone `<svg>` element.

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::error::Error;
use crate::Result;

pub const WIDTH: u32 = 560;
pub const HEIGHT: u32 = 360;

/// The colour of rows the snapshot clamped to the domain.
pub const CLAMPED: RGBColor = RGBColor(0xd6, 0x27, 0x28);
pub const INSIDE: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
const LIMIT: RGBColor = RGBColor(0x44, 0x44, 0x44);

type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

fn plot_err(e: impl std::fmt::Display) -> Error {
    Error::Other(format!("drawing a plot: {e}"))
}

/// Widens a degenerate or reversed range so plotters can map it.
fn span(lo: f64, hi: f64) -> (f64, f64) {
    let (lo, hi) = if lo.is_finite() && hi.is_finite() && lo <= hi {
        (lo, hi)
    } else {
        (0.0, 1.0)
    };
    let pad = ((hi - lo) * 0.05).max(1e-9);
    (lo - pad, hi + pad)
}

fn min_max(v: impl Iterator<Item = f64>) -> (f64, f64) {
    v.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    })
}

/// One chart: title, axis names, ranges; `draw` adds the series.
fn chart(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    x: (f64, f64),
    y: (f64, f64),
    draw: impl FnOnce(&mut Chart) -> Result<()>,
) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let mut c = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(x.0..x.1, y.0..y.1)
            .map_err(plot_err)?;
        c.configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(plot_err)?;
        draw(&mut c)?;
        root.present().map_err(plot_err)?;
    }
    Ok(svg)
}

/// Points (x, y, clamped): clamped ones in [`CLAMPED`].
fn points(c: &mut Chart, pts: &[(f64, f64, bool)]) -> Result<()> {
    c.draw_series(pts.iter().map(|&(x, y, cl)| {
        let col = if cl { CLAMPED } else { INSIDE };
        Circle::new((x, y), 3, col.mix(0.7).filled())
    }))
    .map_err(plot_err)?;
    Ok(())
}

/// Snapshot output against the float model's, with the line y = x.
pub fn scatter_vs_float(
    output: usize,
    pts: &[(f64, f64, bool)],
    reference: &str,
) -> Result<String> {
    let (lo, hi) = min_max(pts.iter().flat_map(|p| [p.0, p.1]));
    let r = span(lo, hi);
    chart(
        &format!("output {output}: snapshot vs float model"),
        &format!("float model ({reference})"),
        "snapshot",
        r,
        r,
        |c| {
            c.draw_series(std::iter::once(PathElement::new(
                vec![(r.0, r.0), (r.1, r.1)],
                LIMIT.mix(0.5),
            )))
            .map_err(plot_err)?;
            points(c, pts)
        },
    )
}

/// Bars (lo, hi, count) of |snapshot - float|.
pub fn error_histogram(bins: &[(f64, f64, usize)]) -> Result<String> {
    let top = bins.iter().map(|b| b.2).max().unwrap_or(1).max(1) as f64;
    let x = (0.0, bins.last().map(|b| b.1).unwrap_or(1.0));
    chart(
        "error histogram, all outputs",
        "|snapshot - float model|",
        "values",
        x,
        (0.0, top * 1.08),
        |c| {
            c.draw_series(bins.iter().map(|&(lo, hi, n)| {
                Rectangle::new([(lo, 0.0), (hi, n as f64)], INSIDE.mix(0.8).filled())
            }))
            .map_err(plot_err)?;
            Ok(())
        },
    )
}

/// Row error against one input feature, with its domain bounds.
pub fn error_vs_feature(
    feature: usize,
    corr: f64,
    domain: (f64, f64),
    pts: &[(f64, f64, bool)],
) -> Result<String> {
    let (xl, xh) = min_max(pts.iter().map(|p| p.0).chain([domain.0, domain.1]));
    let (_, yh) = min_max(pts.iter().map(|p| p.1));
    let y = span(0.0, yh.max(0.0));
    chart(
        &format!("error vs input {feature} (correlation {corr:+.2})"),
        &format!("input {feature} (grey lines: domain)"),
        "max |snapshot - float|",
        span(xl, xh),
        y,
        |c| {
            for d in [domain.0, domain.1] {
                c.draw_series(std::iter::once(PathElement::new(
                    vec![(d, y.0), (d, y.1)],
                    LIMIT.mix(0.4).stroke_width(2),
                )))
                .map_err(plot_err)?;
            }
            points(c, pts)
        },
    )
}

/// Per layer: the proven stored range as a fraction of the type's range
/// (0 = qmin, 1 = qmax, the horizontal lines).
pub fn layer_ranges(ranges: &[Option<(f64, f64)>]) -> Result<String> {
    let n = ranges.len().max(1) as f64;
    chart(
        "proven value range per layer, against the type's limits",
        "layer (instruction index)",
        "fraction of [qmin, qmax]",
        (-0.5, n - 0.5),
        (-0.05, 1.05),
        |c| {
            for lim in [0.0, 1.0] {
                c.draw_series(std::iter::once(PathElement::new(
                    vec![(-0.5, lim), (n - 0.5, lim)],
                    CLAMPED.stroke_width(2),
                )))
                .map_err(plot_err)?;
            }
            c.draw_series(ranges.iter().enumerate().filter_map(|(k, r)| {
                let (lo, hi) = (*r)?;
                let k = k as f64;
                Some(Rectangle::new(
                    [(k - 0.3, lo), (k + 0.3, hi.max(lo + 0.004))],
                    INSIDE.mix(0.8).filled(),
                ))
            }))
            .map_err(plot_err)?;
            Ok(())
        },
    )
}

/// Per layer: bits the widest accumulator needs, against its width.
pub fn accumulator_bits(bits: &[Option<u32>], width: u32) -> Result<String> {
    let n = bits.len().max(1) as f64;
    let w = width as f64;
    chart(
        &format!("accumulator bits needed per layer (limit {width})"),
        "layer (instruction index)",
        "bits",
        (-0.5, n - 0.5),
        (0.0, w * 1.1),
        |c| {
            c.draw_series(std::iter::once(PathElement::new(
                vec![(-0.5, w), (n - 0.5, w)],
                CLAMPED.stroke_width(2),
            )))
            .map_err(plot_err)?;
            c.draw_series(bits.iter().enumerate().filter_map(|(k, b)| {
                let b = (*b)? as f64;
                let k = k as f64;
                Some(Rectangle::new(
                    [(k - 0.3, 0.0), (k + 0.3, b)],
                    INSIDE.mix(0.8).filled(),
                ))
            }))
            .map_err(plot_err)?;
            Ok(())
        },
    )
}
