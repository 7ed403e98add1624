//! The permit as an A4 Chinese PDF: selectable text in a subset of a CJK font from Debian
//! (fonts-wqy-zenhei or Noto CJK), the conditions, a QR code to the verification page, and each
//! department's red seal drawn as vectors. Drawn with printpdf, which subsets the font and writes
//! a classic xref table, the shape `sign.rs` appends its incremental updates to.

use crate::SealError;
use printpdf::{
    Color, CurTransMat, FontId, Line, LinePoint, Op, PaintMode, ParsedFont, PdfDocument, PdfFontHandle, PdfPage,
    PdfParseErrorSeverity, PdfSaveOptions, Point, Polygon, PolygonRing, Pt, Rect, Rgb, TextItem, TextMatrix,
    WindingOrder,
};
use std::sync::OnceLock;

const FONT_CANDIDATES: &[(&str, usize)] = &[
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
];

/// What a permit says.
#[derive(Debug, Clone)]
pub struct PermitContent {
    pub number: String,
    pub district_name: String,
    pub firm_name: String,
    pub credit_code: String,
    pub project_name: String,
    pub address: String,
    pub construction_permit_no: String,
    pub builder: String,
    pub start_date: String,
    pub end_date: String,
    pub nights: i64,
    pub nightly_start: String,
    pub nightly_end: String,
    pub process: String,
    pub equipment: Vec<String>,
    pub measures: Vec<String>,
    pub issued_on: String,
    pub verify_url: String,
    /// Construction committee, then environment bureau.
    pub authorities: [String; 2],
}

impl PermitContent {
    /// A worked example (the API.md sample case) for tests, benchmarks and documentation.
    pub fn example() -> Self {
        PermitContent {
            number: "jingan-2026-00001".into(),
            district_name: "静安区".into(),
            firm_name: "上海某建设发展有限公司".into(),
            credit_code: "91310106MA1FL0D44W".into(),
            project_name: "静安区某商业综合体项目".into(),
            address: "上海市静安区某路100号".into(),
            construction_permit_no: "310106202012150101".into(),
            builder: "上海某置业有限公司".into(),
            start_date: "2026-12-01".into(),
            end_date: "2026-12-03".into(),
            nights: 3,
            nightly_start: "22:00".into(),
            nightly_end: "04:00".into(),
            process: "混凝土连续浇筑".into(),
            equipment: vec!["混凝土泵车×2（85 dB(A)）".into()],
            measures: vec!["设置移动式隔声屏障".into(), "禁止鸣笛".into()],
            issued_on: "2026-11-28".into(),
            verify_url: "http://127.0.0.1:8080/api/v1/permits/jingan-2026-00001".into(),
            authorities: ["静安区建设管理委员会".into(), "静安区生态环境局".into()],
        }
    }
}

/// The CJK face, parsed once per process: the font files are several megabytes and do not change
/// while the service runs, and every permit and notice draws with the same face.
static FONT: OnceLock<ParsedFont> = OnceLock::new();

fn font() -> Result<&'static ParsedFont, SealError> {
    if let Some(face) = FONT.get() {
        return Ok(face);
    }
    for (path, index) in FONT_CANDIDATES {
        let Ok(data) = std::fs::read(path) else { continue };
        let mut warnings = Vec::new();
        if let Some(face) = ParsedFont::from_bytes(&data, *index, &mut warnings) {
            return Ok(FONT.get_or_init(|| face));
        }
    }
    Err(SealError::Render("no CJK font (fix: apt-get install fonts-wqy-zenhei, or run make deps)".into()))
}

/// A4 in points, as the permit has always been laid out.
const PAGE: (f32, f32) = (595.0, 842.0);

fn rgb((r, g, b): (f32, f32, f32)) -> Color {
    Color::Rgb(Rgb::new(r, g, b, None))
}

fn point(x: f32, y: f32) -> LinePoint {
    LinePoint { p: Point { x: Pt(x), y: Pt(y) }, bezier: false }
}

fn control(x: f32, y: f32) -> LinePoint {
    LinePoint { p: Point { x: Pt(x), y: Pt(y) }, bezier: true }
}

/// One page being drawn with the CJK face; coordinates in points from the bottom-left.
struct Canvas {
    doc: PdfDocument,
    font: &'static ParsedFont,
    font_id: FontId,
    ops: Vec<Op>,
}

