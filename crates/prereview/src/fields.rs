//! Fields found without templates. A document states a field as a label and a value: in one
//! line ("名称：上海…"), in the next cell of a table row, in the cell below a label, or wrapped
//! over two lines of one cell. Nothing here knows a layout: candidates come from the geometry of
//! the text boxes around each label, and the form's own value picks among them.
//!
//! The contract the checks keep ("not read" is not "wrong"):
//! - the form's value found on the document → [`FieldReading::Same`];
//! - a value after the field's label, read with confidence, that differs → `Different` (an error:
//!   the document shows something else);
//! - a difference only on doubtful characters, or a near match found without a label →
//!   `Uncertain` (a warning: a human looks);
//! - nothing found → `NotFound` with the region where the label was, if any (a warning).

use crate::findings::Region;
use crate::text::*;

#[derive(Debug, Clone, PartialEq)]
pub enum FieldReading {
    Same { region: Option<Region> },
    Uncertain { found: String, region: Option<Region> },
    Different { found: String, region: Option<Region> },
    NotFound { looked: Option<Region> },
}

/// A value read near a label, with the box it was read in.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub chars: Vec<OcrChar>,
    pub region: Option<Region>,
    /// From the label's own line ("名称：…"), the strongest evidence of what the field says.
    pub same_line: bool,
}

fn center_y(r: &Region) -> f64 {
    f64::from(r.y) + f64::from(r.h) / 2.0
}

fn right(r: &Region) -> f64 {
    f64::from(r.x) + f64::from(r.w)
}

fn bottom(r: &Region) -> f64 {
    f64::from(r.y) + f64::from(r.h)
}

/// True if the text is (starts with) a label of some field: not a value.
fn is_label(chars: &[OcrChar]) -> bool {
    let text = fold_str(&chars.iter().map(|c| c.ch).collect::<String>());
    let text = text.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.' || c == '、');
    text.is_empty() || STOP_LABELS.iter().any(|l| text.starts_with(l))
}

/// Labels spaced out for layout ("名　称") come out of box detection as one box per character.
/// Runs of such short boxes on one row are joined into extra lines, so the label can be found.
fn with_joined_short_boxes(lines: &[OcrLine]) -> Vec<OcrLine> {
    let mut out = lines.to_vec();
    let short = |l: &OcrLine| l.chars.iter().filter(|c| !c.ch.is_whitespace()).count() <= 2 && l.region.is_some();
    let mut i = 0;
    while i < lines.len() {
        let mut j = i;
        while j + 1 < lines.len() && short(&lines[j]) && short(&lines[j + 1]) {
            let (Some(a), Some(b)) = (lines[j].region, lines[j + 1].region) else { break };
            let h = f64::from(a.h.max(b.h).max(1));
            let same_row = (center_y(&a) - center_y(&b)).abs() < 0.5 * h;
            let near = f64::from(b.x) >= f64::from(a.x) && f64::from(b.x) - right(&a) < 3.0 * h;
            if !(same_row && near) {
                break;
            }
            j += 1;
        }
        if j > i {
            let chars = lines[i..=j].iter().flat_map(|l| l.chars.iter().copied()).collect();
            let region = lines[i..=j].iter().filter_map(|l| l.region).reduce(Region::union);
            out.push(OcrLine { chars, region });
        }
        i = j + 1;
    }
    out
}

/// Strips what separates a label from its value.
fn trim_value(mut value: Vec<OcrChar>) -> Vec<OcrChar> {
    while value.first().is_some_and(|c| matches!(c.ch, ':' | '：' | '.' | '-' | '|' | '│' | ' ')) {
        value.remove(0);
    }
    value
}

