//! Charts drawn on the server as SVG, so they show without JavaScript and print with the page:
//! grouped bars over labelled columns (months), with a scale, gridlines and a legend.

use std::fmt::Write;

/// One series of a chart: its name, its colour, a value per label.
pub struct Series<'a> {
    pub name: &'a str,
    pub color: &'a str,
    pub values: Vec<f64>,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A round step for about five gridlines up to `max`.
fn step(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(10.0 * mag)
}

/// The step for counted things (children, schools): whole numbers, never 0.2 of a school.
fn whole_step(max: f64) -> f64 {
    let s = step(max).max(1.0);
    if s.fract() == 0.0 && s != 2.5 { s } else { s.ceil() }
}

/// Figures as people read them on an axis: 12000 → 1.2万.
fn short(v: f64) -> String {
    if v.abs() >= 10_000.0 {
        let w = v / 10_000.0;
        if w.fract() == 0.0 { format!("{w:.0}万") } else { format!("{w:.1}万") }
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// Grouped bars: one group per label, one bar per series. `id` names the chart for tests and
/// styling; every bar carries its exact value in a tooltip (`<title>`).
pub fn bars(id: &str, title: &str, unit: &str, labels: &[String], series: &[Series]) -> String {
    let (w, h) = (720.0_f64, 260.0_f64);
    let (left, right, top, bottom) = (56.0, 12.0, 34.0, 48.0);
    let plot_w = w - left - right;
    let plot_h = h - top - bottom;
    let max = series.iter().flat_map(|s| s.values.iter().copied()).fold(0.0, f64::max);
    let whole = series.iter().flat_map(|s| s.values.iter()).all(|v| v.fract() == 0.0);
    let step = if whole { whole_step(max) } else { step(max) };
    let top_value = (max / step).ceil().max(1.0) * step;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{id}" viewBox="0 0 {w} {h}" role="img" aria-label="{t}">"#,
        id = escape(id),
        t = escape(title)
    );
    let _ = write!(svg, r#"<text x="{left}" y="18" class="chart-title" font-size="14">{}</text>"#, escape(title));
    let _ = write!(
        svg,
        r##"<text x="{}" y="18" font-size="11" text-anchor="end" fill="#555">单位：{}</text>"##,
        w - right,
        escape(unit)
    );
    // Gridlines and the scale.
    let mut g = 0.0;
    while g <= top_value + step / 2.0 {
        let y = top + plot_h - g / top_value * plot_h;
        let _ = write!(
            svg,
            r##"<line x1="{left}" y1="{y:.1}" x2="{x2}" y2="{y:.1}" stroke="#ddd"/><text x="{tx}" y="{ty:.1}" font-size="10" text-anchor="end" fill="#555">{v}</text>"##,
            x2 = w - right,
            tx = left - 4.0,
            ty = y + 3.5,
            v = short(g)
        );
        g += step;
    }
    let groups = labels.len().max(1) as f64;
    let group_w = plot_w / groups;
    let bar_w = (group_w * 0.8 / series.len().max(1) as f64).min(28.0);
    for (i, label) in labels.iter().enumerate() {
        let gx = left + group_w * i as f64;
        let start = gx + (group_w - bar_w * series.len() as f64) / 2.0;
        for (k, s) in series.iter().enumerate() {
            let v = s.values.get(i).copied().unwrap_or(0.0);
            let bh = if top_value > 0.0 { v / top_value * plot_h } else { 0.0 };
            let _ = write!(
                svg,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{bar_w:.1}" height="{bh:.1}" fill="{c}" data-series="{n}" data-label="{l}" data-value="{v}"><title>{n} {l}：{v}</title></rect>"#,
                x = start + bar_w * k as f64,
                y = top + plot_h - bh,
                c = escape(s.color),
                n = escape(s.name),
                l = escape(label),
            );
        }
        let _ = write!(
            svg,
            r##"<text x="{x:.1}" y="{y}" font-size="10" text-anchor="middle" fill="#333">{l}</text>"##,
            x = gx + group_w / 2.0,
            y = top + plot_h + 14.0,
            l = escape(label)
        );
    }
    let _ = write!(
        svg,
        r##"<line x1="{left}" y1="{y}" x2="{x2}" y2="{y}" stroke="#888"/>"##,
        y = top + plot_h,
        x2 = w - right
    );
    // Legend.
    let mut lx = left;
    for s in series {
        let _ = write!(
            svg,
            r##"<rect x="{lx}" y="{y}" width="10" height="10" fill="{c}"/><text x="{tx}" y="{ty}" font-size="11" fill="#333">{n}</text>"##,
            y = h - 16.0,
            c = escape(s.color),
            tx = lx + 14.0,
            ty = h - 7.0,
            n = escape(s.name)
        );
        lx += 28.0 + 12.0 * s.name.chars().count() as f64;
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_steps_are_round() {
        assert_eq!(step(0.0), 1.0);
        assert_eq!(step(7.0), 2.0);
        assert_eq!(step(1_000.0), 200.0);
        assert_eq!(step(12_345.0), 2_500.0);
        assert_eq!(short(25_000.0), "2.5万");
        assert_eq!(short(40_000.0), "4万");
        assert_eq!(short(800.0), "800");
    }

    #[test]
    fn counted_things_step_in_whole_numbers() {
        assert_eq!(whole_step(1.0), 1.0);
        assert_eq!(whole_step(0.0), 1.0);
        assert_eq!(whole_step(12.0), 3.0);
        assert_eq!(whole_step(7.0), 2.0);
        assert_eq!(whole_step(1_000.0), 200.0);
    }

    #[test]
    fn bars_are_as_tall_as_their_values_and_text_is_escaped() {
        let labels = vec!["9月".to_owned(), "10月".to_owned()];
        let svg = bars(
            "c",
            "受益 <学生>",
            "人",
            &labels,
            &[Series { name: "受益人数", color: "#2b6cb0", values: vec![100.0, 50.0] }],
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("受益 &lt;学生&gt;") && !svg.contains("<学生>"));
        let heights: Vec<f64> = svg
            .split("<rect x=")
            .filter(|p| p.contains("data-series"))
            .filter_map(|p| p.split("height=\"").nth(1)?.split('"').next()?.parse().ok())
            .collect();
        assert_eq!(heights.len(), 2);
        assert!((heights[0] - 2.0 * heights[1]).abs() < 0.2, "{heights:?}");
        assert!(svg.contains(r#"data-label="10月" data-value="50""#));
    }
}
