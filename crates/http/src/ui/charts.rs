//! The council's charts (issue 16.7): SVG drawn on the server with `plotters` (its svg
//! backend only: text stays `<text>`, so no font files or bitmaps are needed).
//!
//! Each function takes plain numbers and returns one `<svg>` element with `role="img"`,
//! an `aria-label` and a `<title>`, ready to be placed in a page next to the table of the
//! same numbers. Nothing is carried by colour alone: series are told apart by fill
//! patterns (grey, diagonal hatching, dots, white) with black outlines, so the charts
//! read the same when printed in black and white. A missing or suppressed value draws no
//! mark (the table next to the chart says why).

use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// The size of every chart, in SVG user units (the page scales it to its width).
const WIDTH: u32 = 720;
const HEIGHT: u32 = 340;
/// Category labels longer than this many characters are shortened under the axis (the
/// table next to the chart has them whole).
const LABEL_CHARS: usize = 8;
const FONT: &str = "sans-serif";

/// The fills of the series, in order. Each is drawn with a placeholder colour that
/// [`finish`] swaps for an SVG pattern; the placeholders are colours no other mark uses.
const FILLS: [(RGBColor, &str); 4] = [
    (RGBColor(1, 1, 1), "rk-grey"),
    (RGBColor(2, 2, 2), "rk-hatch"),
    (RGBColor(3, 3, 3), "rk-dots"),
    (RGBColor(4, 4, 4), "rk-white"),
];

/// The patterns behind [`FILLS`].
const PATTERNS: &str = concat!(
    "<defs>",
    "<pattern id=\"rk-grey\" width=\"4\" height=\"4\" patternUnits=\"userSpaceOnUse\">",
    "<rect width=\"4\" height=\"4\" fill=\"#A6A6A6\"/></pattern>",
    "<pattern id=\"rk-hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" ",
    "patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#FFFFFF\"/>",
    "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#000000\" stroke-width=\"2\"/></pattern>",
    "<pattern id=\"rk-dots\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\">",
    "<rect width=\"6\" height=\"6\" fill=\"#FFFFFF\"/>",
    "<circle cx=\"3\" cy=\"3\" r=\"1.3\" fill=\"#000000\"/></pattern>",
    "<pattern id=\"rk-white\" width=\"4\" height=\"4\" patternUnits=\"userSpaceOnUse\">",
    "<rect width=\"4\" height=\"4\" fill=\"#FFFFFF\"/></pattern>",
    "</defs>"
);

/// One series of a bar chart: its name (shown in the legend) and a value per category.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub values: Vec<Option<f64>>,
}

/// The five numbers of one box: minimum, first quartile, median, third quartile, maximum.
pub type FiveNumbers = [f64; 5];

/// A bar chart: one group of bars per category, one bar per series (told apart by fill
/// pattern, named in the legend when there is more than one).
pub fn bar(label: &str, categories: &[String], series: &[Series], unit: Option<&str>) -> String {
    let top = series
        .iter()
        .flat_map(|s| s.values.iter().flatten())
        .fold(0.0_f64, |a, &b| a.max(b));
    render(label, |root| {
        let legend = series.len() > 1;
        let chart = frame(root, categories, 0.0, nice_top(top), unit, legend, false)?;
        let groups = series.len().max(1) as f64;
        for (k, s) in series.iter().enumerate() {
            let fill = FILLS[k % FILLS.len()].0;
            for (i, v) in s.values.iter().enumerate().take(categories.len()) {
                let Some(v) = v else { continue };
                let x0 = i as f64 + 0.1 + 0.8 * k as f64 / groups;
                let x1 = x0 + 0.8 / groups;
                let a = chart.backend_coord(&(x0, *v));
                let b = chart.backend_coord(&(x1, 0.0));
                bar_mark(root, a, b, fill)?;
            }
        }
        if legend {
            draw_legend(
                root,
                series
                    .iter()
                    .enumerate()
                    .map(|(k, s)| (s.name.as_str(), FILLS[k % FILLS.len()].0)),
            )?;
        }
        Ok(())
    })
}

