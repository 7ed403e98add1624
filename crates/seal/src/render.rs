//! The permit as an A4 Chinese PDF: selectable text in a subset of a CJK font from Debian
//! (fonts-wqy-zenhei or Noto CJK), the conditions, a QR code to the verification page, and each
//! department's red seal drawn as vectors. Written directly (a dozen objects), with a classic
//! xref table so signatures can be appended as incremental updates.

use crate::SealError;
use std::collections::BTreeMap;
use std::fmt::Write as _;

const FONT_CANDIDATES: &[(&str, u32)] = &[
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

struct Font {
    data: Vec<u8>,
    index: u32,
    remapper: subsetter::GlyphRemapper,
    /// new gid -> (char, width in 1/1000 em)
    used: BTreeMap<u16, (char, u32)>,
}

impl Font {
    fn load() -> Result<Self, SealError> {
        for (path, index) in FONT_CANDIDATES {
            if let Ok(data) = std::fs::read(path) {
                if ttf_parser::Face::parse(&data, *index).is_ok() {
                    return Ok(Font {
                        data,
                        index: *index,
                        remapper: subsetter::GlyphRemapper::new(),
                        used: BTreeMap::new(),
                    });
                }
            }
        }
        Err(SealError::Render("no CJK font (fix: apt-get install fonts-wqy-zenhei, or run make deps)".into()))
    }

    /// Hex string of the subset glyph ids for `text`, registering the glyphs.
    fn encode(&mut self, text: &str) -> Result<String, SealError> {
        let face = ttf_parser::Face::parse(&self.data, self.index).map_err(|e| SealError::Render(e.to_string()))?;
        let upem = u32::from(face.units_per_em().max(1));
        let mut hex = String::new();
        for ch in text.chars() {
            let gid = face.glyph_index(ch).or_else(|| face.glyph_index('□')).map(|g| g.0).unwrap_or(0);
            let width = face.glyph_hor_advance(ttf_parser::GlyphId(gid)).map(u32::from).unwrap_or(upem) * 1000 / upem;
            let new = self.remapper.remap(gid);
            self.used.insert(new, (ch, width));
            let _ = write!(hex, "{new:04X}");
        }
        Ok(hex)
    }

    fn width(&mut self, text: &str, size: f32) -> f32 {
        let Ok(face) = ttf_parser::Face::parse(&self.data, self.index) else { return 0.0 };
        let upem = f32::from(face.units_per_em().max(1));
        text.chars()
            .map(|c| {
                face.glyph_index(c).and_then(|g| face.glyph_hor_advance(g)).map(f32::from).unwrap_or(upem) / upem * size
            })
            .sum()
    }
}

/// Page content in PDF operators; coordinates in points from the bottom-left.
struct Canvas {
    ops: String,
    font: Font,
}

impl Canvas {
    fn text(&mut self, x: f32, y: f32, size: f32, rgb: (f32, f32, f32), text: &str) -> Result<(), SealError> {
        let hex = self.font.encode(text)?;
        let _ = writeln!(
            self.ops,
            "BT /F1 {size:.1} Tf {:.3} {:.3} {:.3} rg 1 0 0 1 {x:.2} {y:.2} Tm <{hex}> Tj ET",
            rgb.0, rgb.1, rgb.2
        );
        Ok(())
    }

    fn centred(&mut self, y: f32, size: f32, text: &str) -> Result<(), SealError> {
        let w = self.font.width(text, size);
        self.text((595.0 - w) / 2.0, y, size, (0.0, 0.0, 0.0), text)
    }

    /// Text rotated by `angle` radians about its start point.
    fn text_rotated(
        &mut self,
        x: f32,
        y: f32,
        size: f32,
        angle: f32,
        rgb: (f32, f32, f32),
        text: &str,
    ) -> Result<(), SealError> {
        let hex = self.font.encode(text)?;
        let (s, c) = angle.sin_cos();
        let _ = writeln!(
            self.ops,
            "BT /F1 {size:.1} Tf {:.3} {:.3} {:.3} rg {c:.4} {s:.4} {:.4} {c:.4} {x:.2} {y:.2} Tm <{hex}> Tj ET",
            rgb.0, rgb.1, rgb.2, -s
        );
        Ok(())
    }

    fn line(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, width: f32) {
        let _ = writeln!(self.ops, "0 0 0 RG {width:.2} w {x1:.2} {y1:.2} m {x2:.2} {y2:.2} l S");
    }

    /// A red seal: double ring, five-point star, the authority's name along the upper arc and
    /// the seal's purpose below the star.
    fn seal(&mut self, cx: f32, cy: f32, r: f32, authority: &str) -> Result<(), SealError> {
        let red = (0.84, 0.12, 0.14);
        let k = 0.5523 * r;
        let circle = |r: f32, k: f32| {
            format!(
                "{:.2} {cy:.2} m {:.2} {:.2} {:.2} {:.2} {cx:.2} {:.2} c {:.2} {:.2} {:.2} {:.2} {:.2} {cy:.2} c {:.2} {:.2} {:.2} {:.2} {cx:.2} {:.2} c {:.2} {:.2} {:.2} {:.2} {:.2} {cy:.2} c S",
                cx + r, cx + r, cy + k, cx + k, cy + r, cy + r,
                cx - k, cy + r, cx - r, cy + k, cx - r,
                cx - r, cy - k, cx - k, cy - r, cy - r,
                cx + k, cy - r, cx + r, cy - k, cx + r
            )
        };
        let _ = writeln!(self.ops, "q {:.3} {:.3} {:.3} RG 2.2 w {}", red.0, red.1, red.2, circle(r, k));
        let _ = writeln!(self.ops, "0.6 w {} Q", circle(r - 4.0, 0.5523 * (r - 4.0)));
        let mut star = String::new();
        for i in 0..10 {
            let a = std::f32::consts::FRAC_PI_2 + std::f32::consts::PI * i as f32 / 5.0;
            let rr = if i % 2 == 0 { r * 0.3 } else { r * 0.12 };
            let _ =
                write!(star, "{:.2} {:.2} {} ", cx + rr * a.cos(), cy + rr * a.sin(), if i == 0 { "m" } else { "l" });
        }
        let _ = writeln!(self.ops, "q {:.3} {:.3} {:.3} rg {star}h f Q", red.0, red.1, red.2);
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
            self.text_rotated(x, y, size, rot, red, &ch.to_string())?;
        }
        let label = "夜间施工审批专用章";
        let ls = r * 0.14;
        let w = self.font.width(label, ls);
        self.text(cx - w / 2.0, cy - r * 0.55, ls, red, label)
    }

    fn qr(&mut self, x: f32, y: f32, size: f32, data: &str) -> Result<(), SealError> {
        let code = qrcode::QrCode::new(data.as_bytes()).map_err(|e| SealError::Render(e.to_string()))?;
        let n = code.width();
        let cell = size / n as f32;
        let colors = code.to_colors();
        let _ = write!(self.ops, "q 0 0 0 rg ");
        for (i, c) in colors.iter().enumerate() {
            if *c == qrcode::Color::Dark {
                let (col, row) = (i % n, i / n);
                let _ = write!(
                    self.ops,
                    "{:.2} {:.2} {:.2} {:.2} re ",
                    x + col as f32 * cell,
                    y + size - (row + 1) as f32 * cell,
                    cell + 0.05,
                    cell + 0.05
                );
            }
        }
        let _ = writeln!(self.ops, "f Q");
        Ok(())
    }
}

