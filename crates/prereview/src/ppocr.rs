//! A second OCR reader: PP-OCRv4 (DB text detection + SVTR/CTC recognition, with the PP-OCR
//! mobile direction classifier), run through ONNX Runtime via the `ort` crate. The models and the
//! runtime library come from `scripts/install-models.sh` (`make deps`); nothing is downloaded at
//! run time.
//!
//! Pre- and post-processing follow RapidOCR 1.4.4 (`rapidocr_onnxruntime`, the wheel the models
//! come from): BGR input normalised to [-1, 1]; DB post-processing with threshold 0.3, 2×2
//! dilation, box score = mean probability inside the box ≥ 0.5, unclip ratio 1.6; crops rotated
//! 90° when height ≥ 1.5 × width; 180° classifier at 0.9; recognition at height 48 (at least
//! 320 px wide), CTC greedy decode, lines with a mean confidence below 0.5 dropped.
//!
//! Differences from RapidOCR, all deliberate:
//! - the page is scaled down so its longer side is at most [`DET_MAX_SIDE`] px before detection
//!   (RapidOCR: 2000 px), for speed on one core; boxes are mapped back to page pixels and lines
//!   are cropped from the full-resolution page;
//! - unclip is exact and analytic: the boxes are minimum-area rectangles, and the minimum-area
//!   rectangle of a rectangle offset by `d` with round joins (what pyclipper computes) is the
//!   same rectangle grown by `d` on every side, so no polygon-clipping crate is needed;
//! - only outer contours of the bitmap are boxed (cv2 `RETR_LIST` also boxes holes, which only
//!   yields duplicates inside text blocks);
//! - recognition runs one line per inference ([`REC_BATCH`] = 1): on one intra-op thread, RapidOCR's
//!   batches of 6 (padded to the widest line) were 25–30% slower;
//! - the same-line test of the reading order uses half the smaller box height instead of RapidOCR's
//!   fixed 10 px, so it does not depend on the page resolution.
//!
//! Threads: [`PpOcr`] is `Send + Sync`. `ort::Session::run` needs `&mut`, so each model's
//! session sits behind a `Mutex`: concurrent calls on one `PpOcr` are safe but take turns.
//! ONNX Runtime is limited to 1 intra-op thread per session; for parallelism make one `PpOcr` per
//! OCR thread (the service runs one reader per core). The ONNX Runtime library and environment
//! are loaded once per process, on the first [`PpOcr::load`].

use crate::findings::Region;
use crate::text::{OcrChar, OcrLine};
use image::imageops::{self, FilterType};
use image::{GrayImage, Luma, Rgb, RgbImage};
use imageproc::contours::{find_contours, BorderType};
use imageproc::geometric_transformations::{warp_into_with, Interpolation};
use imageproc::geometry::convex_hull;
use imageproc::point::Point;
use ort::environment::Environment;
use ort::session::Session;
use ort::value::TensorRef;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

/// File names inside the models directory (as `scripts/install-models.sh` installs them).
pub const DET_MODEL: &str = "ch_PP-OCRv4_det_infer.onnx";
pub const REC_MODEL: &str = "ch_PP-OCRv4_rec_infer.onnx";
pub const CLS_MODEL: &str = "ch_ppocr_mobile_v2.0_cls_infer.onnx";
pub const RUNTIME_LIB: &str = "libonnxruntime.so";

/// Longer side of the image the detector sees (page pixels are scaled down to it, never up).
pub const DET_MAX_SIDE: u32 = 1280;
/// DB post-processing, as RapidOCR/PaddleOCR.
const DB_THRESH: f32 = 0.3;
const DB_BOX_THRESH: f32 = 0.5;
const DB_UNCLIP_RATIO: f32 = 1.6;
const DB_MAX_CANDIDATES: usize = 1000;
const DB_MIN_SIZE: f32 = 3.0;
/// Recognition input height and minimum width (PP-OCRv4 rec_img_shape [3, 48, 320]).
const REC_H: u32 = 48;
const REC_MIN_W: u32 = 320;
/// Lines per recognition run (crops sorted by aspect ratio; each batch padded to its widest).
pub const REC_BATCH: usize = 1;
/// Direction classifier input (cls_image_shape [3, 48, 192]) and its 180° threshold.
const CLS_H: u32 = 48;
const CLS_W: u32 = 192;
const CLS_BATCH: usize = 6;
const CLS_THRESH: f32 = 0.9;
/// Lines whose mean character confidence (0..1) is below this are dropped (RapidOCR text_score).
const TEXT_SCORE: f32 = 0.5;

