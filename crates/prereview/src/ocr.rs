//! Tesseract, one instance per worker thread (the API object is not Sync), single-threaded
//! inside (OpenMP halves throughput on 2 cores; we parallelise across materials instead).

use crate::findings::Region;
use crate::text::{OcrChar, OcrLine};
use image::GrayImage;
use tesseract::Tesseract;

#[derive(Debug, thiserror::Error)]
pub enum OcrError {
    #[error("Tesseract could not start: {0} (install tesseract-ocr-chi-sim)")]
    Init(String),
    #[error("Tesseract failed: {0}")]
    Recognise(String),
}

/// One Tesseract instance. `set_frame` consumes the instance, so after an error it is created
/// anew (≈0.3 s) on the next call.
pub struct OcrEngine {
    tess: Option<Tesseract>,
    language: String,
}

impl OcrEngine {
    pub fn new(language: &str) -> Result<Self, OcrError> {
        // Must be set before the first Tesseract starts OpenMP.
        std::env::set_var("OMP_THREAD_LIMIT", "1");
        let mut engine = OcrEngine { tess: None, language: language.to_string() };
        engine.tess = Some(engine.create()?);
        Ok(engine)
    }

    fn create(&self) -> Result<Tesseract, OcrError> {
        // Debian's chi_sim is the fast LSTM model: only the LSTM engine works with it.
        Tesseract::new_with_oem(None, Some(&self.language), tesseract::OcrEngineMode::LstmOnly)
            .map_err(|e| OcrError::Init(e.to_string()))
    }

    /// Reads a grey page as a block of text (page segmentation mode 6); lines with
    /// per-character confidences and regions on `page`.
    pub fn read(&mut self, gray: &GrayImage, dpi: u32, page: u32) -> Result<Vec<OcrLine>, OcrError> {
        self.read_with_psm(gray, dpi, page, "6")
    }

    /// Reads an image holding one line of text (mode 7), for a second look at a doubtful line.
    pub fn read_line(&mut self, gray: &GrayImage, dpi: u32, page: u32) -> Result<Vec<OcrLine>, OcrError> {
        self.read_with_psm(gray, dpi, page, "7")
    }

    fn read_with_psm(&mut self, gray: &GrayImage, dpi: u32, page: u32, psm: &str) -> Result<Vec<OcrLine>, OcrError> {
        let tess = match self.tess.take() {
            Some(t) => t,
            None => self.create()?,
        };
        let tess = tess.set_variable("tessedit_pageseg_mode", psm).map_err(|e| OcrError::Recognise(e.to_string()))?;
        let (w, h) = gray.dimensions();
        let width = i32::try_from(w).map_err(|e| OcrError::Recognise(e.to_string()))?;
        let height = i32::try_from(h).map_err(|e| OcrError::Recognise(e.to_string()))?;
        let mut tess = tess
            .set_frame(gray.as_raw(), width, height, 1, width)
            .map_err(|e| OcrError::Recognise(e.to_string()))?
            .set_source_resolution(i32::try_from(dpi).unwrap_or(200))
            .recognize()
            .map_err(|e| OcrError::Recognise(e.to_string()))?;
        let tsv = tess.get_tsv_text(0).map_err(|e| OcrError::Recognise(e.to_string()));
        self.tess = Some(tess);
        Ok(parse_tsv(&tsv?, page))
    }
}

/// Groups Tesseract's word rows (level 5) into lines; each character takes its word's confidence.
/// With chi_sim a "word" is usually one or a few characters, so that is near per-character.
pub fn parse_tsv(tsv: &str, page: u32) -> Vec<OcrLine> {
    let mut lines: Vec<((u32, u32, u32), OcrLine)> = Vec::new();
    for row in tsv.lines() {
        let cols: Vec<&str> = row.split('\t').collect();
        if cols.len() < 12 || cols[0] != "5" {
            continue;
        }
        let num = |i: usize| cols[i].parse::<u32>().unwrap_or(0);
        let key = (num(2), num(3), num(4));
        let conf: f32 = cols[10].parse().unwrap_or(0.0);
        let text = cols[11].trim();
        if text.is_empty() {
            continue;
        }
        let region = Region { page, x: num(6), y: num(7), w: num(8), h: num(9) };
        let chars: Vec<OcrChar> = text.chars().map(|ch| OcrChar { ch, conf }).collect();
        match lines.last_mut() {
            Some((k, line)) if *k == key => {
                // Keep a space between Latin words so codes and numbers do not run together.
                let prev_ascii = line.chars.last().is_some_and(|c| c.ch.is_ascii_alphanumeric());
                let next_ascii = chars.first().is_some_and(|c| c.ch.is_ascii_alphanumeric());
                if prev_ascii && next_ascii {
                    line.chars.push(OcrChar { ch: ' ', conf });
                }
                line.chars.extend(chars);
                line.region = Some(line.region.map(|r| r.union(region)).unwrap_or(region));
            }
            _ => lines.push((key, OcrLine { chars, region: Some(region) })),
        }
    }
    lines.into_iter().map(|(_, l)| l).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsv_rows_become_lines_with_confidences() {
        let tsv = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n\
                   5\t1\t1\t1\t1\t1\t10\t10\t20\t20\t96.5\t名称\n\
                   5\t1\t1\t1\t1\t2\t40\t10\t20\t20\t41.0\t上海\n\
                   5\t1\t1\t1\t2\t1\t10\t40\t80\t20\t90\t9131\n\
                   5\t1\t1\t1\t2\t2\t95\t40\t80\t20\t90\tABCD\n";
        let lines = parse_tsv(tsv, 1);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].text(), "名称上海");
        assert_eq!(lines[0].chars[2].conf, 41.0);
        assert_eq!(lines[1].text(), "9131 ABCD");
        assert_eq!(lines[0].region, Some(Region { page: 1, x: 10, y: 10, w: 50, h: 20 }));
    }
}