impl Canvas {
    fn new(title: &str, subject: &str) -> Result<Self, SealError> {
        let font = font()?;
        let mut doc = PdfDocument::new(title);
        let info = &mut doc.metadata.info;
        info.subject = subject.to_string();
        info.creator = "nightpermit".into();
        info.producer = "nightpermit".into();
        let now = printpdf::OffsetDateTime::from_unix_timestamp(chrono::Utc::now().timestamp())
            .map_err(|e| SealError::Render(e.to_string()))?;
        (info.creation_date, info.modification_date, info.metadata_date) = (now, now, now);
        let font_id = doc.add_font(font);
        Ok(Canvas { doc, font, font_id, ops: Vec::new() })
    }

    /// The character drawn for `ch`: itself, or a white square where the face has no glyph, so
    /// the gap shows on paper instead of vanishing.
    fn drawable(&self, ch: char) -> char {
        match self.font.lookup_glyph_index(u32::from(ch)) {
            Some(gid) if gid != 0 => ch,
            _ => '□',
        }
    }

    fn width(&self, text: &str, size: f32) -> f32 {
        let upem = f32::from(self.font.font_metrics.units_per_em.max(1));
        text.chars()
            .map(|c| {
                let gid = self.font.lookup_glyph_index(u32::from(self.drawable(c))).unwrap_or(0);
                f32::from(self.font.get_horizontal_advance(gid)) / upem * size
            })
            .sum()
    }

    fn text(&mut self, x: f32, y: f32, size: f32, color: (f32, f32, f32), text: &str) {
        self.show(TextMatrix::Translate(Pt(x), Pt(y)), size, color, text);
    }

    fn centred(&mut self, y: f32, size: f32, text: &str) {
        let w = self.width(text, size);
        self.text((PAGE.0 - w) / 2.0, y, size, (0.0, 0.0, 0.0), text);
    }

    /// Text rotated by `angle` radians about its start point.
    fn text_rotated(&mut self, x: f32, y: f32, size: f32, angle: f32, color: (f32, f32, f32), text: &str) {
        let (s, c) = angle.sin_cos();
        self.show(TextMatrix::Raw([c, s, -s, c, x, y]), size, color, text);
    }

    fn show(&mut self, matrix: TextMatrix, size: f32, color: (f32, f32, f32), text: &str) {
        let shown: String = text.chars().map(|c| self.drawable(c)).collect();
        self.ops.extend([
            Op::StartTextSection,
            Op::SetFont { font: PdfFontHandle::External(self.font_id.clone()), size: Pt(size) },
            Op::SetFillColor { col: rgb(color) },
            Op::SetTextMatrix { matrix },
            Op::ShowText { items: vec![TextItem::Text(shown)] },
            Op::EndTextSection,
        ]);
    }

    fn line(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, width: f32) {
        self.ops.extend([
            Op::SetOutlineColor { col: rgb((0.0, 0.0, 0.0)) },
            Op::SetOutlineThickness { pt: Pt(width) },
            Op::DrawLine { line: Line { points: vec![point(x1, y1), point(x2, y2)], is_closed: false } },
        ]);
    }

    /// A circle as four Bézier quarter arcs.
    fn circle(cx: f32, cy: f32, r: f32) -> PolygonRing {
        let k = 0.5523 * r;
        PolygonRing {
            points: vec![
                point(cx + r, cy),
                control(cx + r, cy + k),
                control(cx + k, cy + r),
                point(cx, cy + r),
                control(cx - k, cy + r),
                control(cx - r, cy + k),
                point(cx - r, cy),
                control(cx - r, cy - k),
                control(cx - k, cy - r),
                point(cx, cy - r),
                control(cx + k, cy - r),
                control(cx + r, cy - k),
                point(cx + r, cy),
            ],
        }
    }

