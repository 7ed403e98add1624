//! The automated pre-review (智能预审): every uploaded material is decoded, normalised, checked
//! for legibility and seals, read (PP-OCRv4 through ONNX Runtime, Tesseract where PP-OCR cannot
//! read a page or is not installed), classified, and its fields cross-checked against the form.
//! The result is a report of findings with stable codes.
//!
//! # The contract: "not read" is not "wrong"
//! An `error` finding sends the case back to the applicant, so it is given only when the
//! material *confidently shows* something that contradicts the form — another name, another
//! number, dates that do not cover the nights, a wrong kind of document — or *confidently lacks*
//! something required: no red seal on a colour scan, a missing file, a file no decoder can read
//! (`UNREADABLE_FILE`), a page no reader can read (`ILLEGIBLE`), one too large to read
//! (`IMAGE_TOO_LARGE`).
//!
//! Everything else is a `warning`, and the case goes on to a human with the doubt shown: a field
//! not found, or read only with low confidence, is `FIELD_UNCERTAIN` naming the field and the
//! region where it was looked for ([`fields::FieldReading`]); a difference only on doubtful
//! characters is the mismatch code as a warning; a greyscale scan, which cannot show a red seal,
//! is `FIELD_UNCERTAIN` rather than `SEAL_MISSING`; a file not read within its time budget is
//! `READ_TIME_EXCEEDED`. Blur and contrast measures only raise a suspicion: a page is `ILLEGIBLE`
//! when no reader reads it with confidence. Files of one kind are one document: a seal or a field
//! on any of its pages counts.
#![forbid(unsafe_code)]

pub mod checks;
pub mod fields;
pub mod findings;
pub mod ocr;
pub mod pages;
pub mod ppocr;
pub mod synth;
pub mod text;

pub use checks::{check_case, classify, CaseForm, MaterialReading};
pub use findings::{Finding, Region, Severity, Verdict};

use nightpermit_domain::MaterialKind;
use ocr::{OcrEngine, OcrError};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use text::{OcrLine, PageText};

/// One uploaded file to review.
#[derive(Debug, Clone)]
pub struct MaterialFile {
    pub id: String,
    pub kind: MaterialKind,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct PrereviewReport {
    pub verdict: Verdict,
    pub findings: Vec<Finding>,
    pub pages: usize,
    /// What was read from each material (for evaluation and debugging; not stored).
    pub readings: Vec<MaterialReading>,
}

/// The readers of one OCR thread: Tesseract, and PP-OCR when the models are installed.
#[derive(Default)]
pub struct Readers {
    pub tesseract: Option<OcrEngine>,
    pub ppocr: Option<ppocr::PpOcr>,
}

/// Which reader reads a page first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReaderChoice {
    /// PP-OCR reads every page; Tesseract reads a page PP-OCR fails on or finds (almost)
    /// nothing on, and is the only reader when PP-OCR is not set up.
    PpOcrFirst(std::path::PathBuf),
    TesseractOnly,
}

type Task = Box<dyn FnOnce(&mut Readers) + Send>;

/// What one application's pre-review may cost, whatever was uploaded (from `[limits]`).
#[derive(Debug, Clone)]
pub struct PrereviewLimits {
    /// Pixels of one page as rendered for reading; larger PDF pages are rendered at a lower
    /// resolution, larger images refused with `IMAGE_TOO_LARGE`.
    pub max_page_pixels: u64,
    /// Pixels of all pages of one application together.
    pub max_application_pixels: u64,
    /// Wall time for one file (rendering and reading); past it the file is reported with
    /// `READ_TIME_EXCEEDED` and the case goes to a human.
    pub file_budget: std::time::Duration,
    /// Wall time for the whole application.
    pub case_budget: std::time::Duration,
    /// Address-space limit of each PDF renderer process.
    pub renderer_memory_bytes: u64,
}

impl Default for PrereviewLimits {
    fn default() -> Self {
        PrereviewLimits {
            max_page_pixels: 12_000_000,
            max_application_pixels: 150_000_000,
            file_budget: std::time::Duration::from_secs(20),
            case_budget: std::time::Duration::from_secs(90),
            renderer_memory_bytes: 1 << 30,
        }
    }
}