/// The line below `c` in the same column, if the value seems to wrap into it.
fn continuation<'a>(lines: &'a [OcrLine], c: &Region) -> Option<&'a OcrLine> {
    let h = f64::from(c.h.max(1));
    lines
        .iter()
        .filter(|l| {
            l.region.is_some_and(|d| {
                let left_aligned = (f64::from(d.x) - f64::from(c.x)).abs() < 2.0 * h;
                let below = f64::from(d.y) > f64::from(c.y) + 0.5 * h && f64::from(d.y) - bottom(c) < 1.0 * h;
                left_aligned && below
            })
        })
        .filter(|l| !is_label(&folded(&l.chars)))
        .min_by_key(|l| l.region.map_or(u32::MAX, |d| d.y))
}

/// Every value that may belong to one of `labels`: after the label on its line; the nearest box
/// to its right on the same row; the nearest box below it; each also with the line it wraps into.
pub fn label_candidates(pages: &[PageText], labels: &[&str]) -> (Vec<Candidate>, Option<Region>) {
    let mut out = Vec::new();
    let mut label_region = None;
    for page in pages {
        let lines = with_joined_short_boxes(&page.lines);
        for line in &lines {
            let chars = folded(&line.chars);
            let text: String = chars.iter().map(|c| c.ch).collect();
            let Some(label) = labels.iter().find(|l| text.contains(**l)) else { continue };
            let Some(byte_pos) = text.find(label) else { continue };
            label_region = label_region.or(line.region);
            let start = text[..byte_pos].chars().count() + label.chars().count();
            let mut after = trim_value(chars[start..].to_vec());
            cut_at_next_label(&mut after, label);
            if !after.is_empty() {
                out.push(Candidate { chars: after.clone(), region: line.region, same_line: true });
                if let Some(next) = line.region.and_then(|r| continuation(&lines, &r)) {
                    let mut joined = after;
                    joined.extend(folded(&next.chars));
                    out.push(Candidate { chars: joined, region: line.region, same_line: true });
                }
            }
            let Some(l) = line.region else { continue };
            let h = f64::from(l.h.max(1));
            // Boxes that are not (part of) the label itself.
            let others = page
                .lines
                .iter()
                .filter(|o| {
                    o.region.is_some_and(|r| {
                        !(r.x >= l.x
                            && right(&r) <= right(&l) + 1.0
                            && r.y + 1 >= l.y
                            && bottom(&r) <= bottom(&l) + 1.0)
                    })
                })
                .filter_map(|o| o.region.map(|r| (o, r)));
            // To the right on the same row (a value may sit a little above or below a label
            // that is centred on two wrapped value lines).
            let beside = others
                .clone()
                .filter(|(_, r)| (center_y(r) - center_y(&l)).abs() < 1.2 * h && f64::from(r.x) >= right(&l) - 0.5 * h)
                .filter(|(o, _)| !is_label(&folded(&o.chars)))
                .min_by(|a, b| {
                    let da = f64::from(a.1.x) - right(&l) + (center_y(&a.1) - center_y(&l)).abs();
                    let db = f64::from(b.1.x) - right(&l) + (center_y(&b.1) - center_y(&l)).abs();
                    da.total_cmp(&db)
                });
            // Below the label, overlapping it horizontally.
            let below = others
                .filter(|(_, r)| {
                    f64::from(r.y) > center_y(&l)
                        && f64::from(r.y) - bottom(&l) < 1.5 * h
                        && f64::from(r.x) < right(&l)
                        && right(r) > f64::from(l.x)
                })
                .filter(|(o, _)| !is_label(&folded(&o.chars)))
                .min_by_key(|(_, r)| r.y);
            for (o, r) in beside.into_iter().chain(below) {
                let mut value = trim_value(folded(&o.chars));
                cut_at_next_label(&mut value, label);
                if value.is_empty() {
                    continue;
                }
                out.push(Candidate { chars: value.clone(), region: Some(r), same_line: false });
                // Wrapped: the next line of the same cell, or (a value centred beside its label
                // over two lines) the line just above or below.
                for next in page.lines.iter().filter(|n| !std::ptr::eq(*n, o) && !std::ptr::eq(*n, line)) {
                    let Some(nr) = next.region else { continue };
                    let aligned = (f64::from(nr.x) - f64::from(r.x)).abs() < 2.0 * f64::from(r.h.max(1));
                    let adjacent = (center_y(&nr) - center_y(&r)).abs() < 1.6 * f64::from(r.h.max(1));
                    if aligned && adjacent && !is_label(&folded(&next.chars)) {
                        let (first, second) = if nr.y < r.y { (next, o) } else { (o, next) };
                        let mut joined = trim_value(folded(&first.chars));
                        joined.extend(folded(&second.chars));
                        cut_at_next_label(&mut joined, label);
                        out.push(Candidate { chars: joined, region: Some(r.union(nr)), same_line: false });
                    }
                }
            }
        }
    }
    (out, label_region)
}