    /// A red seal: double ring, five-point star, the authority's name along the upper arc and
    /// the seal's purpose below the star.
    fn seal(&mut self, cx: f32, cy: f32, r: f32, authority: &str) {
        let red = (0.84, 0.12, 0.14);
        let ring = |r: f32| Polygon {
            rings: vec![Self::circle(cx, cy, r)],
            mode: PaintMode::Stroke,
            winding_order: WindingOrder::NonZero,
        };
        let star = (0..10)
            .map(|i| {
                let a = std::f32::consts::FRAC_PI_2 + std::f32::consts::PI * i as f32 / 5.0;
                let rr = if i % 2 == 0 { r * 0.3 } else { r * 0.12 };
                point(cx + rr * a.cos(), cy + rr * a.sin())
            })
            .collect();
        self.ops.extend([
            Op::SaveGraphicsState,
            Op::SetOutlineColor { col: rgb(red) },
            Op::SetOutlineThickness { pt: Pt(2.2) },
            Op::DrawPolygon { polygon: ring(r) },
            Op::SetOutlineThickness { pt: Pt(0.6) },
            Op::DrawPolygon { polygon: ring(r - 4.0) },
            Op::SetFillColor { col: rgb(red) },
            Op::DrawPolygon {
                polygon: Polygon {
                    rings: vec![PolygonRing { points: star }],
                    mode: PaintMode::Fill,
                    winding_order: WindingOrder::NonZero,
                },
            },
            Op::RestoreGraphicsState,
        ]);
        let chars: Vec<char> = authority.chars().collect();
        let n = chars.len().max(1) as f32;
        let size = (r * 0.95 * std::f32::consts::PI / n).min(r * 0.26);
        // From the left (210°) over the top to the right (-30°), letters upright to the centre.
        for (i, ch) in chars.iter().enumerate() {
            let t = (i as f32 + 0.5) / n;
            let a = (210.0 - 240.0 * t).to_radians();
            let rr = r * 0.72;
            let rot = a - std::f32::consts::FRAC_PI_2;
            let (x, y) = (cx + rr * a.cos() - size / 2.0 * rot.cos(), cy + rr * a.sin() - size / 2.0 * rot.sin());
            self.text_rotated(x, y, size, rot, red, &ch.to_string());
        }
        let label = "夜间施工审批专用章";
        let ls = r * 0.14;
        let w = self.width(label, ls);
        self.text(cx - w / 2.0, cy - r * 0.55, ls, red, label);
    }

    /// The QR code, drawn in module units (one unit a module, scaled into place) so that each
    /// run of dark modules in a row is one rectangle with whole-number corners.
    fn qr(&mut self, x: f32, y: f32, size: f32, data: &str) -> Result<(), SealError> {
        let code = qrcode::QrCode::new(data.as_bytes()).map_err(|e| SealError::Render(e.to_string()))?;
        let n = code.width();
        let cell = size / n as f32;
        // Each run overlaps its neighbours by 0.05 pt so that no hairline shows between them.
        let overlap = 0.05 / cell;
        let colors = code.to_colors();
        let mut ops = vec![
            Op::SaveGraphicsState,
            Op::SetTransformationMatrix { matrix: CurTransMat::Raw([cell, 0.0, 0.0, cell, x, y]) },
            Op::SetFillColor { col: rgb((0.0, 0.0, 0.0)) },
        ];
        for (row, modules) in colors.chunks(n).enumerate() {
            let bottom = (n - 1 - row) as f32;
            let mut col = 0;
            while col < n {
                let run = modules[col..].iter().take_while(|c| **c == qrcode::Color::Dark).count();
                if run == 0 {
                    col += 1;
                    continue;
                }
                ops.push(Op::DrawRectangle {
                    rectangle: Rect {
                        x: Pt(col as f32),
                        y: Pt(bottom),
                        width: Pt(run as f32 + overlap),
                        height: Pt(1.0 + overlap),
                        mode: Some(PaintMode::Fill),
                        winding_order: None,
                    },
                });
                col += run;
            }
        }
        ops.push(Op::RestoreGraphicsState);
        self.ops.extend(ops);
        Ok(())
    }

    /// Wraps text to lines of at most `max` points at `size`.
    fn wrap(&self, text: &str, size: f32, max: f32) -> Vec<String> {
        let mut lines = vec![String::new()];
        for ch in text.chars() {
            let mut candidate = lines.last().cloned().unwrap_or_default();
            candidate.push(ch);
            if self.width(&candidate, size) > max && !candidate.is_empty() {
                lines.push(ch.to_string());
            } else if let Some(last) = lines.last_mut() {
                *last = candidate;
            }
        }
        lines
    }