/// A fixed set of OCR threads, each with its own Tesseract, shared by all reviews in a process.
pub struct Prereviewer {
    tasks: Mutex<Option<mpsc::Sender<Task>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
    language: String,
    /// Doubtful lines re-read per page (0 turns the second look off).
    pub second_looks: usize,
    pub limits: PrereviewLimits,
    pub reader: ReaderChoice,
}

impl Prereviewer {
    pub fn new(threads: usize) -> Self {
        Self::with_language(threads, "chi_sim")
    }

    /// Checks that the PP-OCR models and runtime in `dir` load, for a clear message at start-up
    /// rather than a failure on the first case.
    pub fn check_models(dir: &std::path::Path) -> Result<(), ppocr::PpOcrError> {
        ppocr::PpOcr::load(dir).map(|_| ())
    }

    pub fn with_language(threads: usize, language: &str) -> Self {
        let (tx, rx) = mpsc::channel::<Task>();
        let rx = Arc::new(Mutex::new(rx));
        let handles = (0..threads.max(1))
            .map(|i| {
                let rx = rx.clone();
                std::thread::Builder::new()
                    .name(format!("ocr-{i}"))
                    .spawn(move || {
                        let mut readers = Readers::default();
                        loop {
                            let task = match rx.lock() {
                                Ok(guard) => guard.recv(),
                                Err(_) => return,
                            };
                            match task {
                                Ok(task) => task(&mut readers),
                                Err(_) => return,
                            }
                        }
                    })
                    .unwrap_or_else(|e| panic!("cannot start OCR thread: {e}"))
            })
            .collect();
        Prereviewer {
            tasks: Mutex::new(Some(tx)),
            threads: handles,
            language: language.to_string(),
            second_looks: DEFAULT_SECOND_LOOKS,
            limits: PrereviewLimits::default(),
            reader: ReaderChoice::PpOcrFirst(ppocr::PpOcr::default_dir()),
        }
    }