/// Wraps text to lines of at most `max` points at `size`.
fn wrap(font: &mut Font, text: &str, size: f32, max: f32) -> Vec<String> {
    let mut lines = vec![String::new()];
    for ch in text.chars() {
        let mut candidate = lines.last().cloned().unwrap_or_default();
        candidate.push(ch);
        if font.width(&candidate, size) > max && !candidate.is_empty() {
            lines.push(ch.to_string());
        } else if let Some(last) = lines.last_mut() {
            *last = candidate;
        }
    }
    lines
}

fn utf16_hex(s: &str) -> String {
    let mut hex = String::from("FEFF");
    for u in s.encode_utf16() {
        let _ = write!(hex, "{u:04X}");
    }
    hex
}

fn deflate(data: &[u8]) -> Result<Vec<u8>, SealError> {
    use std::io::Write;
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).map_err(|e| SealError::Render(e.to_string()))?;
    e.finish().map_err(|e| SealError::Render(e.to_string()))
}

/// Renders the unsigned permit PDF.
pub fn render_permit(c: &PermitContent) -> Result<Vec<u8>, SealError> {
    let mut cv = Canvas { ops: String::new(), font: Font::load()? };
    let black = (0.0, 0.0, 0.0);
    cv.centred(780.0, 22.0, "建筑工地夜间施工作业许可证")?;
    cv.centred(756.0, 11.0, &format!("（{}“一件事一次办”联合审批）", c.district_name))?;
    cv.text(60.0, 728.0, 10.5, black, &format!("许可证编号：{}", c.number))?;
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
        cv.text(60.0, y, 11.0, black, label)?;
        let lines = wrap(&mut cv.font, &value, 11.0, 340.0);
        for (i, line) in lines.iter().enumerate() {
            cv.text(190.0, y - 15.0 * i as f32, 11.0, black, line)?;
        }
        y -= 15.0 * lines.len().max(1) as f32 + 6.0;
    }
    cv.line(60.0, y + 4.0, 535.0, y + 4.0, 0.5);
    y -= 14.0;
    cv.text(60.0, y, 12.0, black, "许可条件")?;
    y -= 18.0;
    let mut conditions = vec![
        "一、施工场界噪声排放执行《建筑施工场界环境噪声排放标准》（GB 12523-2011）：夜间不得超过55 dB(A)，夜间最大声级不得超过70 dB(A)。".to_string(),
        format!("二、落实申报的噪声污染防治措施：{}。", c.measures.join("；")),
        "三、施工前须在工地显著位置公示本许可证，并告知周边居民。".to_string(),
        "四、仅限许可日期及时段内作业；超出范围或发生噪声扰民投诉的，将依法查处并影响企业信用等级。".to_string(),
    ];
    conditions.push("五、本许可证经两部门电子印章签署，扫描二维码或访问下方地址可核验真伪及当前状态。".into());
    for cond in &conditions {
        for line in wrap(&mut cv.font, cond, 10.0, 470.0) {
            cv.text(66.0, y, 10.0, black, &line)?;
            y -= 14.0;
        }
        y -= 3.0;
    }
    cv.qr(60.0, 90.0, 84.0, &c.verify_url)?;
    cv.text(60.0, 76.0, 8.0, black, &format!("核验：{}", c.verify_url))?;
    cv.text(330.0, 62.0, 10.5, black, &format!("发证日期：{}", c.issued_on))?;
    cv.seal(300.0, 150.0, 52.0, &c.authorities[0])?;
    cv.seal(450.0, 150.0, 52.0, &c.authorities[1])?;
    cv.text(250.0, 84.0, 9.0, black, &c.authorities[0])?;
    cv.text(400.0, 84.0, 9.0, black, &c.authorities[1])?;
    let info = format!(
        "/Title <{}> /Subject <{}> /PermitNumber ({}) /Producer (nightpermit) /Creator (nightpermit)",
        utf16_hex(&format!("夜间施工许可证 {}", c.number)),
        utf16_hex(&c.project_name),
        c.number.replace(['(', ')', '\\'], "")
    );
    write_pdf(cv, &info)
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
    let mut cv = Canvas { ops: String::new(), font: Font::load()? };
    let black = (0.0, 0.0, 0.0);
    let red = (0.75, 0.1, 0.1);
    cv.centred(770.0, 34.0, "夜间施工公示")?;
    cv.centred(738.0, 12.0, &format!("{}夜间施工作业许可证 {}", n.district_name, n.number))?;
    cv.line(50.0, 726.0, 545.0, 726.0, 1.2);
    let mut y = 696.0;
    for line in wrap(&mut cv.font, &n.project_name, 18.0, 495.0) {
        cv.text(50.0, y, 18.0, black, &line)?;
        y -= 24.0;
    }
    for line in wrap(&mut cv.font, &n.address, 12.0, 495.0) {
        cv.text(50.0, y, 12.0, black, &line)?;
        y -= 17.0;
    }
    y -= 14.0;
    cv.text(50.0, y, 13.0, black, "许可施工夜")?;
    y -= 28.0;
    cv.text(50.0, y, 22.0, red, &format!("{} 至 {}（共 {} 晚）", n.start_date, n.end_date, n.nights))?;
    y -= 34.0;
    cv.text(50.0, y, 13.0, black, "每晚作业时段")?;
    y -= 28.0;
    cv.text(50.0, y, 22.0, red, &format!("{} 至次日 {}", n.nightly_start, n.nightly_end))?;
    y -= 34.0;
    let rows: Vec<(&str, String)> = vec![
        ("施工工艺", n.process.clone()),
        ("施工单位", n.firm_name.clone()),
        ("现场联系人", format!("{}  {}", n.contact_name, n.contact_phone)),
        ("降噪措施", n.measures.join("；")),
    ];
    for (label, value) in rows {
        cv.text(50.0, y, 12.0, black, label)?;
        let lines = wrap(&mut cv.font, &value, 12.0, 380.0);
        for (i, line) in lines.iter().enumerate() {
            cv.text(140.0, y - 17.0 * i as f32, 12.0, black, line)?;
        }
        y -= 17.0 * lines.len().max(1) as f32 + 8.0;
    }
    cv.line(50.0, y + 4.0, 545.0, y + 4.0, 0.5);
    y -= 16.0;
    for line in wrap(
        &mut cv.font,
        "夜间施工场界噪声不得超过55 dB(A)，最大声级不得超过70 dB(A)。超出许可日期、时段施工或噪声扰民的，请扫描二维码查看许可证并在线投诉，或拨打12345市民服务热线。",
        11.0,
        495.0,
    ) {
        cv.text(50.0, y, 11.0, black, &line)?;
        y -= 16.0;
    }
    cv.qr(50.0, 100.0, 150.0, &n.public_url)?;
    cv.text(50.0, 86.0, 9.0, black, &format!("许可证公示：{}", n.public_url))?;
    cv.text(50.0, 72.0, 9.0, black, &format!("在线投诉：{}", n.complaint_url))?;
    cv.text(230.0, 220.0, 12.0, black, "扫码查看许可证状态、施工夜及监督检查结果")?;
    cv.text(230.0, 190.0, 11.0, black, &format!("审批部门：{}", n.authorities[0]))?;
    cv.text(230.0, 172.0, 11.0, black, &format!("　　　　　{}", n.authorities[1]))?;
    let info = format!(
        "/Title <{}> /Subject <{}> /Producer (nightpermit) /Creator (nightpermit)",
        utf16_hex(&format!("夜间施工公示 {}", n.number)),
        utf16_hex(&n.project_name)
    );
    write_pdf(cv, &info)
}