/// A box plot: per category a box from the first to the third quartile, a thick line at
/// the median and whiskers to the minimum and maximum.
pub fn boxplot(
    label: &str,
    categories: &[String],
    boxes: &[Option<FiveNumbers>],
    unit: Option<&str>,
) -> String {
    let top = boxes
        .iter()
        .flatten()
        .flat_map(|b| b.iter())
        .fold(0.0_f64, |a, &b| a.max(b));
    let bottom = boxes
        .iter()
        .flatten()
        .flat_map(|b| b.iter())
        .fold(0.0_f64, |a, &b| a.min(b));
    render(label, |root| {
        let chart = frame(root, categories, bottom, nice_top(top), unit, false, false)?;
        for (i, b) in boxes.iter().enumerate().take(categories.len()) {
            let Some([min, q1, median, q3, max]) = b else {
                continue;
            };
            let mid = i as f64 + 0.5;
            let (left, right) = (i as f64 + 0.25, i as f64 + 0.75);
            let line = |y: f64, x0: f64, x1: f64| {
                PathElement::new(
                    vec![chart.backend_coord(&(x0, y)), chart.backend_coord(&(x1, y))],
                    BLACK.stroke_width(1),
                )
            };
            // Whiskers: the stem and the caps.
            root.draw(&PathElement::new(
                vec![
                    chart.backend_coord(&(mid, *min)),
                    chart.backend_coord(&(mid, *q1)),
                ],
                BLACK.stroke_width(1),
            ))?;
            root.draw(&PathElement::new(
                vec![
                    chart.backend_coord(&(mid, *q3)),
                    chart.backend_coord(&(mid, *max)),
                ],
                BLACK.stroke_width(1),
            ))?;
            root.draw(&line(*min, mid - 0.12, mid + 0.12))?;
            root.draw(&line(*max, mid - 0.12, mid + 0.12))?;
            bar_mark(
                root,
                chart.backend_coord(&(left, *q3)),
                chart.backend_coord(&(right, *q1)),
                FILLS[0].0,
            )?;
            root.draw(&PathElement::new(
                vec![
                    chart.backend_coord(&(left, *median)),
                    chart.backend_coord(&(right, *median)),
                ],
                BLACK.stroke_width(3),
            ))?;
        }
        Ok(())
    })
}

