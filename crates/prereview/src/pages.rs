//! From uploaded bytes to page images: decode under limits, apply EXIF orientation, render
//! PDFs; then per page the legibility checks, the red-seal search and the image OCR reads.

use crate::findings::Region;
use image::{DynamicImage, GrayImage, ImageDecoder, ImageReader, Luma, RgbImage};
use std::io::Cursor;
use std::process::Command;

/// Resolution OCR reads best here (measured: 200 dpi as good as 300 and faster; 150 breaks codes).
pub const OCR_DPI: u32 = 200;
/// Width of an A4 page at `OCR_DPI`.
const A4_WIDTH_AT_OCR_DPI: u32 = 1654;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("文件已损坏或格式不受支持：{0}")]
    Unreadable(String),
    #[error("PDF 页数超过上限 {0}")]
    TooManyPages(usize),
    /// More pixels than the budget allows even after scaling down.
    #[error("图像过大：{0}")]
    TooLarge(String),
    /// The file's time budget ran out while it was being rendered.
    #[error("处理超时：{0}")]
    TimedOut(String),
}

pub const MAX_PAGES: usize = 20;

/// What reading one file may cost, whatever it holds: pixels per page and in all, wall time,
/// and the memory of the renderer processes. Pages larger than the pixel budget are rendered at
/// a lower resolution instead of at `OCR_DPI`.
#[derive(Debug, Clone)]
pub struct FileBudget {
    pub max_page_pixels: u64,
    /// Pixels still allowed for this file (shared by its pages).
    pub pixels_left: u64,
    pub deadline: std::time::Instant,
    /// Address-space limit of each poppler process.
    pub renderer_memory_bytes: u64,
}

impl FileBudget {
    /// Generous bounds for tools and tests that read one file by itself.
    pub fn standalone() -> Self {
        FileBudget {
            max_page_pixels: 16_000_000,
            pixels_left: 200_000_000,
            deadline: std::time::Instant::now() + std::time::Duration::from_secs(120),
            renderer_memory_bytes: 1 << 30,
        }
    }

    fn time_left(&self) -> std::time::Duration {
        self.deadline.saturating_duration_since(std::time::Instant::now())
    }

    pub fn expired(&self) -> bool {
        self.time_left().is_zero()
    }

    /// Takes `pixels` from the file's budget, or says why not.
    fn take_pixels(&mut self, w: u32, h: u32) -> Result<(), ReadError> {
        let px = u64::from(w) * u64::from(h);
        if px > self.max_page_pixels {
            return Err(ReadError::TooLarge(format!("{w}×{h} 像素，单页上限 {} 像素", self.max_page_pixels)));
        }
        if px > self.pixels_left {
            return Err(ReadError::TooLarge("全部页面的像素总数超过上限".into()));
        }
        self.pixels_left -= px;
        Ok(())
    }
}

/// A page as decoded, and its text layer if the PDF had one.
pub struct DecodedPage {
    pub image: RgbImage,
    pub text_layer: Option<String>,
    /// Captured in colour. False only for a greyscale image file, which cannot show a red seal;
    /// a page rendered from a PDF is in colour whatever its ink.
    pub colour: bool,
}

fn limits() -> image::Limits {
    let mut l = image::Limits::default();
    l.max_image_width = Some(20_000);
    l.max_image_height = Some(20_000);
    l.max_alloc = Some(512 * 1024 * 1024);
    l
}

/// Decodes an image file, turning it upright by its EXIF orientation. Its size is read from the
/// header and charged to `budget` before any pixel is decoded.
pub fn decode_image_within(bytes: &[u8], budget: &mut FileBudget) -> Result<RgbImage, ReadError> {
    decode_image_colour(bytes, budget).map(|(img, _)| img)
}