#[derive(Debug, thiserror::Error)]
pub enum PpOcrError {
    #[error("PP-OCR file {} is missing (fix: run `make deps`, which installs the models and ONNX Runtime into {}, or set NIGHTPERMIT_MODELS_DIR)", path.display(), dir.display())]
    Missing { path: PathBuf, dir: PathBuf },
    #[error("cannot load the ONNX Runtime library {}: {reason} (fix: run `make deps` to reinstall it)", path.display())]
    Runtime { path: PathBuf, reason: String },
    #[error("cannot load the PP-OCR model {}: {reason} (the file may be corrupt; fix: run `make deps` to reinstall it)", path.display())]
    Model { path: PathBuf, reason: String },
    #[error("the recognition model {} has no usable alphabet (ONNX metadata `character`): {reason} (fix: run `make deps` to reinstall it)", path.display())]
    Alphabet { path: PathBuf, reason: String },
    #[error("PP-OCR {model} inference failed: {reason}")]
    Inference { model: &'static str, reason: String },
}

/// A detected text line: its quadrilateral on the page (top-left, top-right, bottom-right,
/// bottom-left, in page pixels) and its detection score (mean DB probability, 0..1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextBox {
    pub quad: [[f32; 2]; 4],
    pub score: f32,
}

impl TextBox {
    /// The axis-aligned rectangle around the box, on page `page`.
    pub fn region(&self, page: u32) -> Region {
        let xs = self.quad.map(|p| p[0]);
        let ys = self.quad.map(|p| p[1]);
        let x0 = xs.iter().copied().fold(f32::INFINITY, f32::min).max(0.0);
        let y0 = ys.iter().copied().fold(f32::INFINITY, f32::min).max(0.0);
        let x1 = xs.iter().copied().fold(0.0, f32::max);
        let y1 = ys.iter().copied().fold(0.0, f32::max);
        Region {
            page,
            x: x0.floor() as u32,
            y: y0.floor() as u32,
            w: (x1.ceil() - x0.floor()).max(1.0) as u32,
            h: (y1.ceil() - y0.floor()).max(1.0) as u32,
        }
    }

    fn width(&self) -> f32 {
        dist(self.quad[0], self.quad[1]).max(dist(self.quad[2], self.quad[3]))
    }

    fn height(&self) -> f32 {
        dist(self.quad[0], self.quad[3]).max(dist(self.quad[1], self.quad[2]))
    }
}

/// Time spent in the last [`PpOcr::read`], for benchmarks and tracing.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    pub det_ms: f64,
    pub cls_ms: f64,
    pub rec_ms: f64,
    pub lines: usize,
}

/// The PP-OCRv4 reader. See the module documentation for its threading.
pub struct PpOcr {
    det: Mutex<Session>,
    rec: Mutex<Session>,
    cls: Option<Mutex<Session>>,
    /// Index 0 is the CTC blank, then the dictionary, then ' '.
    alphabet: Vec<char>,
    det_max_side: u32,
    last: Mutex<Timings>,
}

/// ONNX Runtime allows one environment per process; it is created on the first load and kept.
static ENV: Mutex<Option<Environment>> = Mutex::new(None);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn environment(lib: &Path) -> Result<Environment, PpOcrError> {
    let mut env = lock(&ENV);
    if let Some(e) = env.as_ref() {
        return Ok(e.clone());
    }
    let runtime_err = |reason: String| PpOcrError::Runtime { path: lib.to_path_buf(), reason };
    let built = ort::init_from(lib)
        .map_err(|e| runtime_err(e.to_string()))?
        .with_name("nightpermit-ppocr")
        .build()
        .map_err(|e| runtime_err(e.to_string()))?;
    *env = Some(built.clone());
    Ok(built)
}

fn session(env: &Environment, path: &Path) -> Result<Session, PpOcrError> {
    let build = || -> ort::Result<Session> {
        Session::builder(env)?
            .with_intra_threads(1)?
            .with_inter_threads(1)?
            .with_intra_op_spinning(false)?
            .commit_from_file(path)
    };
    build().map_err(|e| PpOcrError::Model { path: path.to_path_buf(), reason: e.to_string() })
}

/// The alphabet as RapidOCR's CTCLabelDecode builds it: blank, the dictionary lines, ' '.
fn alphabet_from_metadata(dict: &str) -> Result<Vec<char>, String> {
    let mut alphabet = vec!['\u{0}'];
    for (i, line) in dict.lines().enumerate() {
        let mut chars = line.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => alphabet.push(c),
            _ => return Err(format!("entry {} is {line:?}, not one character", i + 1)),
        }
    }
    if alphabet.len() < 2 {
        return Err("it is empty".into());
    }
    alphabet.push(' ');
    Ok(alphabet)
}

