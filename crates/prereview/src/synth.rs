//! Synthetic materials for tests and benchmarks: realistic A4 documents rendered with Debian's
//! CJK fonts, red seals stamped over text like real ink, clean and degraded variants, single-
//! and multi-page PDFs — each with its ground truth. Deterministic for a given seed.

use ab_glyph::{FontVec, PxScale};
use chrono::{NaiveDate, NaiveTime};
use image::{Rgb, RgbImage};
use imageproc::drawing::{
    draw_filled_rect_mut, draw_hollow_circle_mut, draw_hollow_rect_mut, draw_polygon_mut, draw_text_mut,
};
use imageproc::point::Point;
use imageproc::rect::Rect;
use nightpermit_domain::MaterialKind;
use rand::{Rng, SeedableRng};

const FONT_PATHS: &[(&str, u32)] = &[
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2),
];

/// Loads a CJK font from Debian's packages (fonts-wqy-zenhei or fonts-noto-cjk).
pub fn font(variant: usize) -> Result<FontVec, String> {
    let available: Vec<&(&str, u32)> = FONT_PATHS.iter().filter(|(p, _)| std::path::Path::new(p).exists()).collect();
    let (path, index) = available
        .get(variant % available.len().max(1))
        .ok_or("no CJK font found (fix: apt-get install fonts-wqy-zenhei fonts-noto-cjk)")?;
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    FontVec::try_from_vec_and_index(bytes, *index).map_err(|e| format!("{path}: {e}"))
}

/// What the documents of one application say.
#[derive(Debug, Clone)]
pub struct SynthCase {
    pub firm_name: String,
    pub credit_code: String,
    pub project_name: String,
    pub address: String,
    pub permit_no: String,
    pub builder: String,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub nightly_start: NaiveTime,
    pub nightly_end: NaiveTime,
    /// End of the business licence's validity; `None` is 长期.
    pub license_until: Option<NaiveDate>,
}

pub fn cn_date(d: NaiveDate) -> String {
    d.format("%Y年%-m月%-d日").to_string()
}

/// A document to draw: its lines and whether (and over which line) a seal is stamped.
#[derive(Debug, Clone)]
pub struct Doc {
    pub title: String,
    pub lines: Vec<String>,
    pub seal_over_line: Option<usize>,
    pub drawing: bool,
}

pub fn document(kind: MaterialKind, c: &SynthCase) -> Doc {
    let range = format!("{}至{}", cn_date(c.start_date), cn_date(c.end_date));
    let (title, lines, seal): (&str, Vec<String>, Option<usize>) = match kind {
        MaterialKind::BusinessLicense => (
            "营业执照",
            vec![
                format!("统一社会信用代码 {}", c.credit_code),
                format!("名称 {}", c.firm_name),
                "类型 有限责任公司".into(),
                "法定代表人 王建国".into(),
                "注册资本 人民币伍仟万元整".into(),
                "成立日期 2010年01月08日".into(),
                format!("营业期限 2010年01月08日至{}", c.license_until.map(cn_date).unwrap_or_else(|| "长期".into())),
                "住所 上海市静安区共和新路100号".into(),
                "登记机关 上海市市场监督管理局".into(),
            ],
            Some(8),
        ),
        MaterialKind::ConstructionPermit => (
            "建筑工程施工许可证",
            vec![
                format!("编号 {}", c.permit_no),
                format!("建设单位 {}", c.builder),
                format!("工程名称 {}", c.project_name),
                format!("建设地址 {}", c.address),
                "建设规模 85000平方米".into(),
                "合同工期 720天".into(),
                format!("施工单位 {}", c.firm_name),
                "发证机关 上海市静安区建设管理委员会".into(),
            ],
            Some(7),
        ),
        MaterialKind::ProcessCertificate => (
            "特殊工艺夜间施工证明",
            vec![
                format!("工程名称：{}", c.project_name),
                format!("施工单位：{}", c.firm_name),
                "经核查，该工程底板大体积混凝土浇筑".into(),
                "工艺要求必须连续施工，不宜中断。".into(),
                format!("施工日期：{range}"),
                "上海市静安区建设工程质量监督站".into(),
            ],
            Some(5),
        ),
        MaterialKind::NoisePlan => (
            "夜间施工噪声污染防治措施",
            vec![
                format!("项目名称：{}", c.project_name),
                "一、设置移动式隔声屏障".into(),
                "二、混凝土泵车加装隔声罩".into(),
                "三、禁止鸣笛，文明施工".into(),
                "四、场界噪声实时监测".into(),
                c.firm_name.clone(),
            ],
            Some(5),
        ),
        MaterialKind::ResidentNotice => (
            "致周边居民的告知书",
            vec![
                "尊敬的周边居民：".into(),
                format!("我司承建的{}", c.project_name),
                "因工艺要求需夜间连续施工。".into(),
                format!("施工日期：{range}"),
                format!("每晚{}至次日{}", c.nightly_start.format("%H:%M"), c.nightly_end.format("%H:%M")),
                "由此带来不便，敬请谅解。".into(),
                c.firm_name.clone(),
            ],
            Some(6),
        ),
        MaterialKind::SitePlan => ("施工现场平面布置图", vec![format!("工程名称：{}", c.project_name)], None),
        MaterialKind::Schedule => (
            "施工进度计划",
            vec![
                format!("工程名称：{}", c.project_name),
                "工序 计划开始 计划完成".into(),
                format!("底板浇筑 {}", range),
            ],
            None,
        ),
    };
    Doc { title: title.into(), lines, seal_over_line: seal, drawing: kind == MaterialKind::SitePlan }
}