/// As [`decode_image_within`], also saying whether the file holds colour.
pub fn decode_image_colour(bytes: &[u8], budget: &mut FileBudget) -> Result<(RgbImage, bool), ReadError> {
    let mut reader =
        ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(|e| ReadError::Unreadable(e.to_string()))?;
    reader.limits(limits());
    let mut decoder = reader.into_decoder().map_err(|e| ReadError::Unreadable(e.to_string()))?;
    let (w, h) = decoder.dimensions();
    // A photo or an A3 scan at 300 dpi is larger than the page budget but perfectly readable:
    // it is decoded (up to a few times the budget) and scaled down; only beyond that refused.
    let px = u64::from(w) * u64::from(h);
    if px > budget.max_page_pixels.saturating_mul(DECODE_FACTOR) {
        return Err(ReadError::TooLarge(format!(
            "{w}×{h} 像素，超过 {} 像素的上限",
            budget.max_page_pixels.saturating_mul(DECODE_FACTOR)
        )));
    }
    let scale = if px > budget.max_page_pixels { (budget.max_page_pixels as f64 / px as f64).sqrt() } else { 1.0 };
    let (tw, th) = (((f64::from(w) * scale) as u32).max(1), ((f64::from(h) * scale) as u32).max(1));
    budget.take_pixels(tw, th)?;
    let orientation = decoder.orientation().ok();
    let colour = decoder.color_type().has_color();
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| ReadError::Unreadable(e.to_string()))?;
    if let Some(o) = orientation {
        img.apply_orientation(o);
    }
    if scale < 1.0 {
        let (ow, oh) = (img.width(), img.height());
        let (tw, th) = (((f64::from(ow) * scale) as u32).max(1), ((f64::from(oh) * scale) as u32).max(1));
        img = img.resize_exact(tw, th, image::imageops::FilterType::Triangle);
    }
    Ok((img.to_rgb8(), colour))
}

/// How many times the page budget an uploaded image may have before it is refused rather than
/// scaled down (decoding needs its full size in memory once).
const DECODE_FACTOR: u64 = 4;

/// As [`decode_image_within`] with the stand-alone budget.
pub fn decode_image(bytes: &[u8]) -> Result<RgbImage, ReadError> {
    decode_image_within(bytes, &mut FileBudget::standalone())
}

/// Runs a poppler tool under an address-space limit (prlimit, from util-linux) and kills it at
/// the file's deadline: a drawing stream that inflates to 100 MB kept pdftoppm busy for minutes
/// and every other applicant waited behind it. Output goes to files, never to a pipe that could
/// fill while we wait.
fn run_bounded(
    tool: &str,
    args: &[std::ffi::OsString],
    budget: &FileBudget,
    stdout: &std::path::Path,
) -> Result<(), ReadError> {
    let out = std::fs::File::create(stdout).map_err(|e| ReadError::Unreadable(e.to_string()))?;
    let mut child = Command::new("prlimit")
        .arg(format!("--as={}", budget.renderer_memory_bytes))
        .arg("--")
        .arg(tool)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(out)
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| ReadError::Unreadable(format!("{tool}: {e} (install poppler-utils and util-linux)")))?;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(ReadError::Unreadable(format!("{tool} 退出码 {status}"))),
            Ok(None) if budget.expired() => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(ReadError::TimedOut(format!("{tool} 超过处理时限")));
            }
            Ok(None) => std::thread::sleep(std::time::Duration::from_millis(20)),
            Err(e) => return Err(ReadError::Unreadable(e.to_string())),
        }
    }
}

/// Page sizes in points (the crop box pdftoppm renders), from `pdfinfo -box`.
fn page_sizes(info: &str) -> Vec<(f64, f64)> {
    let mut media: Vec<(usize, f64, f64)> = Vec::new();
    let mut crop: Vec<(usize, f64, f64)> = Vec::new();
    for line in info.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        // "Page    1 CropBox:       0.00     0.00   595.44   842.04"
        if parts.len() == 7 && parts[0] == "Page" {
            let (Ok(n), Ok(x0), Ok(y0), Ok(x1), Ok(y1)) = (
                parts[1].parse::<usize>(),
                parts[3].parse::<f64>(),
                parts[4].parse::<f64>(),
                parts[5].parse::<f64>(),
                parts[6].parse::<f64>(),
            ) else {
                continue;
            };
            let size = (n, (x1 - x0).abs(), (y1 - y0).abs());
            match parts[2] {
                "CropBox:" => crop.push(size),
                "MediaBox:" => media.push(size),
                _ => {}
            }
        }
    }
    let boxes = if crop.is_empty() { media } else { crop };
    boxes.into_iter().map(|(_, w, h)| (w, h)).collect()
}

/// Resolution at which a page of `w_pt` × `h_pt` points fits `max_pixels`, at most `OCR_DPI`.
pub fn render_dpi(w_pt: f64, h_pt: f64, max_pixels: u64) -> f64 {
    let area_in2 = (w_pt / 72.0) * (h_pt / 72.0);
    if area_in2 <= 0.0 {
        return f64::from(OCR_DPI);
    }
    (max_pixels as f64 / area_in2).sqrt().min(f64::from(OCR_DPI))
}

/// Below this a page rendered to fit the budget cannot be read: refused as too large.
const MIN_RENDER_DPI: f64 = 60.0;