/// Reads one field against the form's `expected` value; `normalise` maps a candidate into the
/// field's own alphabet (e.g. O→0 in a number).
pub fn read_field(
    pages: &[PageText],
    labels: &[&str],
    expected: &str,
    normalise: &dyn Fn(Vec<OcrChar>) -> Vec<OcrChar>,
) -> FieldReading {
    let expected = fold_str(expected);
    let n = expected.chars().count().max(1);
    let (candidates, label_region) = label_candidates(pages, labels);
    // The candidate in which the form's value aligns best.
    let scored: Vec<(usize, Vec<OcrChar>, &Candidate)> = candidates
        .iter()
        .filter_map(|c| {
            let chars = normalise(c.chars.clone());
            let (cost, slice) = find_in_line(&expected, &chars)?;
            // A slice that is mostly wrong is not the value; compare the whole cell instead.
            let compared = if cost * 3 <= n { slice.to_vec() } else { chars.clone() };
            Some((cost, compared, c))
        })
        .collect();
    if let Some((_, _, c)) = scored.iter().find(|(cost, _, _)| *cost == 0) {
        return FieldReading::Same { region: c.region };
    }
    // Anywhere on the pages, label or not.
    let anywhere = find_text(&expected, pages);
    if let Some((Comparison::Same, region)) = &anywhere {
        return FieldReading::Same { region: *region };
    }
    let best = scored.into_iter().min_by_key(|(cost, chars, c)| (*cost, !c.same_line, chars.len()));
    if let Some((_, chars, c)) = best {
        let confident = mean_confidence(&chars) >= SURE && chars.len() >= 2;
        return match compare(&expected, &chars) {
            Comparison::Same => FieldReading::Same { region: c.region },
            Comparison::Different { found } if confident => FieldReading::Different { found, region: c.region },
            Comparison::Different { found } | Comparison::Uncertain { found } => {
                FieldReading::Uncertain { found, region: c.region }
            }
        };
    }
    match anywhere {
        // Near the form's value but with no label to say it is this field: a human looks.
        Some((Comparison::Uncertain { found } | Comparison::Different { found }, region)) => {
            FieldReading::Uncertain { found, region }
        }
        _ => FieldReading::NotFound { looked: label_region.or_else(|| text_area(pages)) },
    }
}

/// Where text was read on the first page: the region a "not found" points at when no label was.
pub fn text_area(pages: &[PageText]) -> Option<Region> {
    let page = pages.iter().find(|p| !p.lines.is_empty())?;
    page.lines.iter().filter_map(|l| l.region).reduce(Region::union)
}