    /// The one-page PDF of what was drawn: the font subset embedded, text selectable (ToUnicode),
    /// a classic xref table. `permit_number`, when given, goes into the Info dictionary as
    /// /PermitNumber, where `verify.rs` reads it back.
    fn finish(self, permit_number: Option<&str>) -> Result<Vec<u8>, SealError> {
        let Canvas { mut doc, ops, .. } = self;
        let (w, h) = (Pt(PAGE.0), Pt(PAGE.1));
        doc.pages.push(PdfPage {
            media_box: Rect::from_wh(w, h),
            trim_box: Rect::from_wh(w, h),
            crop_box: Rect::from_wh(w, h),
            ops,
        });
        let opts = PdfSaveOptions { subset_fonts: true, ..PdfSaveOptions::default() };
        let mut warnings = Vec::new();
        let mut pdf = doc.to_lopdf_document(&opts, &mut warnings);
        // printpdf falls back to embedding the whole face when subsetting fails; that would
        // make a permit of many megabytes, so any error it reports fails the rendering instead.
        if let Some(e) = warnings.iter().find(|w| w.severity == PdfParseErrorSeverity::Error) {
            return Err(SealError::Render(e.msg.clone()));
        }
        // The signatures are PDF 2.0 / PAdES (ETSI.CAdES.detached); announce at least 1.7
        // rather than printpdf's 1.3.
        pdf.version = "1.7".into();
        let info = pdf
            .trailer
            .get(b"Info")
            .and_then(lopdf_printpdf::Object::as_reference)
            .map_err(|e| SealError::Render(e.to_string()))?;
        let info = pdf.get_dictionary_mut(info).map_err(|e| SealError::Render(e.to_string()))?;
        // printpdf writes every field of its metadata; the empty ones (author, keywords, a
        // PDF/X version) would only claim something about a document that has none.
        let empty: Vec<Vec<u8>> = info
            .iter()
            .filter(|(_, v)| matches!(v, lopdf_printpdf::Object::String(s, _) if s.is_empty()))
            .map(|(k, _)| k.clone())
            .collect();
        for key in empty {
            info.remove(&key);
        }
        if let Some(number) = permit_number {
            info.set("PermitNumber", lopdf_printpdf::Object::string_literal(number));
        }
        pdf.compress();
        let mut out = Vec::new();
        pdf.save_to(&mut out).map_err(|e| SealError::Render(e.to_string()))?;
        Ok(out)
    }
}