/// A Pareto chart: bars in descending order of count, and the cumulative share as a line
/// with square markers against a 0–100 % axis on the right.
pub fn pareto(label: &str, categories: &[String], counts: &[Option<f64>]) -> String {
    let mut order: Vec<(String, Option<f64>)> = categories
        .iter()
        .cloned()
        .zip(counts.iter().copied())
        .collect();
    order.sort_by(|a, b| {
        b.1.unwrap_or(-1.0)
            .partial_cmp(&a.1.unwrap_or(-1.0))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let labels: Vec<String> = order.iter().map(|(c, _)| c.clone()).collect();
    let total: f64 = order.iter().filter_map(|(_, v)| *v).sum();
    let top = order.iter().filter_map(|(_, v)| *v).fold(0.0_f64, f64::max);
    render(label, |root| {
        let chart = frame(root, &labels, 0.0, nice_top(top), None, false, true)?;
        let mut running = 0.0;
        let mut line = Vec::new();
        for (i, (_, v)) in order.iter().enumerate() {
            let Some(v) = v else { continue };
            let a = chart.backend_coord(&(i as f64 + 0.15, *v));
            let b = chart.backend_coord(&(i as f64 + 0.85, 0.0));
            bar_mark(root, a, b, FILLS[0].0)?;
            running += v;
            if total > 0.0 {
                // The share on the right axis, placed on the left axis' scale.
                let share = running / total;
                let y = chart.backend_coord(&(i as f64 + 0.5, 0.0)).1;
                let y_top = chart.backend_coord(&(i as f64 + 0.5, nice_top(top))).1;
                let py = y - ((y - y_top) as f64 * share).round() as i32;
                line.push((chart.backend_coord(&(i as f64 + 0.5, 0.0)).0, py));
            }
        }
        root.draw(&PathElement::new(line.clone(), BLACK.stroke_width(2)))?;
        for p in line {
            root.draw(&Rectangle::new(
                [(p.0 - 4, p.1 - 4), (p.0 + 4, p.1 + 4)],
                WHITE.filled(),
            ))?;
            root.draw(&Rectangle::new(
                [(p.0 - 4, p.1 - 4), (p.0 + 4, p.1 + 4)],
                BLACK.stroke_width(2),
            ))?;
        }
        Ok(())
    })
}

/// A run chart by month: the values in time order joined by a line with round markers,
/// and the median of all points as a dashed centre line.
pub fn run_chart(
    label: &str,
    months: &[String],
    values: &[Option<f64>],
    unit: Option<&str>,
) -> String {
    let top = values.iter().flatten().fold(0.0_f64, |a, &b| a.max(b));
    let mut known: Vec<f64> = values.iter().flatten().copied().collect();
    known.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let median = match known.len() {
        0 => None,
        n if n % 2 == 1 => Some(known[n / 2]),
        n => Some((known[n / 2 - 1] + known[n / 2]) / 2.0),
    };
    render(label, |root| {
        let chart = frame(root, months, 0.0, nice_top(top), unit, false, false)?;
        if let Some(m) = median {
            let n = months.len() as f64;
            root.draw(&DashedPathElement::new(
                vec![chart.backend_coord(&(0.0, m)), chart.backend_coord(&(n, m))],
                6,
                4,
                RGBColor(90, 90, 90).stroke_width(2),
            ))?;
        }
        // The line breaks where a month has no value.
        let mut run: Vec<(i32, i32)> = Vec::new();
        let mut points = Vec::new();
        for (i, v) in values.iter().enumerate().take(months.len()) {
            match v {
                Some(v) => {
                    let p = chart.backend_coord(&(i as f64 + 0.5, *v));
                    run.push(p);
                    points.push(p);
                }
                None => {
                    if run.len() > 1 {
                        root.draw(&PathElement::new(run.clone(), BLACK.stroke_width(2)))?;
                    }
                    run.clear();
                }
            }
        }
        if run.len() > 1 {
            root.draw(&PathElement::new(run, BLACK.stroke_width(2)))?;
        }
        for p in points {
            root.draw(&Circle::new(p, 4, BLACK.filled()))?;
        }
        Ok(())
    })
}

// ------------------------------------------------------------------ drawing helpers

type Root<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;
type Chart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// Draws into an SVG string and turns it into the accessible, patterned element.
fn render<F>(label: &str, draw: F) -> String
where
    F: for<'a> FnOnce(&Root<'a>) -> Result<(), DrawingAreaErrorKind<std::io::Error>>,
{
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (WIDTH, HEIGHT)).into_drawing_area();
        let drawn = root
            .fill(&WHITE)
            .and_then(|()| draw(&root))
            .and_then(|()| root.present());
        if let Err(e) = drawn {
            tracing::warn!(error = %e, "chart not drawn");
        }
    }
    finish(&buf, label)
}