    /// Reviews one application's materials. `progress` is told how many materials are done.
    pub fn review(
        &self,
        form: &CaseForm,
        files: Vec<MaterialFile>,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<PrereviewReport, OcrError> {
        let (done_tx, done_rx) = mpsc::channel::<(usize, Result<MaterialReading, OcrError>)>();
        let count = files.len();
        let case_deadline = std::time::Instant::now() + self.limits.case_budget;
        let pixels_left = Arc::new(std::sync::atomic::AtomicU64::new(self.limits.max_application_pixels));
        {
            let guard = self.tasks.lock().map_err(|_| OcrError::Init("OCR pool poisoned".into()))?;
            let sender = guard.as_ref().ok_or_else(|| OcrError::Init("OCR pool stopped".into()))?;
            for (i, file) in files.into_iter().enumerate() {
                let done = done_tx.clone();
                let language = self.language.clone();
                let second_looks = self.second_looks;
                let limits = self.limits.clone();
                let pixels_left = pixels_left.clone();
                let reader = self.reader.clone();
                let task: Task = Box::new(move |readers: &mut Readers| {
                    let result = (|| {
                        if readers.tesseract.is_none() {
                            readers.tesseract = Some(OcrEngine::new(&language)?);
                        }
                        if let (ReaderChoice::PpOcrFirst(dir), None) = (&reader, &readers.ppocr) {
                            match ppocr::PpOcr::load(dir) {
                                Ok(p) => readers.ppocr = Some(p),
                                // Checked at start-up; if it fails later, Tesseract reads alone.
                                Err(e) => {
                                    tracing::error!(error = %e, "PP-OCR unavailable; reading with Tesseract only")
                                }
                            }
                        }
                        // The file's clock starts when a reader takes it, not when it was queued.
                        let available = pixels_left.load(std::sync::atomic::Ordering::Relaxed);
                        let mut budget = pages::FileBudget {
                            max_page_pixels: limits.max_page_pixels,
                            pixels_left: available,
                            deadline: (std::time::Instant::now() + limits.file_budget).min(case_deadline),
                            renderer_memory_bytes: limits.renderer_memory_bytes,
                        };
                        let reading = read_material_within(readers, &file, second_looks, &mut budget);
                        let used = available.saturating_sub(budget.pixels_left);
                        let _ = pixels_left.fetch_update(
                            std::sync::atomic::Ordering::Relaxed,
                            std::sync::atomic::Ordering::Relaxed,
                            |left| Some(left.saturating_sub(used)),
                        );
                        Ok(reading)
                    })();
                    let _ = done.send((i, result));
                });
                sender.send(task).map_err(|_| OcrError::Init("OCR pool stopped".into()))?;
            }
        }
        drop(done_tx);
        let mut readings: Vec<Option<MaterialReading>> = vec![None; count];
        let mut finished = 0;
        for (i, result) in done_rx {
            readings[i] = Some(result?);
            finished += 1;
            progress(finished);
        }
        let readings: Vec<MaterialReading> = readings.into_iter().flatten().collect();
        let pages = readings.iter().map(|r| r.pages.len()).sum();
        let findings = check_case(form, &readings);
        Ok(PrereviewReport { verdict: Verdict::of(&findings), findings, pages, readings })
    }
}

impl Drop for Prereviewer {
    fn drop(&mut self) {
        if let Ok(mut tx) = self.tasks.lock() {
            tx.take();
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn mean_conf(lines: &[OcrLine]) -> f32 {
    let chars: Vec<text::OcrChar> = lines.iter().flat_map(|l| l.chars.iter().copied()).collect();
    text::mean_confidence(&chars)
}

/// Reads one material: every page decoded, checked and OCR'd. Problems that stop the reading
/// (unreadable file, illegible page) are returned inside the reading as its `problem`.
pub fn read_material(readers: &mut Readers, file: &MaterialFile) -> MaterialReading {
    read_material_with(readers, file, DEFAULT_SECOND_LOOKS)
}

/// As [`read_material`], with at most `second_looks` doubtful lines re-read per page.
pub fn read_material_with(readers: &mut Readers, file: &MaterialFile, second_looks: usize) -> MaterialReading {
    read_material_within(readers, file, second_looks, &mut pages::FileBudget::standalone())
}

/// Characters PP-OCR must find on a page before Tesseract is not asked: fewer means it missed
/// the text (or the page holds almost none, and a second reading costs little).
const PPOCR_MIN_CHARS: usize = 8;

/// Reads one material within `budget`: a file that cannot be decoded is `UNREADABLE_FILE`, one
/// too large even scaled down `IMAGE_TOO_LARGE`, one whose time ran out `READ_TIME_EXCEEDED`
/// (a warning: what was read counts, a human looks at the rest), one with only blank pages
/// `ILLEGIBLE`.
pub fn read_material_within(
    readers: &mut Readers,
    file: &MaterialFile,
    second_looks: usize,
    budget: &mut pages::FileBudget,
) -> MaterialReading {
    let mut reading = MaterialReading {
        material_id: file.id.clone(),
        kind: file.kind,
        pages: vec![],
        seals: vec![],
        problem: None,
        colour: false,
    };
    let label = file.kind.label();
    let decoded = match pages::decode(&file.bytes, &file.content_type, budget) {
        Ok(p) => p,
        Err(e) => {
            reading.problem = Some(match e {
                pages::ReadError::TooLarge(_) => {
                    Finding::new(findings::IMAGE_TOO_LARGE, Severity::Error, format!("“{label}”{e}，请缩小后重新上传"))
                }
                pages::ReadError::TimedOut(_) => Finding::new(
                    findings::READ_TIME_EXCEEDED,
                    Severity::Warning,
                    format!("“{label}”未能在处理时限内读完，已转人工审核"),
                ),
                _ => Finding::new(findings::UNREADABLE_FILE, Severity::Error, format!("“{label}”无法读取：{e}")),
            });
            return reading;
        }
    };
    let page_count = decoded.len();
    let mut blank_pages = 0;
    for (i, page) in decoded.into_iter().enumerate() {
        let number = u32::try_from(i + 1).unwrap_or(u32::MAX);
        if budget.expired() {
            reading.problem = Some(Finding::new(
                findings::READ_TIME_EXCEEDED,
                Severity::Warning,
                format!("“{label}”未能在处理时限内读完（已读{i}页，共{page_count}页），已转人工审核"),
            ));
            return reading;
        }
        reading.seals.extend(pages::find_seals(&page.image, number));
        reading.colour |= page.colour;
        if let Some(layer) = page.text_layer {
            let lines =
                layer.lines().filter(|l| !l.trim().is_empty()).map(|l| OcrLine::certain(l.trim(), None)).collect();
            reading.pages.push(PageText { page: number, lines });
            continue;
        }
        let (pw, ph) = page.image.dimensions();
        if let Some(reason) = pages::resolution_problem(pw, ph) {
            reading.problem = Some(
                Finding::new(
                    findings::ILLEGIBLE,
                    Severity::Error,
                    format!("“{}”第{number}页无法辨认：{reason}", file.kind.label()),
                )
                .at(Some(Region { page: number, x: 0, y: 0, w: pw, h: ph })),
            );
            return reading;
        }
        let mut gray = pages::ocr_image(&page.image);
        if pages::is_blank(&gray) {
            blank_pages += 1;
            reading.pages.push(PageText { page: number, lines: vec![] });
            continue;
        }
        // Measures of blur and contrast only raise a suspicion: a phone photo can look soft and
        // still read well. The page is ILLEGIBLE only if no reader can read it either.
        let suspicion = pages::legibility_problem(&gray);
        let illegible = |reason: &str, gray: &image::GrayImage| {
            let (w, h) = gray.dimensions();
            Finding::new(findings::ILLEGIBLE, Severity::Error, format!("“{label}”第{number}页无法辨认：{reason}"))
                .at(Some(Region { page: number, x: 0, y: 0, w, h }))
        };
        // The same turn is applied to the page image shown with the findings (pages::page_as_read).
        gray = pages::upright(pages::flatten_background(&gray)).0;
        if let Some(dir) = std::env::var_os("NIGHTPERMIT_PREREVIEW_DEBUG_DIR") {
            // Debugging aid: the exact image OCR reads.
            let _ = gray.save(std::path::Path::new(&dir).join(format!("{}-p{number}.png", file.id)));
        }
        let ppocr_tried = readers.ppocr.is_some();
        if let Some(pp) = &readers.ppocr {
            let page_rgb = image::DynamicImage::ImageLuma8(gray.clone()).to_rgb8();
            match pp.read(&page_rgb, number) {
                Ok(lines)
                    if lines.iter().map(|l| l.chars.len()).sum::<usize>() >= PPOCR_MIN_CHARS
                        && (suspicion.is_none() || reads_well(&lines)) =>
                {
                    reading.pages.push(PageText { page: number, lines });
                    continue;
                }
                Ok(_) => tracing::debug!(page = number, "PP-OCR found almost nothing; Tesseract reads the page"),
                Err(e) => tracing::warn!(page = number, error = %e, "PP-OCR failed on a page; Tesseract reads it"),
            }
        }
        let Some(engine) = readers.tesseract.as_mut() else {
            reading.problem = Some(Finding::new(
                findings::UNREADABLE_FILE,
                Severity::Error,
                format!("“{label}”第{number}页无法识别"),
            ));
            return reading;
        };
        let lines = match engine.read(&gray, pages::OCR_DPI, number) {
            Ok(l) => l,
            Err(e) => {
                reading.problem = Some(Finding::new(
                    findings::UNREADABLE_FILE,
                    Severity::Error,
                    format!("“{}”第{number}页识别失败：{e}", file.kind.label()),
                ));
                return reading;
            }
        };
        // Upside down reads as garbage with low confidence; the turned page then reads better.
        // (PP-OCR, when it ran, already turned upside-down lines with its direction classifier.)
        let lines = if mean_conf(&lines) < 50.0 && !ppocr_tried {
            let turned = image::imageops::rotate180(&gray);
            match engine.read(&turned, pages::OCR_DPI, number) {
                Ok(t) if mean_conf(&t) > mean_conf(&lines) => t,
                _ => lines,
            }
        } else {
            lines
        };
        // A page only Tesseract could try after PP-OCR read it poorly is blurred or faint:
        // second looks at its lines cost seconds and rarely rescue it.
        let looks = if ppocr_tried && suspicion.is_some() { 0 } else { second_looks };
        let lines = second_look(engine, &gray, lines, number, looks);
        if let Some(reason) = &suspicion {
            if !reads_well(&lines) {
                reading.problem = Some(illegible(reason, &gray));
                return reading;
            }
        }
        reading.pages.push(PageText { page: number, lines });
    }
    if page_count > 0 && blank_pages == page_count && reading.seals.is_empty() {
        reading.problem = Some(Finding::new(
            findings::ILLEGIBLE,
            Severity::Error,
            format!("“{label}”是空白页，没有可辨认的内容，请重新扫描上传"),
        ));
    }
    reading
}

/// Whether a reading of a page that looked blurred or faint is nonetheless a reading: enough
/// text, read with confidence.
fn reads_well(lines: &[OcrLine]) -> bool {
    let chars: Vec<text::OcrChar> = lines.iter().flat_map(|l| l.chars.iter().copied()).collect();
    chars.len() >= 40 && text::mean_confidence(&chars) >= 85.0
}

/// Lines worth a second look per page by default; bounds the extra time on a degraded page.
pub const DEFAULT_SECOND_LOOKS: usize = 3;

/// Reads again, alone and enlarged, each line with doubtful characters, and keeps whichever
/// reading Tesseract is surer of. Measured on synthetic pages: settles most single-character
/// doubts (静 read as 整 at 60 %, then as 静 at 90 %+) for ~0.1 s a line.
fn second_look(
    engine: &mut OcrEngine,
    gray: &image::GrayImage,
    mut lines: Vec<OcrLine>,
    page: u32,
    max_looks: usize,
) -> Vec<OcrLine> {
    // The least confident lines first: they are the ones a second reading most often settles.
    let mut doubtful: Vec<(usize, f32)> = lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| {
            l.chars.iter().map(|c| c.conf).reduce(f32::min).filter(|m| *m < text::SURE).map(|m| (i, m))
        })
        .collect();
    doubtful.sort_by(|a, b| a.1.total_cmp(&b.1));
    for (i, _) in doubtful.into_iter().take(max_looks) {
        let line = &mut lines[i];
        let Some(r) = line.region else { continue };
        let pad = 10;
        let (x, y) = (r.x.saturating_sub(pad), r.y.saturating_sub(pad));
        let w = (r.w + 2 * pad).min(gray.width().saturating_sub(x));
        let h = (r.h + 2 * pad).min(gray.height().saturating_sub(y));
        if w < 4 || h < 4 {
            continue;
        }
        let crop = image::imageops::crop_imm(gray, x, y, w, h).to_image();
        let big = image::imageops::resize(&crop, w * 2, h * 2, image::imageops::FilterType::CatmullRom);
        let Ok(again) = engine.read_line(&big, pages::OCR_DPI * 2, page) else { continue };
        let chars: Vec<text::OcrChar> = again.into_iter().flat_map(|l| l.chars).collect();
        if !chars.is_empty() && text::mean_confidence(&chars) > text::mean_confidence(&line.chars) {
            line.chars = chars;
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tiny_scan_is_illegible_and_a_broken_file_unreadable() {
        let mut engine = Readers {
            tesseract: Some(OcrEngine::new("chi_sim").expect("tesseract-ocr-chi-sim (make deps)")),
            ppocr: None,
        };
        let tiny = MaterialFile {
            id: "m1".into(),
            kind: MaterialKind::BusinessLicense,
            content_type: "image/png".into(),
            bytes: include_bytes!("../../../fixtures/samples/sample-scan.png").to_vec(),
        };
        let r = read_material(&mut engine, &tiny);
        assert_eq!(r.problem.as_ref().map(|f| f.code.as_str()), Some(findings::ILLEGIBLE));
        let broken = MaterialFile { bytes: tiny.bytes[..60].to_vec(), ..tiny };
        let r = read_material(&mut engine, &broken);
        assert_eq!(r.problem.as_ref().map(|f| f.code.as_str()), Some(findings::UNREADABLE_FILE));
    }
}