fn ink_blend(img: &mut RgbImage, x: i32, y: i32, color: Rgb<u8>) {
    if x < 0 || y < 0 || x >= img.width() as i32 || y >= img.height() as i32 {
        return;
    }
    // Ink multiplies: red over black stays black, red over paper turns red.
    let p = img.get_pixel_mut(x as u32, y as u32);
    for i in 0..3 {
        p.0[i] = p.0[i].min(color.0[i]);
    }
}

/// Stamps a round red seal centred at (cx, cy): a double ring, a star and the issuer's name.
fn stamp_seal(img: &mut RgbImage, cx: i32, cy: i32, radius: i32, font: &FontVec, text: &str) {
    let red = Rgb([214, 30, 36]);
    let mut seal = RgbImage::from_pixel(img.width(), img.height(), Rgb([255, 255, 255]));
    // The ring is about 1 mm wide, whatever the resolution.
    let ring = (radius / 20).max(3);
    for r in (radius - ring)..=radius {
        draw_hollow_circle_mut(&mut seal, (cx, cy), r, red);
    }
    let star: Vec<Point<i32>> = (0..10)
        .map(|i| {
            let angle = std::f64::consts::PI * (f64::from(i) / 5.0) - std::f64::consts::FRAC_PI_2;
            let rr = if i % 2 == 0 { f64::from(radius) * 0.32 } else { f64::from(radius) * 0.13 };
            Point::new(cx + (rr * angle.cos()) as i32, cy + (rr * angle.sin()) as i32)
        })
        .collect();
    draw_polygon_mut(&mut seal, &star, red);
    let chars: Vec<char> = text.chars().collect();
    let n = chars.len().max(1) as f64;
    let size = (f64::from(radius) * 0.28) as f32;
    for (i, ch) in chars.iter().enumerate() {
        let angle = std::f64::consts::PI * (1.15 + 0.7 * (i as f64 + 0.5) / n * 1.0) + std::f64::consts::PI * 0.0;
        let angle = angle - std::f64::consts::PI * 0.35 + std::f64::consts::PI * 0.7 * 0.0;
        let rr = f64::from(radius) * 0.68;
        let (x, y) = (
            cx + (rr * angle.cos()) as i32 - (size / 2.0) as i32,
            cy + (rr * angle.sin()) as i32 - (size / 2.0) as i32,
        );
        draw_text_mut(&mut seal, red, x, y, PxScale::from(size), font, &ch.to_string());
    }
    for (x, y, p) in seal.enumerate_pixels() {
        if p.0 != [255, 255, 255] {
            ink_blend(img, x as i32, y as i32, *p);
        }
    }
}