/// The one-page PDF of what was drawn: the font subset embedded, text selectable (ToUnicode),
/// a classic xref table; `info` is the Info dictionary's body.
fn write_pdf(cv: Canvas, info: &str) -> Result<Vec<u8>, SealError> {
    let Canvas { ops, font } = cv;
    let subset = subsetter::subset(&font.data, font.index, &font.remapper)
        .map_err(|e| SealError::Render(format!("font subset: {e:?}")))?;
    let mut widths = String::new();
    let mut cmap = String::new();
    for (gid, (ch, w)) in &font.used {
        let _ = write!(widths, "{gid} [{w}] ");
        let mut utf16 = [0u16; 2];
        let units: String = ch.encode_utf16(&mut utf16).iter().map(|u| format!("{u:04X}")).collect();
        let _ = writeln!(cmap, "<{gid:04X}> <{units}>");
    }
    let to_unicode = format!(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n{} beginbfchar\n{cmap}endbfchar\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n",
        font.used.len()
    );
    let content = deflate(ops.as_bytes())?;
    let font_file = deflate(&subset)?;
    let cmap_data = deflate(to_unicode.as_bytes())?;
    let base_font = "NPSUBS+WenQuanYiZenHei";
    let stream = |dict: String, data: &[u8]| -> Vec<u8> {
        let mut v = format!("<< {dict} /Length {} >>\nstream\n", data.len()).into_bytes();
        v.extend_from_slice(data);
        v.extend_from_slice(b"\nendstream");
        v
    };
    let objects: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Count 1 /Kids [3 0 R] >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R /Annots [] >>".to_vec(),
        stream("/Filter /FlateDecode".into(), &content),
        format!("<< /Type /Font /Subtype /Type0 /BaseFont /{base_font} /Encoding /Identity-H /DescendantFonts [6 0 R] /ToUnicode 9 0 R >>").into_bytes(),
        format!("<< /Type /Font /Subtype /CIDFontType2 /BaseFont /{base_font} /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /FontDescriptor 7 0 R /CIDToGIDMap /Identity /DW 1000 /W [{widths}] >>").into_bytes(),
        format!("<< /Type /FontDescriptor /FontName /{base_font} /Flags 4 /FontBBox [-150 -250 1100 950] /ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 700 /StemV 80 /FontFile2 8 0 R >>").into_bytes(),
        stream("/Filter /FlateDecode".into(), &font_file),
        stream("/Filter /FlateDecode".into(), &cmap_data),
        format!("<< {info} >>").into_bytes(),
    ];
    let mut out = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, obj) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(obj);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    let id = hex::encode(rand::random::<[u8; 16]>());
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R /Info {} 0 R /ID [<{id}> <{id}>] >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1,
            objects.len()
        )
        .as_bytes(),
    );
    Ok(out)
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
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.contains("/Count 1") && text.contains(&utf16_hex("夜间施工公示 jingan-2026-00001")));
    }
}