/// The text of each page as one string, lines joined: for values that wrap over lines
/// ("22:00—" / "次日4:00").
pub fn page_texts(pages: &[PageText]) -> Vec<(String, Option<Region>)> {
    pages
        .iter()
        .map(|p| {
            let text: String = p.lines.iter().map(|l| fold_str(&l.text())).collect();
            (text, p.lines.iter().filter_map(|l| l.region).reduce(Region::union))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(text: &str, x: u32, y: u32, w: u32, conf: f32) -> OcrLine {
        OcrLine::with_conf(text, conf, Some(Region { page: 1, x, y, w, h: 40 }))
    }

    fn pages(lines: Vec<OcrLine>) -> Vec<PageText> {
        vec![PageText { page: 1, lines }]
    }

    fn same(v: Vec<OcrChar>) -> Vec<OcrChar> {
        v
    }

    #[test]
    fn a_label_in_its_own_cell_finds_the_value_to_its_right() {
        // PP-OCR reads "名 称" as two boxes and the value as a third.
        let p = pages(vec![
            boxed("名", 189, 558, 39, 100.0),
            boxed("称", 279, 557, 45, 100.0),
            boxed("上海恒筑建设工程有限公司", 415, 550, 380, 95.0),
            boxed("注册资本", 1254, 553, 143, 100.0),
        ]);
        let r = read_field(&p, &["名称"], "上海恒筑建设工程有限公司", &same);
        assert!(matches!(r, FieldReading::Same { .. }), "{r:?}");
        let r = read_field(&p, &["名称"], "上海恒筑建设工程有限責司", &same);
        assert!(matches!(r, FieldReading::Uncertain { .. } | FieldReading::Different { .. }), "{r:?}");
    }

    #[test]
    fn a_confident_other_value_is_different_and_a_missing_one_not_found() {
        let p = pages(vec![
            boxed("工程名称", 216, 373, 127, 100.0),
            boxed("徐汇区滨江西岸传媒港项目", 441, 376, 436, 99.0),
        ]);
        let r = read_field(&p, &["工程名称"], "静安区苏河湾商业综合体项目", &same);
        assert!(matches!(r, FieldReading::Different { .. }), "{r:?}");
        // The same other value read with doubt is only uncertain.
        let p2 = pages(vec![
            boxed("工程名称", 216, 373, 127, 100.0),
            boxed("徐汇区滨江西岸传媒港项目", 441, 376, 436, 40.0),
        ]);
        assert!(matches!(
            read_field(&p2, &["工程名称"], "静安区苏河湾商业综合体项目", &same),
            FieldReading::Uncertain { .. }
        ));
        // No label, no value: not found, pointing at the label if there was one.
        let p3 = pages(vec![boxed("工程名称", 216, 373, 127, 100.0)]);
        assert_eq!(
            read_field(&p3, &["工程名称"], "静安区苏河湾商业综合体项目", &same),
            FieldReading::NotFound { looked: Some(Region { page: 1, x: 216, y: 373, w: 127, h: 40 }) }
        );
        assert!(matches!(
            read_field(&pages(vec![]), &["工程名称"], "静安区", &same),
            FieldReading::NotFound { looked: None }
        ));
    }

    #[test]
    fn values_wrapped_over_two_lines_are_joined() {
        // 建设单位 centred beside a value that wraps: "…有限公" above the label's centre, "司" below.
        let p = pages(vec![
            boxed("上海莘庄城市建设发展有限公", 1120, 544, 377, 100.0),
            boxed("施工许可证编号", 171, 564, 210, 100.0),
            boxed("建设单位", 909, 563, 126, 100.0),
            boxed("司", 1114, 587, 37, 100.0),
        ]);
        let r = read_field(&p, &["建设单位"], "上海莘庄城市建设发展有限公司", &same);
        assert!(matches!(r, FieldReading::Same { .. }), "{r:?}");
    }

    #[test]
    fn a_value_on_the_labels_line_or_below_it() {
        let p = pages(vec![OcrLine::certain("名称：上海某建设发展有限公司", None)]);
        assert!(matches!(read_field(&p, &["名称"], "上海某建设发展有限公司", &same), FieldReading::Same { .. }));
        let p = pages(vec![
            boxed("统一社会信用代码", 170, 318, 253, 100.0),
            boxed("91310106MAUKDCNP4F", 172, 371, 329, 100.0),
        ]);
        let (c, _) = label_candidates(&p, &["统一社会信用代码"]);
        assert!(c.iter().any(|c| c.chars.iter().map(|x| x.ch).collect::<String>() == "91310106MAUKDCNP4F"), "{c:?}");
    }
}