/// Renders the unsigned permit PDF.
pub fn render_permit(c: &PermitContent) -> Result<Vec<u8>, SealError> {
    let mut cv = Canvas::new(&format!("夜间施工许可证 {}", c.number), &c.project_name)?;
    let black = (0.0, 0.0, 0.0);
    cv.centred(780.0, 22.0, "建筑工地夜间施工作业许可证");
    cv.centred(756.0, 11.0, &format!("（{}“一件事一次办”联合审批）", c.district_name));
    cv.text(60.0, 728.0, 10.5, black, &format!("许可证编号：{}", c.number));
    cv.line(60.0, 720.0, 535.0, 720.0, 0.8);
    let rows: Vec<(&str, String)> = vec![
        ("施工单位", c.firm_name.clone()),
        ("统一社会信用代码", c.credit_code.clone()),
        ("工程名称", c.project_name.clone()),
        ("工程地址", c.address.clone()),
        ("施工许可证编号", c.construction_permit_no.clone()),
        ("建设单位", c.builder.clone()),
        ("许可夜间施工日期", format!("{} 至 {}（共{}晚）", c.start_date, c.end_date, c.nights)),
        ("每晚作业时段", format!("{} 至次日 {}", c.nightly_start, c.nightly_end)),
        ("施工工艺", c.process.clone()),
        ("主要设备", c.equipment.join("；")),
    ];
    let mut y = 700.0;
    for (label, value) in rows {
        cv.text(60.0, y, 11.0, black, label);
        let lines = cv.wrap(&value, 11.0, 340.0);
        for (i, line) in lines.iter().enumerate() {
            cv.text(190.0, y - 15.0 * i as f32, 11.0, black, line);
        }
        y -= 15.0 * lines.len().max(1) as f32 + 6.0;
    }
    cv.line(60.0, y + 4.0, 535.0, y + 4.0, 0.5);
    y -= 14.0;
    cv.text(60.0, y, 12.0, black, "许可条件");
    y -= 18.0;
    let mut conditions = vec![
        "一、施工场界噪声排放执行《建筑施工场界环境噪声排放标准》（GB 12523-2011）：夜间不得超过55 dB(A)，夜间最大声级不得超过70 dB(A)。".to_string(),
        format!("二、落实申报的噪声污染防治措施：{}。", c.measures.join("；")),
        "三、施工前须在工地显著位置公示本许可证，并告知周边居民。".to_string(),
        "四、仅限许可日期及时段内作业；超出范围或发生噪声扰民投诉的，将依法查处并影响企业信用等级。".to_string(),
    ];
    conditions.push("五、本许可证经两部门电子印章签署，扫描二维码或访问下方地址可核验真伪及当前状态。".into());
    for cond in &conditions {
        for line in cv.wrap(cond, 10.0, 470.0) {
            cv.text(66.0, y, 10.0, black, &line);
            y -= 14.0;
        }
        y -= 3.0;
    }
    cv.qr(60.0, 90.0, 84.0, &c.verify_url)?;
    cv.text(60.0, 76.0, 8.0, black, &format!("核验：{}", c.verify_url));
    cv.text(330.0, 62.0, 10.5, black, &format!("发证日期：{}", c.issued_on));
    cv.seal(300.0, 150.0, 52.0, &c.authorities[0]);
    cv.seal(450.0, 150.0, 52.0, &c.authorities[1]);
    cv.text(250.0, 84.0, 9.0, black, &c.authorities[0]);
    cv.text(400.0, 84.0, 9.0, black, &c.authorities[1]);
    cv.finish(Some(&c.number))
}

/// What the site notice (夜间施工公示) posted at the site gate says: the permit's nights and
/// hours, who works there and whom to call, and a QR code to the public permit page.
#[derive(Debug, Clone)]
pub struct SiteNotice {
    pub number: String,
    pub district_name: String,
    pub project_name: String,
    pub address: String,
    pub firm_name: String,
    pub start_date: String,
    pub end_date: String,
    pub nights: i64,
    pub nightly_start: String,
    pub nightly_end: String,
    pub process: String,
    pub measures: Vec<String>,
    pub contact_name: String,
    pub contact_phone: String,
    /// The public permit page, `{public_base_url}/p/{number}`.
    pub public_url: String,
    /// Where residents complain, `{public_base_url}/complaints/new?permit={number}`.
    pub complaint_url: String,
    /// Construction committee, then environment bureau.
    pub authorities: [String; 2],
}