/// The axes and the category labels under them; the value axis from `bottom` to `top`.
fn frame<'a, 'b>(
    root: &'a Root<'b>,
    categories: &[String],
    bottom: f64,
    top: f64,
    unit: Option<&str>,
    legend: bool,
    share_axis: bool,
) -> Result<Chart<'a, 'b>, DrawingAreaErrorKind<std::io::Error>>
where
    'b: 'a,
{
    let n = categories.len().max(1) as f64;
    let mut builder = ChartBuilder::on(root);
    builder
        .margin_top(if legend { 36 } else { 14 })
        .margin_right(if share_axis { 8 } else { 20 })
        .margin_left(8)
        .x_label_area_size(44)
        .y_label_area_size(56);
    if share_axis {
        builder.right_y_label_area_size(48);
    }
    let mut chart = builder.build_cartesian_2d(0.0..n, bottom..top)?;
    let axis_font = (FONT, 13).into_font().color(&BLACK);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_labels(6)
        .light_line_style(RGBColor(225, 225, 225))
        .bold_line_style(RGBColor(200, 200, 200))
        .axis_style(BLACK.stroke_width(1))
        .y_label_style(axis_font.clone())
        .y_label_formatter(&|v| trim_number(*v))
        .y_desc(unit.unwrap_or(""))
        .axis_desc_style(axis_font.clone())
        .draw()?;
    if share_axis {
        // The right axis of a Pareto chart: 0–100 % of the total, in fifths.
        let (x, y0) = chart.backend_coord(&(n, bottom));
        let y1 = chart.backend_coord(&(n, top)).1;
        root.draw(&PathElement::new(
            vec![(x, y0), (x, y1)],
            BLACK.stroke_width(1),
        ))?;
        let label = (FONT, 13)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Left, VPos::Center));
        for step in 0..=5 {
            let y = y0 - ((y0 - y1) * step) / 5;
            root.draw(&PathElement::new(
                vec![(x, y), (x + 5, y)],
                BLACK.stroke_width(1),
            ))?;
            root.draw(&Text::new(
                format!("{}%", step * 20),
                (x + 8, y),
                label.clone(),
            ))?;
        }
    }
    let style = (FONT, 12)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Center, VPos::Top));
    for (i, c) in categories.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(i as f64 + 0.5, bottom));
        root.draw(&Text::new(short(c), (x, y + 6), style.clone()))?;
    }
    Ok(chart)
}

/// One bar or box: the patterned fill and a black outline.
fn bar_mark(root: &Root<'_>, a: (i32, i32), b: (i32, i32), fill: RGBColor) -> Drawn {
    let (top, bottom) = (a.1.min(b.1), a.1.max(b.1));
    let corners = [(a.0, top), (b.0, bottom.max(top + 1))];
    root.draw(&Rectangle::new(corners, fill.filled()))?;
    root.draw(&Rectangle::new(corners, BLACK.stroke_width(1)))?;
    Ok(())
}

type Drawn = Result<(), DrawingAreaErrorKind<std::io::Error>>;

/// The legend above the plot: a swatch and the series name for each series.
fn draw_legend<'n>(root: &Root<'_>, items: impl Iterator<Item = (&'n str, RGBColor)>) -> Drawn {
    let mut x = 70;
    let style = (FONT, 13)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for (name, fill) in items {
        bar_mark(root, (x, 8), (x + 18, 22), fill)?;
        root.draw(&Text::new(name.to_owned(), (x + 24, 15), style.clone()))?;
        x += 40 + 13 * name.chars().count() as i32;
    }
    Ok(())
}

/// A round upper end for the value axis.
fn nice_top(max: f64) -> f64 {
    if !max.is_finite() || max <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(max.log10().floor());
    for step in [1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0] {
        if max <= step * magnitude {
            return step * magnitude;
        }
    }
    10.0 * magnitude
}