/// Renders every page of a PDF with poppler's pdftoppm, each at `OCR_DPI` or lower if that
/// would exceed the page's pixel budget, and takes its text layer with pdftotext (both from
/// poppler-utils, installed by `make`), every process bounded by `budget`.
pub fn decode_pdf(bytes: &[u8], budget: &mut FileBudget) -> Result<Vec<DecodedPage>, ReadError> {
    let dir = std::env::temp_dir().join(format!("np-pdf-{}-{}", std::process::id(), rand::random::<u64>()));
    std::fs::create_dir_all(&dir).map_err(|e| ReadError::Unreadable(e.to_string()))?;
    let result = (|| {
        let input = dir.join("in.pdf");
        std::fs::write(&input, bytes).map_err(|e| ReadError::Unreadable(e.to_string()))?;
        let info_out = dir.join("info.txt");
        let last = (MAX_PAGES + 1).to_string();
        run_bounded(
            "pdfinfo",
            &["-box".into(), "-f".into(), "1".into(), "-l".into(), last.clone().into(), input.clone().into()],
            budget,
            &info_out,
        )?;
        let info = std::fs::read_to_string(&info_out).unwrap_or_default();
        let sizes = page_sizes(&info);
        if sizes.is_empty() {
            return Err(ReadError::Unreadable("PDF 中没有页面".into()));
        }
        if sizes.len() > MAX_PAGES {
            return Err(ReadError::TooManyPages(MAX_PAGES));
        }
        let text_out = dir.join("text.txt");
        let texts: Vec<String> = match run_bounded(
            "pdftotext",
            &[
                "-layout".into(),
                "-enc".into(),
                "UTF-8".into(),
                "-l".into(),
                last.into(),
                input.clone().into(),
                "-".into(),
            ],
            budget,
            &text_out,
        ) {
            Ok(()) => std::fs::read(&text_out)
                .map(|t| String::from_utf8_lossy(&t).split('\u{c}').map(str::to_string).collect())
                .unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        let dpis: Vec<f64> = sizes
            .iter()
            .map(|(w_pt, h_pt)| render_dpi(*w_pt, *h_pt, budget.max_page_pixels.min(budget.pixels_left)))
            .collect();
        if let Some((i, dpi)) = dpis.iter().enumerate().find(|(_, d)| **d < MIN_RENDER_DPI) {
            let (w_pt, h_pt) = sizes[i];
            return Err(ReadError::TooLarge(format!(
                "第{}页 {w_pt:.0}×{h_pt:.0} 磅，在像素上限内只能以 {dpi:.0} dpi 渲染，无法辨认",
                i + 1
            )));
        }
        // The usual case, every page fits at the reading resolution: one renderer process for
        // all pages (each start costs a font load). Otherwise each page at its own resolution.
        let all_at_ocr_dpi = dpis.iter().all(|d| (*d - f64::from(OCR_DPI)).abs() < 0.01);
        let mut files: Vec<std::path::PathBuf> = Vec::new();
        if all_at_ocr_dpi {
            let prefix = dir.join("page");
            let last_page = sizes.len().to_string();
            run_bounded(
                "pdftoppm",
                &[
                    "-r".into(),
                    OCR_DPI.to_string().into(),
                    "-png".into(),
                    "-f".into(),
                    "1".into(),
                    "-l".into(),
                    last_page.into(),
                    input.clone().into(),
                    prefix.into(),
                ],
                budget,
                &dir.join("pdftoppm.out"),
            )?;
            let mut rendered: Vec<_> = std::fs::read_dir(&dir)
                .map_err(|e| ReadError::Unreadable(e.to_string()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "png"))
                .collect();
            // page-1.png … page-10.png (zero-padded by pdftoppm to the page count's width).
            rendered.sort();
            files = rendered;
        } else {
            for (i, dpi) in dpis.iter().enumerate() {
                let number = (i + 1).to_string();
                let prefix = dir.join(format!("single-{number}"));
                run_bounded(
                    "pdftoppm",
                    &[
                        "-r".into(),
                        format!("{dpi:.2}").into(),
                        "-png".into(),
                        "-singlefile".into(),
                        "-f".into(),
                        number.clone().into(),
                        "-l".into(),
                        number.into(),
                        input.clone().into(),
                        prefix.clone().into(),
                    ],
                    budget,
                    &dir.join("pdftoppm.out"),
                )?;
                files.push(prefix.with_extension("png"));
            }
        }
        let mut pages = Vec::new();
        for (i, file) in files.iter().enumerate() {
            let png = std::fs::read(file).map_err(|e| ReadError::Unreadable(e.to_string()))?;
            let layer = texts.get(i).filter(|t| t.chars().filter(|c| !c.is_whitespace()).count() >= 20).cloned();
            pages.push(DecodedPage { image: decode_image_within(&png, budget)?, text_layer: layer, colour: true });
        }
        Ok(pages)
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

pub fn decode(bytes: &[u8], content_type: &str, budget: &mut FileBudget) -> Result<Vec<DecodedPage>, ReadError> {
    if content_type == "application/pdf" {
        decode_pdf(bytes, budget)
    } else {
        let (image, colour) = decode_image_colour(bytes, budget)?;
        Ok(vec![DecodedPage { image, text_layer: None, colour }])
    }
}

/// Below this share of strong edges among inked pixels a page is too blurred to read.
const MIN_SHARPNESS: f64 = 0.4;

/// Strong edges (|Laplacian| > 40) per inked, non-flat pixel on a half-size copy: crisp strokes are
/// almost all edge, blurred ones spread into soft grey. Independent of how much text a page has.
pub fn sharpness(gray: &GrayImage) -> f64 {
    let (w, h) = gray.dimensions();
    let small = image::imageops::resize(gray, (w / 2).max(3), (h / 2).max(3), image::imageops::FilterType::Nearest);
    let (sw, sh) = small.dimensions();
    let mut hist = [0u64; 256];
    for p in small.pixels() {
        hist[p[0] as usize] += 1;
    }
    let half = u64::from(sw) * u64::from(sh) / 2;
    let mut acc = 0;
    let paper = hist.iter().position(|c| {
        acc += c;
        acc >= half
    });
    let ink_below = i32::try_from(paper.unwrap_or(255)).unwrap_or(255) - 90;
    let (mut edges, mut ink) = (0u64, 0u64);
    for y in 1..sh - 1 {
        for x in 1..sw - 1 {
            let c = i32::from(small.get_pixel(x, y)[0]);
            let lap = 4 * c
                - i32::from(small.get_pixel(x - 1, y)[0])
                - i32::from(small.get_pixel(x + 1, y)[0])
                - i32::from(small.get_pixel(x, y - 1)[0])
                - i32::from(small.get_pixel(x, y + 1)[0]);
            // Only strong ink counts: grey fills and shading in drawings (even when noisy) are
            // not text, and blurred text fades above this level anyway.
            if c < ink_below {
                ink += 1;
            }
            if lap.unsigned_abs() > 40 {
                edges += 1;
            }
        }
    }
    edges as f64 / ink.max(1) as f64
}

/// Whether a page carries (almost) no marks at all: a blank back side or an empty annex page.
/// Such a page has nothing to read and is skipped rather than called illegible.
pub fn is_blank(gray: &GrayImage) -> bool {
    let mut hist = [0u64; 256];
    for p in gray.pixels() {
        hist[p[0] as usize] += 1;
    }
    let n = u64::from(gray.width()) * u64::from(gray.height());
    let mut acc = 0;
    let paper = hist.iter().position(|c| {
        acc += c;
        acc * 2 >= n
    });
    // Anything clearly darker than the paper counts as a mark, however blurred: a page of
    // smudged text is illegible, not blank.
    let limit = paper.unwrap_or(255).saturating_sub(30);
    let marks: u64 = hist[..limit].iter().sum();
    marks * 10_000 < n * 5
}

/// Whether the page as uploaded has too few pixels to hold small print. Judged before any
/// rescaling: enlarging a tiny image does not add detail.
pub fn resolution_problem(w: u32, h: u32) -> Option<String> {
    // An A4 page under ~100 dpi loses small print; the short side of A4 at 100 dpi is 827 px.
    (w.min(h) < 800).then(|| format!("分辨率过低（{w}×{h}像素），请以200–300 dpi扫描"))
}

/// Why a page cannot be read reliably, if it cannot.
/// (Resolution is judged separately, on the page as uploaded: see [`resolution_problem`].)
pub fn legibility_problem(gray: &GrayImage) -> Option<String> {
    let (w, h) = gray.dimensions();
    let (mut sum, mut hist) = (0u64, [0u64; 256]);
    for p in gray.pixels() {
        sum += u64::from(p[0]);
        hist[p[0] as usize] += 1;
    }
    let n = u64::from(w) * u64::from(h);
    let mean = sum / n.max(1);
    // Per mille: text covers only a few percent of a page, so its ink sits in the lowest tail.
    let percentile = |q: u64| -> usize {
        let mut acc = 0;
        for (v, c) in hist.iter().enumerate() {
            acc += c;
            if acc * 1000 >= n * q {
                return v;
            }
        }
        255
    };
    // Ink: the darkest 2000 pixels, however little text the page has; paper: the median.
    let ink = {
        let (mut acc, mut sum) = (0u64, 0u64);
        for (v, c) in hist.iter().enumerate() {
            let take = (*c).min(2000 - acc);
            acc += take;
            sum += take * v as u64;
            if acc >= 2000 {
                break;
            }
        }
        (sum / acc.max(1)) as usize
    };
    let paper = percentile(500);
    if mean < 70 {
        return Some("图像过暗，请在光线充足处重新拍摄或扫描".into());
    }
    if paper.saturating_sub(ink) < 60 {
        return Some("图像对比度过低，文字与背景难以区分".into());
    }
    if sharpness(gray) < MIN_SHARPNESS {
        return Some("图像过于模糊，请重新扫描或对焦后拍摄".into());
    }
    None
}

/// Whether a pixel is seal red (not black text, not paper).
fn is_seal_red(p: &image::Rgb<u8>) -> bool {
    let [r, g, b] = p.0;
    r > 120 && i32::from(r) - i32::from(g) > 50 && i32::from(r) - i32::from(b) > 50
}

/// Red seals on a page: clusters of red pixels whose bounding box is roughly square and large
/// enough, and which are ring-like or filled discs rather than a red underline.
pub fn find_seals(rgb: &RgbImage, page: u32) -> Vec<Region> {
    // Work on a grid of ~413 cells across the page's short side (4 px cells at 200 dpi), so a
    // seal (~4 cm across) spans the same number of cells whatever the scan resolution.
    let (w, h) = rgb.dimensions();
    let cell = (w.min(h) / 413).max(1);
    let (gw, gh) = (w / cell, h / cell);
    if gw == 0 || gh == 0 {
        return vec![];
    }
    let mut grid = vec![false; (gw * gh) as usize];
    for gy in 0..gh {
        for gx in 0..gw {
            let mut red = 0;
            for dy in 0..cell {
                for dx in 0..cell {
                    if is_seal_red(rgb.get_pixel(gx * cell + dx, gy * cell + dy)) {
                        red += 1;
                    }
                }
            }
            // At least 3/16 of the cell is seal red.
            grid[(gy * gw + gx) as usize] = red * 16 >= 3 * cell * cell;
        }
    }
    let mut seen = vec![false; grid.len()];
    let mut seals = Vec::new();
    for start in 0..grid.len() {
        if !grid[start] || seen[start] {
            continue;
        }
        // Flood fill, joining cells up to 2 apart so a seal's ring, star and text form one blob.
        let (mut minx, mut miny, mut maxx, mut maxy, mut cells) = (u32::MAX, u32::MAX, 0, 0, 0u32);
        let mut stack = vec![start];
        seen[start] = true;
        while let Some(i) = stack.pop() {
            let (x, y) = (i as u32 % gw, i as u32 / gw);
            minx = minx.min(x);
            miny = miny.min(y);
            maxx = maxx.max(x);
            maxy = maxy.max(y);
            cells += 1;
            for dy in -2i32..=2 {
                for dx in -2i32..=2 {
                    let (nx, ny) = (x as i32 + dx, y as i32 + dy);
                    if nx < 0 || ny < 0 || nx >= gw as i32 || ny >= gh as i32 {
                        continue;
                    }
                    let j = (ny as u32 * gw + nx as u32) as usize;
                    if grid[j] && !seen[j] {
                        seen[j] = true;
                        stack.push(j);
                    }
                }
            }
        }
        let (bw, bh) = (maxx - minx + 1, maxy - miny + 1);
        let min_side = (gw.min(gh) / 12).max(8);
        let square = bw.min(bh) * 10 >= bw.max(bh) * 7;
        let fill = f64::from(cells) / f64::from(bw * bh);
        // A thin ring alone fills ~3 % of its box; a red underline or table rule is not square.
        if bw >= min_side && bh >= min_side && square && fill > 0.025 {
            seals.push(Region { page, x: minx * cell, y: miny * cell, w: bw * cell, h: bh * cell });
        }
    }
    seals
}

/// The grey image OCR reads: the red channel (a red seal over text turns near-white while black
/// text stays black), scaled to `OCR_DPI` for an A4-width page.
pub fn ocr_image(rgb: &RgbImage) -> GrayImage {
    let (w, h) = rgb.dimensions();
    // The red channel: red seal ink over black text turns into paper, so the text reads.
    let red: Vec<u8> = rgb.as_raw().chunks_exact(3).map(|p| p[0]).collect();
    let mut gray = GrayImage::from_raw(w, h, red).unwrap_or_else(|| GrayImage::new(w, h));
    let target = A4_WIDTH_AT_OCR_DPI;
    let page_width = w.min(h);
    if page_width > target * 11 / 10 || page_width < target * 8 / 10 {
        let scale = f64::from(target) / f64::from(page_width);
        let (nw, nh) = ((f64::from(w) * scale) as u32, (f64::from(h) * scale) as u32);
        gray = image::imageops::resize(&gray, nw.max(1), nh.max(1), image::imageops::FilterType::Triangle);
    }
    gray
}

/// Evens out uneven light (phone photos, scanner shadows): divides each pixel by the local paper
/// brightness, then whitens what is clearly paper, so OCR does not read noise in dark corners as
/// text (a shaded, noisy photo took Tesseract 55 s and gave garbage before this).
pub fn flatten_background(gray: &GrayImage) -> GrayImage {
    let (w, h) = gray.dimensions();
    let (sw, sh) = ((w / 16).max(1), (h / 16).max(1));
    // Box averaging (thumbnail) is several times faster than a filtered resize and as good for
    // estimating the paper's brightness.
    let small = image::imageops::thumbnail(gray, sw, sh);
    // Local maximum over 5×5 cells: the paper around the text, not the text itself.
    let mut paper = GrayImage::new(sw, sh);
    for y in 0..sh {
        for x in 0..sw {
            let mut m = 0u8;
            for dy in y.saturating_sub(2)..(y + 3).min(sh) {
                for dx in x.saturating_sub(2)..(x + 3).min(sw) {
                    m = m.max(small.get_pixel(dx, dy)[0]);
                }
            }
            paper.put_pixel(x, y, Luma([m.max(1)]));
        }
    }
    // An evenly lit scan needs no flattening (and keeps its exact pixels): skip the work.
    let (lo, hi) = paper.pixels().fold((255u8, 0u8), |(lo, hi), p| (lo.min(p[0]), hi.max(p[0])));
    if hi.saturating_sub(lo) < 25 {
        return gray.clone();
    }
    let mut out = GrayImage::new(w, h);
    for (x, y, p) in gray.enumerate_pixels() {
        // Nearest paper cell; the 16-px cells are far smaller than any change in lighting.
        let bg = u32::from(paper.get_pixel((x / 16).min(sw - 1), (y / 16).min(sh - 1))[0].max(1));
        let v = (u32::from(p[0]) * 255 / bg).min(255);
        out.put_pixel(x, y, Luma([if v > 215 { 255 } else { v as u8 }]));
    }
    out
}

/// Ink for the layout estimates below (on a flattened page downscaled 4×, strokes are grey).
fn ink(gray: &GrayImage) -> Vec<(u32, u32)> {
    gray.enumerate_pixels().filter(|(_, _, p)| p[0] < 180).map(|(x, y, _)| (x, y)).collect()
}

/// Variance of the row (or column) ink histogram: high when text lines run across that axis.
fn profile_variance(points: &[(u32, u32)], len: u32, by_row: bool, angle_deg: f64, centre: (f64, f64)) -> f64 {
    let (s, c) = angle_deg.to_radians().sin_cos();
    let mut bins = vec![0f64; len as usize + 1];
    for (x, y) in points {
        let (dx, dy) = (f64::from(*x) - centre.0, f64::from(*y) - centre.1);
        let v = if by_row { -dx * s + dy * c + centre.1 } else { dx * c + dy * s + centre.0 };
        if v >= 0.0 && (v as usize) < bins.len() {
            bins[v as usize] += 1.0;
        }
    }
    let mean = bins.iter().sum::<f64>() / bins.len() as f64;
    bins.iter().map(|b| (b - mean).powi(2)).sum::<f64>() / bins.len() as f64
}

/// Share of empty bins between the first and last inked bin of a projection: text lines leave
/// wide gaps between lines but hardly any along a line.
fn gap_ratio(points: &[(u32, u32)], len: u32, by_row: bool) -> f64 {
    let mut bins = vec![0u32; len as usize + 1];
    for (x, y) in points {
        bins[if by_row { *y } else { *x } as usize] += 1;
    }
    let first = bins.iter().position(|b| *b > 0).unwrap_or(0);
    let last = bins.iter().rposition(|b| *b > 0).unwrap_or(0);
    if last <= first {
        return 0.0;
    }
    let empty = bins[first..=last].iter().filter(|b| **b == 0).count();
    empty as f64 / (last - first + 1) as f64
}

/// The page downscaled 4× by box averaging: enough for the layout estimates, and fast.
fn layout_image(gray: &GrayImage) -> GrayImage {
    image::imageops::thumbnail(gray, (gray.width() / 4).max(1), (gray.height() / 4).max(1))
}

/// Whether the page lies on its side (text lines run vertically): 90° or 270°.
pub fn is_sideways(gray: &GrayImage) -> bool {
    let small = layout_image(gray);
    let pts = ink(&small);
    if pts.len() < 100 {
        return false;
    }
    gap_ratio(&pts, small.width(), false) > gap_ratio(&pts, small.height(), true) + 0.1
}

/// The small skew angle (degrees, ±5) that makes text lines most horizontal.
pub fn skew_angle(gray: &GrayImage) -> f64 {
    let small = layout_image(gray);
    let pts = ink(&small);
    if pts.len() < 100 {
        return 0.0;
    }
    let centre = (f64::from(small.width()) / 2.0, f64::from(small.height()) / 2.0);
    let score = |a: f64| profile_variance(&pts, small.height(), true, a, centre);
    let mut best = (0.0, score(0.0));
    let mut a = -5.0;
    while a <= 5.0 {
        let s = score(a);
        if s > best.1 * 1.02 {
            best = (a, s);
        }
        a += 0.5;
    }
    best.0
}

/// Rotates about the centre, filling with white paper.
pub fn rotate(gray: &GrayImage, degrees: f64) -> GrayImage {
    imageproc::geometric_transformations::rotate_about_center(
        gray,
        degrees.to_radians() as f32,
        imageproc::geometric_transformations::Interpolation::Bilinear,
        Luma([255]),
    )
}

/// How a page was turned upright before it was read: a quarter turn if it lay on its side,
/// then the small skew correction. Measured on the flattened OCR image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Upright {
    pub sideways: bool,
    /// Degrees the page was rotated by (0 when the skew was under half a degree).
    pub rotation: f64,
}

/// Turns the flattened OCR image upright; the turn is returned so the same can be applied to
/// the colour page (the page image shown with the findings' regions).
pub fn upright(gray: GrayImage) -> (GrayImage, Upright) {
    let mut gray = gray;
    let sideways = is_sideways(&gray);
    if sideways {
        gray = image::imageops::rotate90(&gray);
    }
    let skew = skew_angle(&gray);
    let rotation = if skew.abs() >= 0.5 { -skew } else { 0.0 };
    if rotation != 0.0 {
        gray = rotate(&gray, rotation);
    }
    (gray, Upright { sideways, rotation })
}

/// The colour page in the coordinates the pre-review's regions are in: scaled as
/// [`ocr_image`] scales, turned as [`upright`] turned the page it read.
pub fn page_as_read(rgb: &RgbImage) -> RgbImage {
    let gray = flatten_background(&ocr_image(rgb));
    let (w, h) = gray.dimensions();
    let mut colour = if rgb.dimensions() == (w, h) {
        rgb.clone()
    } else {
        image::imageops::resize(rgb, w, h, image::imageops::FilterType::Triangle)
    };
    let (_, turn) = upright(gray);
    if turn.sideways {
        colour = image::imageops::rotate90(&colour);
    }
    if turn.rotation != 0.0 {
        colour = imageproc::geometric_transformations::rotate_about_center(
            &colour,
            turn.rotation.to_radians() as f32,
            imageproc::geometric_transformations::Interpolation::Bilinear,
            image::Rgb([255, 255, 255]),
        );
    }
    colour
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth;

    fn page(variant: synth::Variant) -> GrayImage {
        let font = synth::font(0).expect("CJK font (make deps)");
        let case = synth::case(0, chrono::NaiveDate::from_ymd_opt(2026, 12, 1).expect("date"));
        let doc = synth::document(nightpermit_domain::MaterialKind::BusinessLicense, &case);
        let rgb = synth::degrade(&synth::render(&doc, 200, &font), variant, 1);
        flatten_background(&ocr_image(&rgb))
    }

    #[test]
    fn the_shown_page_is_turned_as_the_read_one() {
        let font = synth::font(0).expect("CJK font (make deps)");
        let case = synth::case(0, chrono::NaiveDate::from_ymd_opt(2026, 12, 1).expect("date"));
        let doc = synth::document(nightpermit_domain::MaterialKind::BusinessLicense, &case);
        let rgb = synth::degrade(&synth::render(&doc, 300, &font), synth::Variant::Sideways, 1);
        let (read, turn) = upright(flatten_background(&ocr_image(&rgb)));
        assert!(turn.sideways);
        let shown = page_as_read(&rgb);
        assert_eq!(shown.dimensions(), read.dimensions());
        assert!(shown.width() < shown.height(), "upright A4 is portrait");
    }

    #[test]
    fn orientation_and_skew_are_detected() {
        assert!(!is_sideways(&page(synth::Variant::Clean)));
        let s = page(synth::Variant::Sideways);
        assert!(is_sideways(&s));
        assert!(!is_sideways(&page(synth::Variant::UpsideDown)));
        let skew = skew_angle(&page(synth::Variant::Skewed(3.0)));
        assert!((skew.abs() - 3.0).abs() <= 1.0, "{skew}");
        let corrected = skew_angle(&rotate(&page(synth::Variant::Skewed(3.0)), -skew));
        assert!(corrected.abs() <= 0.5, "deskewed page still at {corrected}");
    }

    #[test]
    fn sharpness_separates_blur_from_sparse_pages() {
        let raw = |v| {
            let font = synth::font(0).expect("font");
            let case = synth::case(0, chrono::NaiveDate::from_ymd_opt(2026, 12, 1).expect("date"));
            let doc = synth::document(nightpermit_domain::MaterialKind::BusinessLicense, &case);
            ocr_image(&synth::degrade(&synth::render(&doc, 200, &font), v, 1))
        };
        for v in [
            synth::Variant::Clean,
            synth::Variant::Photo,
            synth::Variant::Noisy,
            synth::Variant::Skewed(2.0),
            synth::Variant::Blurred,
        ] {
            eprintln!("{v:?}: {:.3}", sharpness(&raw(v)));
        }
        let font = synth::font(0).expect("font");
        let annex = synth::Doc {
            title: "附件1".into(),
            lines: vec!["（本页无正文）".into()],
            seal_over_line: None,
            drawing: false,
        };
        let sparse = ocr_image(&synth::render(&annex, 200, &font));
        eprintln!("sparse: {:.3}", sharpness(&sparse));
        assert_eq!(legibility_problem(&sparse), None);
        let case = synth::case(0, chrono::NaiveDate::from_ymd_opt(2026, 12, 1).expect("date"));
        let drawing =
            ocr_image(&synth::render(&synth::document(nightpermit_domain::MaterialKind::SitePlan, &case), 200, &font));
        eprintln!("site plan: {:.3}", sharpness(&drawing));
        assert_eq!(legibility_problem(&drawing), None);
        assert!(sharpness(&raw(synth::Variant::Blurred)) < MIN_SHARPNESS);
        for v in [synth::Variant::Clean, synth::Variant::Photo, synth::Variant::Noisy] {
            assert!(sharpness(&raw(v)) > MIN_SHARPNESS * 2.0, "{v:?}");
        }
    }

    #[test]
    fn tiny_images_are_too_low_resolution_even_if_enlarged() {
        assert!(resolution_problem(200, 120).is_some());
        assert!(resolution_problem(1654, 2339).is_none());
        let tiny = image::RgbImage::from_pixel(200, 120, image::Rgb([255, 255, 255]));
        // ocr_image enlarges it to A4 width; the check must not be fooled by that.
        assert!(ocr_image(&tiny).width() >= 800);
    }

    #[test]
    fn legibility_and_seals() {
        // Legibility is judged before the background is flattened, as in the pipeline.
        let raw = |v| {
            let font = synth::font(0).expect("font");
            let case = synth::case(0, chrono::NaiveDate::from_ymd_opt(2026, 12, 1).expect("date"));
            let doc = synth::document(nightpermit_domain::MaterialKind::BusinessLicense, &case);
            ocr_image(&synth::degrade(&synth::render(&doc, 200, &font), v, 1))
        };
        assert_eq!(legibility_problem(&raw(synth::Variant::Clean)), None);
        assert_eq!(legibility_problem(&raw(synth::Variant::Photo)), None);
        assert!(legibility_problem(&raw(synth::Variant::Blurred)).is_some());
        assert!(!is_blank(&raw(synth::Variant::Blurred)), "smudged text is not a blank page");
        let font = synth::font(0).expect("font");
        let case = synth::case(0, chrono::NaiveDate::from_ymd_opt(2026, 12, 1).expect("date"));
        let sealed = synth::render(&synth::document(nightpermit_domain::MaterialKind::NoisePlan, &case), 200, &font);
        assert_eq!(find_seals(&sealed, 1).len(), 1);
        let unsealed = synth::render(&synth::document(nightpermit_domain::MaterialKind::SitePlan, &case), 200, &font);
        assert!(find_seals(&unsealed, 1).is_empty());
        for dpi in [150, 300] {
            let sealed =
                synth::render(&synth::document(nightpermit_domain::MaterialKind::ResidentNotice, &case), dpi, &font);
            assert_eq!(find_seals(&sealed, 1).len(), 1, "{dpi} dpi");
        }
    }
}