/// Renders the printable A4 site notice (no signature: the permit itself is the signed document;
/// the QR code leads to its public page, where its status is always current).
pub fn render_site_notice(n: &SiteNotice) -> Result<Vec<u8>, SealError> {
    let mut cv = Canvas::new(&format!("夜间施工公示 {}", n.number), &n.project_name)?;
    let black = (0.0, 0.0, 0.0);
    let red = (0.75, 0.1, 0.1);
    cv.centred(770.0, 34.0, "夜间施工公示");
    cv.centred(738.0, 12.0, &format!("{}夜间施工作业许可证 {}", n.district_name, n.number));
    cv.line(50.0, 726.0, 545.0, 726.0, 1.2);
    let mut y = 696.0;
    for line in cv.wrap(&n.project_name, 18.0, 495.0) {
        cv.text(50.0, y, 18.0, black, &line);
        y -= 24.0;
    }
    for line in cv.wrap(&n.address, 12.0, 495.0) {
        cv.text(50.0, y, 12.0, black, &line);
        y -= 17.0;
    }
    y -= 14.0;
    cv.text(50.0, y, 13.0, black, "许可施工夜");
    y -= 28.0;
    cv.text(50.0, y, 22.0, red, &format!("{} 至 {}（共 {} 晚）", n.start_date, n.end_date, n.nights));
    y -= 34.0;
    cv.text(50.0, y, 13.0, black, "每晚作业时段");
    y -= 28.0;
    cv.text(50.0, y, 22.0, red, &format!("{} 至次日 {}", n.nightly_start, n.nightly_end));
    y -= 34.0;
    let rows: Vec<(&str, String)> = vec![
        ("施工工艺", n.process.clone()),
        ("施工单位", n.firm_name.clone()),
        ("现场联系人", format!("{}  {}", n.contact_name, n.contact_phone)),
        ("降噪措施", n.measures.join("；")),
    ];
    for (label, value) in rows {
        cv.text(50.0, y, 12.0, black, label);
        let lines = cv.wrap(&value, 12.0, 380.0);
        for (i, line) in lines.iter().enumerate() {
            cv.text(140.0, y - 17.0 * i as f32, 12.0, black, line);
        }
        y -= 17.0 * lines.len().max(1) as f32 + 8.0;
    }
    cv.line(50.0, y + 4.0, 545.0, y + 4.0, 0.5);
    y -= 16.0;
    for line in cv.wrap(
        "夜间施工场界噪声不得超过55 dB(A)，最大声级不得超过70 dB(A)。超出许可日期、时段施工或噪声扰民的，请扫描二维码查看许可证并在线投诉，或拨打12345市民服务热线。",
        11.0,
        495.0,
    ) {
        cv.text(50.0, y, 11.0, black, &line);
        y -= 16.0;
    }
    cv.qr(50.0, 100.0, 150.0, &n.public_url)?;
    cv.text(50.0, 86.0, 9.0, black, &format!("许可证公示：{}", n.public_url));
    cv.text(50.0, 72.0, 9.0, black, &format!("在线投诉：{}", n.complaint_url));
    cv.text(230.0, 220.0, 12.0, black, "扫码查看许可证状态、施工夜及监督检查结果");
    cv.text(230.0, 190.0, 11.0, black, &format!("审批部门：{}", n.authorities[0]));
    cv.text(230.0, 172.0, 11.0, black, &format!("　　　　　{}", n.authorities[1]));
    cv.finish(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_site_notice_is_a_one_page_pdf_with_its_title() {
        let c = PermitContent::example();
        let n = SiteNotice {
            number: c.number.clone(),
            district_name: c.district_name,
            project_name: c.project_name,
            address: c.address,
            firm_name: c.firm_name,
            start_date: c.start_date,
            end_date: c.end_date,
            nights: c.nights,
            nightly_start: c.nightly_start,
            nightly_end: c.nightly_end,
            process: c.process,
            measures: c.measures,
            contact_name: "张三".into(),
            contact_phone: "13800000000".into(),
            public_url: format!("http://127.0.0.1:8080/p/{}", c.number),
            complaint_url: format!("http://127.0.0.1:8080/complaints/new?permit={}", c.number),
            authorities: c.authorities,
        };
        let pdf = render_site_notice(&n).expect("render");
        assert!(pdf.starts_with(b"%PDF-1.7"));
        let doc = lopdf::Document::load_mem(&pdf).expect("parse");
        assert_eq!(doc.get_pages().len(), 1);
        let info = doc.trailer.get(b"Info").and_then(lopdf::Object::as_reference).expect("info");
        let title = doc.get_dictionary(info).and_then(|d| d.get(b"Title")).and_then(lopdf::decode_text_string);
        assert_eq!(title.expect("title"), "夜间施工公示 jingan-2026-00001");
        // A classic xref table: sign.rs appends its incremental updates after it.
        assert!(pdf.windows(5).any(|w| w == b"xref\n") && !pdf.windows(8).any(|w| w == b"/XRefStm"));
        assert!(pdf.len() < 100_000, "font subset keeps the notice small: {} bytes", pdf.len());
    }

    #[test]
    fn the_permit_carries_its_number_and_extractable_chinese_text() {
        let pdf = render_permit(&PermitContent::example()).expect("render");
        let doc = lopdf::Document::load_mem(&pdf).expect("parse");
        let info = doc.trailer.get(b"Info").and_then(lopdf::Object::as_reference).expect("info");
        let number = doc.get_dictionary(info).and_then(|d| d.get(b"PermitNumber")).and_then(lopdf::Object::as_str);
        assert_eq!(number.expect("number"), b"jingan-2026-00001");
        let text = doc.extract_text(&[1]).expect("text");
        assert!(text.contains("建筑工地夜间施工作业许可证"), "{text}");
    }
}