impl PpOcr {
    /// Loads det/rec/cls models and the runtime from `dir`; a missing or corrupt file is an error
    /// naming the file and `make deps`. The direction classifier is optional: without its file,
    /// lines are not checked for being upside down.
    pub fn load(dir: &Path) -> Result<Self, PpOcrError> {
        let file = |name: &str| -> Result<PathBuf, PpOcrError> {
            let path = dir.join(name);
            if path.is_file() {
                Ok(path)
            } else {
                Err(PpOcrError::Missing { path, dir: dir.to_path_buf() })
            }
        };
        let lib = file(RUNTIME_LIB)?;
        let det_path = file(DET_MODEL)?;
        let rec_path = file(REC_MODEL)?;
        let env = environment(&lib)?;
        let det = session(&env, &det_path)?;
        let rec = session(&env, &rec_path)?;
        let alphabet_err = |reason: String| PpOcrError::Alphabet { path: rec_path.clone(), reason };
        let dict = rec
            .metadata()
            .map_err(|e| alphabet_err(e.to_string()))?
            .custom("character")
            .ok_or_else(|| alphabet_err("the key is absent".into()))?;
        let alphabet = alphabet_from_metadata(&dict).map_err(alphabet_err)?;
        let cls_path = dir.join(CLS_MODEL);
        let cls = if cls_path.is_file() {
            Some(Mutex::new(session(&env, &cls_path)?))
        } else {
            tracing::warn!(path = %cls_path.display(), "PP-OCR direction classifier missing; upside-down lines will not be turned (fix: make deps)");
            None
        };
        tracing::debug!(dir = %dir.display(), classes = alphabet.len(), "PP-OCRv4 loaded");
        Ok(PpOcr {
            det: Mutex::new(det),
            rec: Mutex::new(rec),
            cls,
            alphabet,
            det_max_side: DET_MAX_SIDE,
            last: Mutex::new(Timings::default()),
        })
    }

    /// `$NIGHTPERMIT_MODELS_DIR`, else `$HOME/.cache/nightpermit/models` (where
    /// `scripts/install-models.sh` installs by default).
    pub fn default_dir() -> PathBuf {
        if let Some(dir) = std::env::var_os("NIGHTPERMIT_MODELS_DIR").filter(|d| !d.is_empty()) {
            return PathBuf::from(dir);
        }
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
        home.join(".cache/nightpermit/models")
    }

    /// Sets the longer side the page is scaled down to for detection (default [`DET_MAX_SIDE`]).
    pub fn with_det_max_side(mut self, px: u32) -> Self {
        self.det_max_side = px.max(32);
        self
    }

    /// Timings of the last [`PpOcr::read`] on this reader.
    pub fn last_timings(&self) -> Timings {
        *lock(&self.last)
    }

    /// Text line boxes on the page, in page pixels, in reading order (top to bottom, then left
    /// to right on a line).
    pub fn detect(&self, page: &RgbImage) -> Result<Vec<TextBox>, PpOcrError> {
        let (w, h) = page.dimensions();
        if w == 0 || h == 0 {
            return Ok(Vec::new());
        }
        let scale = (self.det_max_side as f32 / w.max(h) as f32).min(1.0);
        let round32 = |v: u32| (((v as f32 * scale) / 32.0).round() as u32 * 32).max(32);
        let (rw, rh) = (round32(w), round32(h));
        let resized = imageops::resize(page, rw, rh, FilterType::Triangle);
        let input = bgr_chw(&[&resized], rw, rh);
        let mut det = lock(&self.det);
        let outputs = det
            .run(ort::inputs![tensor_ref([1, 3, rh as usize, rw as usize], &input, "detection")?])
            .map_err(|e| inference("detection", e))?;
        let (shape, pred) = outputs[0].try_extract_tensor::<f32>().map_err(|e| inference("detection", e))?;
        if shape.len() != 4 || shape[2] != rh as i64 || shape[3] != rw as i64 {
            return Err(PpOcrError::Inference {
                model: "detection",
                reason: format!("output shape {:?}, expected [1, 1, {rh}, {rw}]", &shape[..]),
            });
        }
        let mut boxes = db_boxes(pred, rw, rh, w, h);
        sort_reading_order(&mut boxes);
        Ok(boxes)
    }

    /// Recognises line crops (each resized to height 48 and normalised as PaddleOCR does, CTC
    /// greedy decode). For each crop: the text and, per character, its confidence 0..100 (the
    /// max softmax probability of that character's time step × 100). Crops are sorted by aspect
    /// ratio and run [`REC_BATCH`] at a time; results come back in the order of `crops`.
    pub fn recognize(&self, crops: &[RgbImage]) -> Result<Vec<(String, Vec<f32>)>, PpOcrError> {
        let mut out = vec![(String::new(), Vec::new()); crops.len()];
        let ratio = |img: &RgbImage| img.width() as f32 / img.height().max(1) as f32;
        let mut order: Vec<usize> =
            (0..crops.len()).filter(|&i| crops[i].width() > 0 && crops[i].height() > 0).collect();
        order.sort_by(|&a, &b| ratio(&crops[a]).total_cmp(&ratio(&crops[b])));
        let mut rec = lock(&self.rec);
        for batch in order.chunks(REC_BATCH) {
            let max_ratio = batch.iter().map(|&i| ratio(&crops[i])).fold(REC_MIN_W as f32 / REC_H as f32, f32::max);
            let width = (REC_H as f32 * max_ratio) as u32;
            let resized: Vec<RgbImage> = batch.iter().map(|&i| resize_to_height(&crops[i], REC_H, width)).collect();
            let refs: Vec<&RgbImage> = resized.iter().collect();
            let input = bgr_chw(&refs, width, REC_H);
            let outputs = rec
                .run(ort::inputs![tensor_ref([batch.len(), 3, REC_H as usize, width as usize], &input, "recognition")?])
                .map_err(|e| inference("recognition", e))?;
            let (shape, probs) = outputs[0].try_extract_tensor::<f32>().map_err(|e| inference("recognition", e))?;
            let (steps, classes) = match shape[..] {
                [n, t, c] if n == batch.len() as i64 && c == self.alphabet.len() as i64 => (t as usize, c as usize),
                _ => {
                    return Err(PpOcrError::Inference {
                        model: "recognition",
                        reason: format!(
                            "output shape {:?}, expected [{}, T, {}] (alphabet and model disagree; fix: make deps)",
                            &shape[..],
                            batch.len(),
                            self.alphabet.len()
                        ),
                    })
                }
            };
            for (k, &i) in batch.iter().enumerate() {
                let one = &probs[k * steps * classes..(k + 1) * steps * classes];
                out[i] = ctc_greedy_decode(one, steps, classes, &self.alphabet);
            }
        }
        Ok(out)
    }