/// Draws a document as an A4 page at `dpi`.
pub fn render(doc: &Doc, dpi: u32, font: &FontVec) -> RgbImage {
    let (w, h) = (dpi * 827 / 100, dpi * 1169 / 100);
    let mut img = RgbImage::from_pixel(w, h, Rgb([252, 252, 250]));
    let black = Rgb([20, 20, 20]);
    let px = |pt: f32| pt / 72.0 * dpi as f32;
    let title_size = px(22.0);
    let text_size = px(13.0);
    let margin = (dpi as f32 * 1.0) as i32;
    let title_w = (doc.title.chars().count() as f32 * title_size) as i32;
    draw_text_mut(&mut img, black, (w as i32 - title_w) / 2, margin, PxScale::from(title_size), font, &doc.title);
    let mut y = margin + (title_size * 2.2) as i32;
    let line_h = (text_size * 2.0) as i32;
    let mut seal_at = None;
    for (i, line) in doc.lines.iter().enumerate() {
        draw_text_mut(&mut img, black, margin, y, PxScale::from(text_size), font, line);
        if doc.seal_over_line == Some(i) {
            let line_w = (line.chars().count() as f32 * text_size) as i32;
            seal_at = Some((margin + line_w * 2 / 3, y + line_h / 3));
        }
        y += line_h;
    }
    if doc.drawing {
        let black = Rgb([40, 40, 40]);
        let top = y + line_h;
        draw_hollow_rect_mut(&mut img, Rect::at(margin, top).of_size(w - 2 * margin as u32, h / 2), black);
        draw_filled_rect_mut(&mut img, Rect::at(margin + 80, top + 120).of_size(w / 3, h / 6), Rgb([200, 200, 200]));
        draw_hollow_circle_mut(&mut img, (margin + w as i32 / 2, top + h as i32 / 4), (dpi / 2) as i32, black);
        draw_text_mut(
            &mut img,
            black,
            margin + w as i32 / 2 - 40,
            top + h as i32 / 4,
            PxScale::from(text_size),
            font,
            "塔吊",
        );
        draw_text_mut(&mut img, black, margin + 40, top + h as i32 / 2 - 60, PxScale::from(text_size), font, "出入口");
        draw_text_mut(&mut img, black, w as i32 - margin - 200, top + 40, PxScale::from(text_size), font, "围挡");
    }
    if let Some((cx, cy)) = seal_at {
        stamp_seal(&mut img, cx, cy, (dpi as f32 * 0.8) as i32, font, "专用章");
    }
    img
}

/// Ways a scan or photo can come out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Variant {
    Clean,
    /// A slight skew, in degrees.
    Skewed(f32),
    /// Scanned on its side.
    Sideways,
    UpsideDown,
    Noisy,
    /// A phone photo: skew, uneven light, noise, mild blur.
    Photo,
    /// Useless: blurred beyond reading.
    Blurred,
    /// Useless: far too small.
    Tiny,
}

pub fn degrade(img: &RgbImage, v: Variant, seed: u64) -> RgbImage {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let white = Rgb([250, 250, 250]);
    let rot = |img: &RgbImage, deg: f32| {
        imageproc::geometric_transformations::rotate_about_center(
            img,
            deg.to_radians(),
            imageproc::geometric_transformations::Interpolation::Bilinear,
            white,
        )
    };
    let noise = |img: &mut RgbImage, rng: &mut rand::rngs::StdRng, amount: i32| {
        for p in img.pixels_mut() {
            let n = rng.gen_range(-amount..=amount);
            for c in p.0.iter_mut() {
                *c = (i32::from(*c) + n).clamp(0, 255) as u8;
            }
        }
    };
    match v {
        Variant::Clean => img.clone(),
        Variant::Skewed(deg) => rot(img, deg),
        Variant::Sideways => image::imageops::rotate90(img),
        Variant::UpsideDown => image::imageops::rotate180(img),
        Variant::Noisy => {
            let mut out = img.clone();
            noise(&mut out, &mut rng, 25);
            out
        }
        Variant::Photo => {
            let mut out = rot(img, rng.gen_range(-1.5..1.5));
            let (w, h) = out.dimensions();
            for (x, y, p) in out.enumerate_pixels_mut() {
                // Light falls off towards one corner, as under a desk lamp.
                let shade = 1.0 - 0.25 * (f64::from(x) / f64::from(w) * 0.5 + f64::from(y) / f64::from(h) * 0.5);
                for c in p.0.iter_mut() {
                    *c = (f64::from(*c) * shade) as u8;
                }
            }
            noise(&mut out, &mut rng, 12);
            image::imageops::blur(&out, 0.8)
        }
        Variant::Blurred => image::imageops::blur(img, 9.0),
        Variant::Tiny => {
            image::imageops::resize(img, img.width() / 4, img.height() / 4, image::imageops::FilterType::Triangle)
        }
    }
}