/// An axis number without needless decimals.
fn trim_number(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{:.0}", v)
    } else {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// A category label shortened for the axis.
fn short(label: &str) -> String {
    if label.chars().count() <= LABEL_CHARS {
        label.to_owned()
    } else {
        let mut s: String = label.chars().take(LABEL_CHARS - 1).collect();
        s.push('…');
        s
    }
}

/// XML-escapes an attribute or text value.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The drawn SVG made accessible and printable: `role="img"`, the label as `aria-label`
/// and `<title>`, the fill patterns defined, the placeholder fills swapped for them, and
/// the fixed size turned into a scalable one.
fn finish(svg: &str, label: &str) -> String {
    let label = escape(label);
    let mut out = svg.replacen(
        &format!("<svg width=\"{WIDTH}\" height=\"{HEIGHT}\" "),
        &format!(
            "<svg class=\"chart\" role=\"img\" aria-label=\"{label}\" width=\"100%\" \
             preserveAspectRatio=\"xMidYMid meet\" "
        ),
        1,
    );
    if let Some(end) = out.find('>') {
        out.insert_str(end + 1, &format!("\n<title>{label}</title>{PATTERNS}"));
    }
    for (color, id) in FILLS {
        let placeholder = format!("fill=\"#{:02X}{:02X}{:02X}\"", color.0, color.1, color.2);
        out = out.replace(&placeholder, &format!("fill=\"url(#{id})\""));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(svg: &str) -> roxmltree::Document<'_> {
        roxmltree::Document::parse(svg).expect("the chart is well-formed XML")
    }

    /// The bars and boxes: rectangles filled with one of the chart patterns.
    fn marks(svg: &str) -> usize {
        let doc = parse(svg);
        doc.descendants()
            .filter(|n| n.has_tag_name("rect"))
            .filter(|n| {
                n.attribute("fill")
                    .is_some_and(|f| f.starts_with("url(#rk-"))
                    && n.ancestors().all(|a| !a.has_tag_name("pattern"))
            })
            .count()
    }

    fn root_attr<'a>(doc: &'a roxmltree::Document<'a>, name: &str) -> Option<&'a str> {
        doc.root_element().attribute(name)
    }

    fn labels(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("施設{i}")).collect()
    }

    #[test]
    fn a_bar_chart_draws_one_bar_per_known_value_and_none_for_suppressed_cells() {
        let svg = bar(
            "在院日数",
            &labels(4),
            &[Series {
                name: "中央値".into(),
                values: vec![Some(30.0), None, Some(12.5), Some(0.0)],
            }],
            Some("日"),
        );
        assert_eq!(marks(&svg), 3);
        // One series: no legend swatch.
        assert!(!svg.contains("中央値"));
    }

    #[test]
    fn grouped_bars_tell_series_apart_by_pattern_not_colour() {
        let svg = bar(
            "目標達成",
            &labels(3),
            &[
                Series {
                    name: "達成".into(),
                    values: vec![Some(3.0), Some(4.0), Some(5.0)],
                },
                Series {
                    name: "未達成".into(),
                    values: vec![Some(1.0), Some(2.0), None],
                },
            ],
            None,
        );
        // 5 bars and 2 legend swatches.
        assert_eq!(marks(&svg), 7);
        let doc = parse(&svg);
        let fills: std::collections::BTreeSet<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("rect"))
            .filter_map(|n| n.attribute("fill"))
            .filter(|f| f.starts_with("url("))
            .collect();
        assert!(fills.contains("url(#rk-grey)") && fills.contains("url(#rk-hatch)"));
        assert!(svg.contains("達成") && svg.contains("未達成"));
        // Every pattern it uses is defined.
        for id in ["rk-grey", "rk-hatch"] {
            assert!(
                doc.descendants()
                    .any(|n| n.has_tag_name("pattern") && n.attribute("id") == Some(id))
            );
        }
    }

    #[test]
    fn every_chart_is_an_image_with_a_label_and_a_title() {
        let charts = [
            bar(
                "件数 <A&B>",
                &labels(2),
                &[Series {
                    name: "n".into(),
                    values: vec![Some(1.0), Some(2.0)],
                }],
                None,
            ),
            boxplot(
                "件数 <A&B>",
                &labels(1),
                &[Some([1.0, 2.0, 3.0, 4.0, 5.0])],
                None,
            ),
            pareto("件数 <A&B>", &labels(2), &[Some(1.0), Some(2.0)]),
            run_chart("件数 <A&B>", &labels(2), &[Some(1.0), Some(2.0)], None),
        ];
        for svg in &charts {
            let doc = parse(svg);
            assert_eq!(root_attr(&doc, "role"), Some("img"));
            assert_eq!(root_attr(&doc, "aria-label"), Some("件数 <A&B>"));
            let title = doc
                .root_element()
                .children()
                .find(|n| n.has_tag_name("title"))
                .and_then(|n| n.text());
            assert_eq!(title, Some("件数 <A&B>"));
            assert!(root_attr(&doc, "viewBox").is_some());
        }
    }

    #[test]
    fn no_mark_is_drawn_in_colour() {
        let svg = pareto(
            "要因",
            &labels(5),
            &[Some(9.0), Some(3.0), Some(7.0), None, Some(1.0)],
        );
        let doc = parse(&svg);
        for n in doc.descendants().filter(|n| n.is_element()) {
            for attr in ["fill", "stroke"] {
                let Some(v) = n.attribute(attr) else { continue };
                if let Some(hex) = v.strip_prefix('#') {
                    let (r, g, b) = (&hex[0..2], &hex[2..4], &hex[4..6]);
                    assert!(r == g && g == b, "{attr}={v} is not grey");
                }
            }
        }
    }

    #[test]
    fn a_box_plot_draws_one_box_per_known_distribution() {
        let svg = boxplot(
            "回復期の在院日数",
            &labels(3),
            &[
                Some([10.0, 20.0, 30.0, 40.0, 80.0]),
                None,
                Some([5.0, 6.0, 7.0, 8.0, 9.0]),
            ],
            Some("日"),
        );
        assert_eq!(marks(&svg), 2);
        // Each box: two whisker stems, two caps and the median line.
        let lines = parse(&svg)
            .descendants()
            .filter(|n| n.has_tag_name("polyline"))
            .count();
        assert!(lines >= 10, "{lines} lines");
    }

    #[test]
    fn a_pareto_chart_sorts_bars_by_count_and_ends_its_cumulative_line_at_100_percent() {
        let cats = vec!["A".to_owned(), "B".to_owned(), "C".to_owned()];
        let svg = pareto("要因", &cats, &[Some(2.0), Some(6.0), Some(2.0)]);
        assert_eq!(marks(&svg), 3);
        let doc = parse(&svg);
        // The bars, left to right, are 6, 2, 2: the first is the tallest.
        let mut bars: Vec<(f64, f64)> = doc
            .descendants()
            .filter(|n| n.has_tag_name("rect") && n.attribute("fill") == Some("url(#rk-grey)"))
            .filter(|n| n.ancestors().all(|a| !a.has_tag_name("pattern")))
            .map(|n| {
                let x: f64 = n.attribute("x").and_then(|v| v.parse().ok()).unwrap_or(0.0);
                let h: f64 = n
                    .attribute("height")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0.0);
                (x, h)
            })
            .collect();
        bars.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
        assert!(bars[0].1 > bars[1].1 * 2.5, "{bars:?}");
        // The cumulative markers: one per bar; the last sits at the top of the plot.
        let markers: Vec<f64> = doc
            .descendants()
            .filter(|n| {
                n.has_tag_name("rect")
                    && n.attribute("fill") == Some("none")
                    && n.attribute("width") == Some("8")
            })
            .filter_map(|n| n.attribute("y").and_then(|v| v.parse().ok()))
            .collect();
        assert_eq!(markers.len(), 3);
        assert!(
            markers[0] > markers[1] && markers[1] > markers[2],
            "{markers:?}"
        );
        assert!(svg.contains("100%"));
    }

    #[test]
    fn a_run_chart_marks_each_month_with_a_value_and_draws_the_median_line() {
        let months: Vec<String> = (1..=6).map(|m| format!("2026-{m:02}")).collect();
        let svg = run_chart(
            "開始件数",
            &months,
            &[Some(3.0), Some(5.0), None, Some(4.0), Some(6.0), Some(2.0)],
            None,
        );
        let doc = parse(&svg);
        let points = doc
            .descendants()
            .filter(|n| {
                n.has_tag_name("circle") && n.ancestors().all(|a| !a.has_tag_name("pattern"))
            })
            .count();
        assert_eq!(points, 5);
        // The month labels are under the axis.
        assert!(svg.contains("2026-01") && svg.contains("2026-06"));
        // The gap month breaks the line in two.
        let lines = doc
            .descendants()
            .filter(|n| n.has_tag_name("polyline") && n.attribute("stroke-width") == Some("2"))
            .count();
        assert!(lines >= 2);
    }

    #[test]
    fn an_empty_chart_is_still_a_labelled_image() {
        let svg = bar("なし", &[], &[], None);
        let doc = parse(&svg);
        assert_eq!(root_attr(&doc, "role"), Some("img"));
        assert_eq!(marks(&svg), 0);
    }

    #[test]
    fn axis_tops_are_round() {
        assert_eq!(nice_top(0.0), 1.0);
        assert_eq!(nice_top(7.0), 8.0);
        assert_eq!(nice_top(93.0), 100.0);
        assert_eq!(nice_top(1234.0), 1500.0);
        assert_eq!(short("とても長い施設の名前です"), "とても長い施設…");
    }
}