    /// Turns crops that the direction classifier finds upside down (label 180 with p > 0.9).
    /// A no-op without the classifier model.
    pub fn classify(&self, crops: &mut [RgbImage]) -> Result<(), PpOcrError> {
        let Some(cls) = &self.cls else { return Ok(()) };
        let mut cls = lock(cls);
        let idx: Vec<usize> = (0..crops.len()).filter(|&i| crops[i].width() > 0 && crops[i].height() > 0).collect();
        for batch in idx.chunks(CLS_BATCH) {
            let resized: Vec<RgbImage> = batch.iter().map(|&i| resize_to_height(&crops[i], CLS_H, CLS_W)).collect();
            let refs: Vec<&RgbImage> = resized.iter().collect();
            let input = bgr_chw(&refs, CLS_W, CLS_H);
            let outputs = cls
                .run(ort::inputs![tensor_ref([batch.len(), 3, CLS_H as usize, CLS_W as usize], &input, "classifier")?])
                .map_err(|e| inference("classifier", e))?;
            let (shape, probs) = outputs[0].try_extract_tensor::<f32>().map_err(|e| inference("classifier", e))?;
            if shape[..] != [batch.len() as i64, 2] {
                return Err(PpOcrError::Inference {
                    model: "classifier",
                    reason: format!("output shape {:?}, expected [{}, 2]", &shape[..], batch.len()),
                });
            }
            for (k, &i) in batch.iter().enumerate() {
                let (p0, p180) = (probs[2 * k], probs[2 * k + 1]);
                if p180 > p0 && p180 > CLS_THRESH {
                    imageops::rotate180_in_place(&mut crops[i]);
                }
            }
        }
        Ok(())
    }

    /// Detect + classify + recognise every line → `OcrLine`s with characters, confidences and
    /// the line's region on page `page_no`, in reading order.
    pub fn read(&self, page: &RgbImage, page_no: u32) -> Result<Vec<OcrLine>, PpOcrError> {
        let t0 = Instant::now();
        let boxes = self.detect(page)?;
        let t1 = Instant::now();
        let mut crops: Vec<RgbImage> = boxes.iter().map(|b| crop_line(page, b)).collect();
        self.classify(&mut crops)?;
        let t2 = Instant::now();
        let texts = self.recognize(&crops)?;
        let t3 = Instant::now();
        let mut lines = Vec::with_capacity(boxes.len());
        for (b, (text, confs)) in boxes.iter().zip(texts) {
            if confs.is_empty() {
                continue;
            }
            let mean = confs.iter().sum::<f32>() / confs.len() as f32 / 100.0;
            if mean < TEXT_SCORE {
                continue;
            }
            let chars = text.chars().zip(confs).map(|(ch, conf)| OcrChar { ch, conf }).collect();
            lines.push(OcrLine { chars, region: Some(b.region(page_no)) });
        }
        let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1000.0;
        let t = Timings { det_ms: ms(t0, t1), cls_ms: ms(t1, t2), rec_ms: ms(t2, t3), lines: lines.len() };
        tracing::debug!(
            page = page_no,
            boxes = boxes.len(),
            lines = t.lines,
            det_ms = t.det_ms,
            cls_ms = t.cls_ms,
            rec_ms = t.rec_ms,
            "PP-OCR page read"
        );
        *lock(&self.last) = t;
        Ok(lines)
    }
}

fn inference(model: &'static str, e: impl std::fmt::Display) -> PpOcrError {
    PpOcrError::Inference { model, reason: e.to_string() }
}

fn tensor_ref<'a, const N: usize>(
    shape: [usize; N],
    data: &'a [f32],
    model: &'static str,
) -> Result<TensorRef<'a, f32>, PpOcrError> {
    TensorRef::from_array_view((shape, data)).map_err(|e| inference(model, e))
}

/// NCHW float input, channels in BGR order (the models were trained on OpenCV images), each
/// value `(v / 255 - 0.5) / 0.5`; images narrower than `width` are zero-padded on the right.
fn bgr_chw(images: &[&RgbImage], width: u32, height: u32) -> Vec<f32> {
    let (w, h) = (width as usize, height as usize);
    let mut out = vec![0.0f32; images.len() * 3 * h * w];
    for (n, img) in images.iter().enumerate() {
        let base = n * 3 * h * w;
        for (x, y, Rgb([r, g, b])) in img.enumerate_pixels() {
            let (x, y) = (x as usize, y as usize);
            if x >= w || y >= h {
                continue;
            }
            let at = base + y * w + x;
            out[at] = *b as f32 / 127.5 - 1.0;
            out[at + h * w] = *g as f32 / 127.5 - 1.0;
            out[at + 2 * h * w] = *r as f32 / 127.5 - 1.0;
        }
    }
    out
}