pub fn png(img: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png);
    out
}

pub fn jpeg(img: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality).encode_image(img);
    out
}

/// An image-only PDF (like a scanner makes): each page a JPEG at `dpi`.
pub fn pdf(pages: &[RgbImage], dpi: u32) -> Vec<u8> {
    let mut objects: Vec<Vec<u8>> = Vec::new();
    let n = pages.len();
    // 1: catalog, 2: pages, then per page: page, image, content.
    let kids: Vec<String> = (0..n).map(|i| format!("{} 0 R", 3 + i * 3)).collect();
    objects.push(b"<< /Type /Catalog /Pages 2 0 R >>".to_vec());
    objects.push(format!("<< /Type /Pages /Count {n} /Kids [{}] >>", kids.join(" ")).into_bytes());
    for (i, img) in pages.iter().enumerate() {
        let (page_id, image_id, content_id) = (3 + i * 3, 4 + i * 3, 5 + i * 3);
        let _ = page_id;
        let (wpt, hpt) = (img.width() as f32 * 72.0 / dpi as f32, img.height() as f32 * 72.0 / dpi as f32);
        objects.push(
            format!("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {wpt:.2} {hpt:.2}] /Resources << /XObject << /Im0 {image_id} 0 R >> >> /Contents {content_id} 0 R >>")
                .into_bytes(),
        );
        let data = jpeg(img, 85);
        let mut image_obj = format!(
            "<< /Type /XObject /Subtype /Image /Width {} /Height {} /ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /DCTDecode /Length {} >>\nstream\n",
            img.width(),
            img.height(),
            data.len()
        )
        .into_bytes();
        image_obj.extend_from_slice(&data);
        image_obj.extend_from_slice(b"\nendstream");
        objects.push(image_obj);
        let content = format!("q {wpt:.2} 0 0 {hpt:.2} 0 0 cm /Im0 Do Q");
        objects.push(format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()).into_bytes());
    }
    pdf_from_objects(&objects)
}

/// A PDF of these object bodies (object 1 must be the catalog) with a correct cross-reference
/// table, so parsers reach every object.
pub fn pdf_from_objects(objects: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
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
    out.extend_from_slice(
        format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).as_bytes(),
    );
    out
}

/// Output formats of a synthetic file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Format {
    Png,
    Jpeg(u8),
    /// Image-only PDF with this many pages (the document on page 1, blank-ish pages after).
    Pdf(usize),
}

/// A varied, valid case; `i` picks names so corpora do not repeat one firm.
pub fn case(i: usize, start: NaiveDate) -> SynthCase {
    const FIRMS: &[&str] = &[
        "上海某建设发展有限公司",
        "上海华沪建筑工程有限公司",
        "上海浦江基础工程有限公司",
        "上海申城市政建设有限公司",
        "上海东方土木工程有限公司",
    ];
    const PROJECTS: &[&str] = &[
        "静安区某商业综合体项目",
        "苏州河沿岸住宅改造工程",
        "南京西路地下通道工程",
        "北外滩综合开发项目",
        "大宁路办公楼新建工程",
    ];
    const BUILDERS: &[&str] = &["上海某置业有限公司", "上海城投置地有限公司", "上海静安城建投资有限公司"];
    let first17 = format!("9131010{:04}MA1FL0", 1000 + i * 37 % 9000);
    let code = nightpermit_domain::CreditCode::complete(&first17[..17]).map(|c| c.to_string()).unwrap_or_default();
    SynthCase {
        firm_name: FIRMS[i % FIRMS.len()].into(),
        credit_code: code,
        project_name: PROJECTS[i % PROJECTS.len()].into(),
        address: "上海市静安区某路100号".into(),
        permit_no: format!("3101062020121{:05}", 10_101 + i * 7),
        builder: BUILDERS[i % BUILDERS.len()].into(),
        start_date: start,
        end_date: start + chrono::Duration::days(2),
        nightly_start: NaiveTime::from_hms_opt(22, 0, 0).unwrap_or_default(),
        nightly_end: NaiveTime::from_hms_opt(4, 0, 0).unwrap_or_default(),
        license_until: None,
    }
}