/// Height `height`, width in proportion (rounded up) but at most `max_w`, as PaddleOCR's
/// resize_norm_img.
fn resize_to_height(img: &RgbImage, height: u32, max_w: u32) -> RgbImage {
    let ratio = img.width() as f32 / img.height().max(1) as f32;
    let w = ((height as f32 * ratio).ceil() as u32).clamp(1, max_w.max(1));
    imageops::resize(img, w, height, FilterType::Triangle)
}

/// CTC greedy decoding of one sequence: `probs` is `steps × classes` softmax probabilities,
/// class 0 the blank, `alphabet[k]` the character of class `k`. Repeated classes collapse; each
/// character's confidence is the probability of the first time step of its run × 100.
pub fn ctc_greedy_decode(probs: &[f32], steps: usize, classes: usize, alphabet: &[char]) -> (String, Vec<f32>) {
    let mut text = String::new();
    let mut confs = Vec::new();
    let mut prev = usize::MAX;
    for t in 0..steps {
        let Some(row) = probs.get(t * classes..(t + 1) * classes) else { break };
        let (best, p) =
            row.iter()
                .copied()
                .enumerate()
                .fold((0, f32::NEG_INFINITY), |acc, (k, p)| if p > acc.1 { (k, p) } else { acc });
        if best != 0 && best != prev {
            if let Some(&ch) = alphabet.get(best) {
                text.push(ch);
                confs.push(p * 100.0);
            }
        }
        prev = best;
    }
    (text, confs)
}