/// The form that goes with a case.
pub fn form(c: &SynthCase) -> crate::CaseForm {
    crate::CaseForm {
        firm_name: c.firm_name.clone(),
        credit_code: c.credit_code.clone(),
        project_name: c.project_name.clone(),
        construction_permit_no: c.permit_no.clone(),
        builder: c.builder.clone(),
        start_date: c.start_date,
        end_date: c.end_date,
        nightly_start: c.nightly_start,
        nightly_end: c.nightly_end,
    }
}

/// Renders one material of a case to file bytes.
pub fn file(doc: &Doc, variant: Variant, format: Format, dpi: u32, font: &FontVec, seed: u64) -> (String, Vec<u8>) {
    let page = degrade(&render(doc, dpi, font), variant, seed);
    match format {
        Format::Png => ("image/png".into(), png(&page)),
        Format::Jpeg(q) => ("image/jpeg".into(), jpeg(&page, q)),
        Format::Pdf(n) => {
            let mut pages = vec![page];
            for extra in 1..n {
                let annex = Doc {
                    title: format!("附件{extra}"),
                    lines: vec!["（本页无正文）".into()],
                    seal_over_line: None,
                    drawing: false,
                };
                pages.push(render(&annex, dpi, font));
            }
            ("application/pdf".into(), pdf(&pages, dpi))
        }
    }
}

/// One file of a corpus case: (declared kind, document drawn, variant, format, dpi, cut short).
pub type CorpusFile = (MaterialKind, Doc, Variant, Format, u32, bool);

/// One application of the evaluation corpus: what is uploaded and which error codes a correct
/// pre-review must report (none for a clean application).
pub struct CorpusCase {
    pub name: String,
    pub case: SynthCase,
    pub files: Vec<CorpusFile>,
    pub expected_errors: Vec<&'static str>,
}

fn plan(
    c: &SynthCase,
    variants: [(Variant, Format); 6],
    dpi: u32,
) -> Vec<(MaterialKind, Doc, Variant, Format, u32, bool)> {
    const KINDS: [MaterialKind; 6] = [
        MaterialKind::BusinessLicense,
        MaterialKind::ConstructionPermit,
        MaterialKind::ProcessCertificate,
        MaterialKind::NoisePlan,
        MaterialKind::ResidentNotice,
        MaterialKind::SitePlan,
    ];
    KINDS.iter().zip(variants).map(|(k, (v, f))| (*k, document(*k, c), v, f, dpi, false)).collect()
}