fn dist(a: [f32; 2], b: [f32; 2]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

/// A rotated rectangle: centre, unit vector along its first side, half extents along that side
/// and its normal.
#[derive(Debug, Clone, Copy)]
struct RotRect {
    c: [f64; 2],
    u: [f64; 2],
    half: [f64; 2],
}

impl RotRect {
    fn short_side(&self) -> f64 {
        2.0 * self.half[0].min(self.half[1])
    }

    fn corners(&self) -> [[f64; 2]; 4] {
        let v = [-self.u[1], self.u[0]];
        let at = |a: f64, b: f64| {
            [
                self.c[0] + a * self.half[0] * self.u[0] + b * self.half[1] * v[0],
                self.c[1] + a * self.half[0] * self.u[1] + b * self.half[1] * v[1],
            ]
        };
        [at(-1.0, -1.0), at(1.0, -1.0), at(1.0, 1.0), at(-1.0, 1.0)]
    }

    /// The rectangle offset by `d` on every side: exactly the minimum-area rectangle of the
    /// rectangle's round-joined offset polygon (pyclipper JT_ROUND), which RapidOCR computes.
    fn grown(&self, d: f64) -> RotRect {
        RotRect { half: [self.half[0] + d, self.half[1] + d], ..*self }
    }
}

/// Minimum-area enclosing rectangle of integer points (cv2.minAreaRect), by rotating an edge of
/// the convex hull. `None` for fewer than 3 hull points (a line or a dot: no area).
fn min_area_rect(points: &[Point<i32>]) -> Option<RotRect> {
    let hull = convex_hull(points.to_vec());
    if hull.len() < 3 {
        return None;
    }
    let pts: Vec<[f64; 2]> = hull.iter().map(|p| [p.x as f64, p.y as f64]).collect();
    let mut best: Option<(f64, RotRect)> = None;
    for i in 0..pts.len() {
        let (a, b) = (pts[i], pts[(i + 1) % pts.len()]);
        let len = ((b[0] - a[0]).powi(2) + (b[1] - a[1]).powi(2)).sqrt();
        if len == 0.0 {
            continue;
        }
        let u = [(b[0] - a[0]) / len, (b[1] - a[1]) / len];
        let v = [-u[1], u[0]];
        let (mut umin, mut umax, mut vmin, mut vmax) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for p in &pts {
            let pu = p[0] * u[0] + p[1] * u[1];
            let pv = p[0] * v[0] + p[1] * v[1];
            umin = umin.min(pu);
            umax = umax.max(pu);
            vmin = vmin.min(pv);
            vmax = vmax.max(pv);
        }
        let area = (umax - umin) * (vmax - vmin);
        if best.as_ref().is_none_or(|(a, _)| area < *a) {
            let (cu, cv) = ((umin + umax) / 2.0, (vmin + vmax) / 2.0);
            let c = [cu * u[0] + cv * v[0], cu * u[1] + cv * v[1]];
            best = Some((area, RotRect { c, u, half: [(umax - umin) / 2.0, (vmax - vmin) / 2.0] }));
        }
    }
    best.map(|(_, r)| r)
}

/// Mean of `pred` (w × h) over the pixels inside the convex quadrilateral `quad`
/// (RapidOCR box_score_fast).
fn box_score(pred: &[f32], w: u32, h: u32, quad: &[[f64; 2]; 4]) -> f32 {
    let clampi = |v: f64, hi: u32| (v.max(0.0) as u32).min(hi.saturating_sub(1));
    let xmin = clampi(quad.iter().map(|p| p[0]).fold(f64::MAX, f64::min).floor(), w);
    let xmax = clampi(quad.iter().map(|p| p[0]).fold(f64::MIN, f64::max).ceil(), w);
    let ymin = clampi(quad.iter().map(|p| p[1]).fold(f64::MAX, f64::min).floor(), h);
    let ymax = clampi(quad.iter().map(|p| p[1]).fold(f64::MIN, f64::max).ceil(), h);
    // Inside a convex polygon: on the same side of every edge (either orientation), with half
    // a pixel of tolerance as cv2.fillPoly includes the boundary pixels.
    let inside = |x: f64, y: f64| {
        let mut sign = 0.0f64;
        for i in 0..4 {
            let (a, b) = (quad[i], quad[(i + 1) % 4]);
            let len = ((b[0] - a[0]).powi(2) + (b[1] - a[1]).powi(2)).sqrt().max(1e-9);
            let cross = ((b[0] - a[0]) * (y - a[1]) - (b[1] - a[1]) * (x - a[0])) / len;
            if cross.abs() <= 0.5 {
                continue;
            }
            if sign == 0.0 {
                sign = cross.signum();
            } else if cross.signum() != sign {
                return false;
            }
        }
        true
    };
    let (mut sum, mut n) = (0.0f64, 0u32);
    for y in ymin..=ymax {
        for x in xmin..=xmax {
            if inside(x as f64, y as f64) {
                sum += pred[(y * w + x) as usize] as f64;
                n += 1;
            }
        }
    }
    if n == 0 {
        0.0
    } else {
        (sum / n as f64) as f32
    }
}

/// DB post-processing of a probability map `pred` (`w` × `h`, row-major) into boxes on a
/// `dest_w` × `dest_h` page (RapidOCR DBPostProcess + filter_tag_det_res).
fn db_boxes(pred: &[f32], w: u32, h: u32, dest_w: u32, dest_h: u32) -> Vec<TextBox> {
    // Threshold + 2×2 dilation (cv2.dilate, anchor at the kernel centre: max over x-1..x, y-1..y).
    let on = |x: u32, y: u32| pred[(y * w + x) as usize] > DB_THRESH;
    let bitmap = GrayImage::from_fn(w, h, |x, y| {
        let hit =
            on(x, y) || (x > 0 && on(x - 1, y)) || (y > 0 && on(x, y - 1)) || (x > 0 && y > 0 && on(x - 1, y - 1));
        Luma([if hit { 255 } else { 0 }])
    });
    let (sx, sy) = (dest_w as f64 / w as f64, dest_h as f64 / h as f64);
    let mut boxes = Vec::new();
    for contour in
        find_contours::<i32>(&bitmap).into_iter().filter(|c| c.border_type == BorderType::Outer).take(DB_MAX_CANDIDATES)
    {
        let Some(rect) = min_area_rect(&contour.points) else { continue };
        if rect.short_side() < DB_MIN_SIZE as f64 {
            continue;
        }
        let score = box_score(pred, w, h, &rect.corners());
        if score < DB_BOX_THRESH {
            continue;
        }
        let (side_a, side_b) = (2.0 * rect.half[0], 2.0 * rect.half[1]);
        let distance = side_a * side_b * DB_UNCLIP_RATIO as f64 / (2.0 * (side_a + side_b));
        let grown = rect.grown(distance);
        if grown.short_side() < DB_MIN_SIZE as f64 + 2.0 {
            continue;
        }
        let to_page = |p: [f64; 2]| {
            [
                (p[0] * sx).round().clamp(0.0, dest_w as f64 - 1.0) as f32,
                (p[1] * sy).round().clamp(0.0, dest_h as f64 - 1.0) as f32,
            ]
        };
        let quad = order_clockwise(grown.corners().map(to_page));
        let b = TextBox { quad, score };
        if b.width() <= 3.0 || b.height() <= 3.0 {
            continue;
        }
        boxes.push(b);
    }
    boxes
}

/// Top-left, top-right, bottom-right, bottom-left (RapidOCR order_points_clockwise).
fn order_clockwise(mut pts: [[f32; 2]; 4]) -> [[f32; 2]; 4] {
    pts.sort_by(|a, b| a[0].total_cmp(&b[0]));
    let (mut left, mut right) = ([pts[0], pts[1]], [pts[2], pts[3]]);
    left.sort_by(|a, b| a[1].total_cmp(&b[1]));
    right.sort_by(|a, b| a[1].total_cmp(&b[1]));
    [left[0], right[0], right[1], left[1]]
}

/// Reading order: by top-left corner, top to bottom; boxes whose tops differ by less than half
/// the smaller box height are on one line and go left to right (RapidOCR sorted_boxes).
fn sort_reading_order(boxes: &mut [TextBox]) {
    boxes.sort_by(|a, b| a.quad[0][1].total_cmp(&b.quad[0][1]).then(a.quad[0][0].total_cmp(&b.quad[0][0])));
    for i in 0..boxes.len().saturating_sub(1) {
        for j in (0..=i).rev() {
            let (a, b) = (&boxes[j], &boxes[j + 1]);
            let same_line = (b.quad[0][1] - a.quad[0][1]).abs() < 0.5 * a.height().min(b.height());
            if same_line && b.quad[0][0] < a.quad[0][0] {
                boxes.swap(j, j + 1);
            } else {
                break;
            }
        }
    }
}

/// The line's pixels, straightened (RapidOCR get_rotate_crop_image): an affine map of the box
/// onto an upright rectangle, edge pixels replicated; turned 90° counter-clockwise when the crop
/// is at least 1.5 times taller than wide.
fn crop_line(page: &RgbImage, b: &TextBox) -> RgbImage {
    let (cw, ch) = (b.width() as u32, b.height() as u32);
    if cw == 0 || ch == 0 {
        return RgbImage::new(0, 0);
    }
    let [p0, p1, _, p3] = b.quad;
    let (maxx, maxy) = (page.width().saturating_sub(1) as f32, page.height().saturating_sub(1) as f32);
    let axis_aligned = p0[1] == p1[1] && p0[0] == p3[0];
    let mut out = if axis_aligned {
        let (x, y) = (p0[0].max(0.0) as u32, p0[1].max(0.0) as u32);
        imageops::crop_imm(page, x, y, cw.min(page.width() - x), ch.min(page.height() - y)).to_image()
    } else {
        let mut out = RgbImage::new(cw, ch);
        let (du, dv) = (
            [(p1[0] - p0[0]) / cw as f32, (p1[1] - p0[1]) / cw as f32],
            [(p3[0] - p0[0]) / ch as f32, (p3[1] - p0[1]) / ch as f32],
        );
        let map = move |u: f32, v: f32| {
            ((p0[0] + u * du[0] + v * dv[0]).clamp(0.0, maxx), (p0[1] + u * du[1] + v * dv[1]).clamp(0.0, maxy))
        };
        warp_into_with(page, map, Interpolation::Bicubic, Rgb([255, 255, 255]), &mut out);
        out
    };
    if out.height() as f32 >= 1.5 * out.width() as f32 {
        out = imageops::rotate270(&out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn models() -> Option<PpOcr> {
        let dir = PpOcr::default_dir();
        if !dir.join(DET_MODEL).is_file() {
            eprintln!("skipped: PP-OCR models not installed in {} (run `make deps`)", dir.display());
            return None;
        }
        match PpOcr::load(&dir) {
            Ok(ocr) => Some(ocr),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn ctc_collapses_repeats_and_drops_blanks() {
        // Classes: 0 blank, 1 '夜', 2 '间', 3 ' '.
        let alphabet = ['\u{0}', '夜', '间', ' '];
        #[rustfmt::skip]
        let probs = [
            0.1, 0.8, 0.05, 0.05, // 夜
            0.2, 0.7, 0.05, 0.05, // 夜 again: collapsed
            0.9, 0.05, 0.03, 0.02, // blank
            0.1, 0.6, 0.2, 0.1,   // 夜 after a blank: a second character
            0.1, 0.1, 0.75, 0.05, // 间
            0.1, 0.1, 0.1, 0.7,   // space
            0.95, 0.0, 0.05, 0.0, // blank
        ];
        let (text, confs) = ctc_greedy_decode(&probs, 7, 4, &alphabet);
        assert_eq!(text, "夜夜间 ");
        let expected = [80.0, 60.0, 75.0, 70.0];
        assert_eq!(confs.len(), expected.len());
        for (c, e) in confs.iter().zip(expected) {
            assert!((c - e).abs() < 1e-3, "{c} vs {e}");
        }
        assert_eq!(ctc_greedy_decode(&probs[..0], 0, 4, &alphabet), (String::new(), vec![]));
    }

    #[test]
    fn alphabet_is_blank_dictionary_space() {
        let a = alphabet_from_metadata("a\n夜\n间").unwrap_or_default();
        assert_eq!(a, vec!['\u{0}', 'a', '夜', '间', ' ']);
        assert!(alphabet_from_metadata("ab\nc").is_err());
    }

    #[test]
    fn min_area_rect_and_unclip_of_a_rotated_rectangle() {
        // A 40 × 10 rectangle's corners (axis-aligned) and a few inner points.
        let pts: Vec<Point<i32>> =
            [(0, 0), (40, 0), (40, 10), (0, 10), (20, 5), (3, 7)].iter().map(|&(x, y)| Point::new(x, y)).collect();
        let r = min_area_rect(&pts).unwrap_or(RotRect { c: [0.0; 2], u: [1.0, 0.0], half: [0.0; 2] });
        let mut sides = [2.0 * r.half[0], 2.0 * r.half[1]];
        sides.sort_by(f64::total_cmp);
        assert!((sides[0] - 10.0).abs() < 1e-9 && (sides[1] - 40.0).abs() < 1e-9, "{sides:?}");
        assert!((r.c[0] - 20.0).abs() < 1e-9 && (r.c[1] - 5.0).abs() < 1e-9);
        let g = r.grown(2.0);
        assert!((g.short_side() - 14.0).abs() < 1e-9);
        assert!(min_area_rect(&[Point::new(0, 0), Point::new(5, 0)]).is_none());
    }

    #[test]
    fn reading_order_is_rows_then_left_to_right() {
        let b =
            |x: f32, y: f32| TextBox { quad: [[x, y], [x + 50.0, y], [x + 50.0, y + 20.0], [x, y + 20.0]], score: 1.0 };
        let mut boxes = vec![b(200.0, 103.0), b(10.0, 50.0), b(10.0, 100.0), b(300.0, 48.0)];
        sort_reading_order(&mut boxes);
        let xy: Vec<(f32, f32)> = boxes.iter().map(|b| (b.quad[0][0], b.quad[0][1])).collect();
        assert_eq!(xy, vec![(10.0, 50.0), (300.0, 48.0), (10.0, 100.0), (200.0, 103.0)]);
    }

    #[test]
    fn a_missing_models_dir_names_the_file_and_make_deps() {
        let err = PpOcr::load(Path::new("/nonexistent/ppocr-models")).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("libonnxruntime.so") && err.contains("make deps"), "{err}");
    }

    #[test]
    fn the_reader_can_be_shared_between_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<PpOcr>();
    }

    #[test]
    fn a_corrupt_model_is_an_error_naming_it() {
        let dir = PpOcr::default_dir();
        if !dir.join(RUNTIME_LIB).is_file() {
            eprintln!("skipped: PP-OCR models not installed in {} (run `make deps`)", dir.display());
            return;
        }
        let tmp = std::env::temp_dir().join(format!("ppocr-corrupt-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&tmp);
        for name in [RUNTIME_LIB, REC_MODEL] {
            let _ = std::os::unix::fs::symlink(dir.join(name), tmp.join(name));
        }
        let _ = std::fs::write(tmp.join(DET_MODEL), b"not an onnx model");
        let err = PpOcr::load(&tmp).err().map(|e| e.to_string()).unwrap_or_default();
        let _ = std::fs::remove_dir_all(&tmp);
        assert!(err.contains(DET_MODEL) && err.contains("make deps"), "{err}");
    }

    fn render_lines(lines: &[&str]) -> Option<RgbImage> {
        let path = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc";
        let Ok(bytes) = std::fs::read(path) else {
            eprintln!("skipped: {path} not installed (run `make deps`)");
            return None;
        };
        let font = ab_glyph::FontVec::try_from_vec_and_index(bytes, 0).ok()?;
        let mut img = RgbImage::from_pixel(1400, 120 + 110 * lines.len() as u32, Rgb([255, 255, 255]));
        for (i, line) in lines.iter().enumerate() {
            let y = 60 + 110 * i as i32;
            imageproc::drawing::draw_text_mut(
                &mut img,
                Rgb([0, 0, 0]),
                80,
                y,
                ab_glyph::PxScale::from(56.0),
                &font,
                line,
            );
        }
        Some(img)
    }

    #[test]
    fn reads_a_rendered_page() {
        let Some(ocr) = models() else { return };
        let expected = ["夜间施工许可证申请表", "施工单位：城建集团有限公司", "作业时间 22:00-06:00"];
        let Some(page) = render_lines(&expected) else { return };
        let lines = match ocr.read(&page, 1) {
            Ok(lines) => lines,
            Err(e) => panic!("{e}"),
        };
        let texts: Vec<String> = lines.iter().map(|l| l.text()).collect();
        assert_eq!(texts.len(), expected.len(), "{texts:?}");
        for (got, want) in texts.iter().zip(expected) {
            let norm = |s: &str| {
                s.chars().filter(|c| !c.is_whitespace()).map(|c| if c == '：' { ':' } else { c }).collect::<String>()
            };
            assert_eq!(norm(got), norm(want), "{texts:?}");
        }
        for l in &lines {
            let r = l.region.unwrap_or(Region { page: 0, x: 0, y: 0, w: 0, h: 0 });
            assert_eq!(r.page, 1);
            assert!(r.h > 30 && r.h < 110 && r.w > 300, "{r:?}");
            assert!(l.chars.iter().all(|c| (0.0..=100.0).contains(&c.conf)));
        }
    }

    #[test]
    fn an_upside_down_line_is_turned_and_a_blank_page_has_no_lines() {
        let Some(ocr) = models() else { return };
        let Some(page) = render_lines(&["夜间施工噪声排放许可"]) else { return };
        let turned = imageops::rotate180(&page);
        let texts: Vec<String> = ocr.read(&turned, 1).unwrap_or_default().iter().map(|l| l.text()).collect();
        assert_eq!(texts, vec!["夜间施工噪声排放许可".to_string()]);
        let blank = RgbImage::from_pixel(800, 600, Rgb([255, 255, 255]));
        assert!(ocr.read(&blank, 1).unwrap_or_default().is_empty());
    }
}