/// A deterministic corpus: `clean` clean applications in varied shapes, then one application per
/// error code (and a seal over a wrong firm name).
pub fn corpus(start: NaiveDate, clean: usize) -> Vec<CorpusCase> {
    use crate::findings::*;
    use Format::*;
    use Variant::*;
    let shapes: [[(Variant, Format); 6]; 6] = [
        [(Clean, Png), (Clean, Png), (Clean, Png), (Clean, Png), (Clean, Png), (Clean, Png)],
        [(Noisy, Png), (Skewed(1.5), Jpeg(85)), (Clean, Pdf(2)), (Sideways, Png), (Photo, Jpeg(80)), (Clean, Png)],
        [(Photo, Jpeg(85)), (Clean, Jpeg(90)), (Skewed(-2.0), Png), (Clean, Png), (Noisy, Png), (UpsideDown, Png)],
        [(Skewed(2.5), Png), (Noisy, Png), (Photo, Jpeg(80)), (Clean, Pdf(1)), (Clean, Png), (Clean, Jpeg(85))],
        [(Clean, Pdf(1)), (Photo, Jpeg(85)), (Noisy, Png), (Skewed(-1.0), Jpeg(85)), (Sideways, Png), (Clean, Png)],
        [(UpsideDown, Png), (Clean, Png), (Sideways, Png), (Photo, Jpeg(80)), (Skewed(1.0), Png), (Noisy, Png)],
    ];
    let mut out = Vec::new();
    for i in 0..clean {
        let c = case(i, start);
        let dpi = if i % 3 == 2 { 300 } else { 200 };
        out.push(CorpusCase {
            name: format!("clean-{i:02}"),
            files: plan(&c, shapes[i % shapes.len()], dpi),
            case: c,
            expected_errors: vec![],
        });
    }
    let base = |i: usize| case(100 + i, start);
    let clean_shape = shapes[0];
    let mut defect = |name: &str, i: usize, code: &'static str, edit: &dyn Fn(&SynthCase, &mut Vec<CorpusFile>)| {
        let c = base(i);
        let mut files = plan(&c, clean_shape, 200);
        edit(&c, &mut files);
        out.push(CorpusCase { name: name.into(), case: c, files, expected_errors: vec![code] });
    };
    defect("missing-noise-plan", 0, MISSING_MATERIAL, &|_, f| {
        f.remove(3);
    });
    defect("truncated-site-plan", 1, UNREADABLE_FILE, &|_, f| f[5].5 = true);
    defect("blurred-licence", 2, ILLEGIBLE, &|_, f| f[0].2 = Blurred);
    defect("notice-as-noise-plan", 3, WRONG_DOCUMENT_KIND, &|c, f| f[3].1 = document(MaterialKind::ResidentNotice, c));
    defect("other-firm-name", 4, FIRM_NAME_MISMATCH, &|c, f| {
        let mut o = c.clone();
        o.firm_name = c.firm_name.replacen("建设", "建筑", 1).replacen("工程", "土木", 1);
        f[0].1 = document(MaterialKind::BusinessLicense, &o);
    });
    defect("seal-over-other-firm-name", 5, FIRM_NAME_MISMATCH, &|c, f| {
        let mut o = c.clone();
        o.firm_name = c.firm_name.replacen("上海", "江苏", 1);
        let mut d = document(MaterialKind::BusinessLicense, &o);
        d.seal_over_line = Some(1);
        f[0].1 = d;
    });
    defect("other-credit-code", 6, CREDIT_CODE_MISMATCH, &|c, f| {
        let mut o = c.clone();
        o.credit_code =
            nightpermit_domain::CreditCode::complete("91310115MA1K3YJ2X").map(|x| x.to_string()).unwrap_or_default();
        f[0].1 = document(MaterialKind::BusinessLicense, &o);
    });
    defect("bad-check-character", 7, CREDIT_CODE_INVALID, &|c, f| {
        let mut o = c.clone();
        let last = c.credit_code.chars().last().unwrap_or('0');
        o.credit_code = format!("{}{}", &c.credit_code[..17], if last == '8' { '9' } else { '8' });
        f[0].1 = document(MaterialKind::BusinessLicense, &o);
    });
    defect("other-permit-number", 8, PERMIT_NO_MISMATCH, &|c, f| {
        let mut o = c.clone();
        o.permit_no = format!("{}9", &c.permit_no[..c.permit_no.len() - 1]);
        if o.permit_no == c.permit_no {
            o.permit_no = format!("{}8", &c.permit_no[..c.permit_no.len() - 1]);
        }
        f[1].1 = document(MaterialKind::ConstructionPermit, &o);
    });
    defect("certificate-for-other-project", 9, PROJECT_MISMATCH, &|c, f| {
        let mut o = c.clone();
        o.project_name = "浦东新区某物流园区新建工程".into();
        f[2].1 = document(MaterialKind::ProcessCertificate, &o);
    });
    defect("expired-licence", 10, DOCUMENT_EXPIRED, &|c, f| {
        let mut o = c.clone();
        o.license_until = Some(c.start_date);
        f[0].1 = document(MaterialKind::BusinessLicense, &o);
    });
    defect("notice-too-short", 11, PERIOD_NOT_COVERED, &|c, f| {
        let mut o = c.clone();
        o.end_date = c.start_date;
        f[4].1 = document(MaterialKind::ResidentNotice, &o);
    });
    defect("certificate-unsealed", 12, SEAL_MISSING, &|c, f| {
        let mut d = document(MaterialKind::ProcessCertificate, c);
        d.seal_over_line = None;
        f[2].1 = d;
    });
    out
}

/// Renders a corpus case's files.
pub fn corpus_files(cc: &CorpusCase, font: &FontVec) -> Vec<crate::MaterialFile> {
    cc.files
        .iter()
        .enumerate()
        .map(|(i, (kind, doc, variant, format, dpi, cut))| {
            let (content_type, mut bytes) = file(doc, *variant, *format, *dpi, font, i as u64 + 17);
            if *cut {
                bytes.truncate(bytes.len() / 3);
            }
            crate::MaterialFile { id: format!("{}-{}", cc.name, kind.id()), kind: *kind, content_type, bytes }
        })
        .collect()
}
