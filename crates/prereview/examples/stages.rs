//! Times each stage of reading one synthetic page (release build): where the seconds go.
use nightpermit_domain::MaterialKind;
use nightpermit_prereview::synth::{self, Format, Variant};
use nightpermit_prereview::*;
use std::time::Instant;

fn main() {
    let font = synth::font(0).expect("font");
    let case = synth::case(0, chrono::NaiveDate::from_ymd_opt(2026, 12, 1).expect("date"));
    let dpi: u32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(200);
    let (_, bytes) =
        synth::file(&synth::document(MaterialKind::ResidentNotice, &case), Variant::Clean, Format::Png, dpi, &font, 1);
    let mut engine = nightpermit_prereview::Readers {
        tesseract: Some(ocr::OcrEngine::new("chi_sim").expect("tesseract")),
        ppocr: nightpermit_prereview::ppocr::PpOcr::load(&nightpermit_prereview::ppocr::PpOcr::default_dir()).ok(),
    };
    let lap = |name: &str, t: &mut Instant| {
        println!("{name:<16} {:>7.1} ms", t.elapsed().as_secs_f64() * 1000.0);
        *t = Instant::now();
    };
    let mut t = Instant::now();
    let rgb = pages::decode_image(&bytes).expect("decode");
    lap("decode", &mut t);
    let seals = pages::find_seals(&rgb, 1);
    lap("seals", &mut t);
    let gray = pages::ocr_image(&rgb);
    lap("ocr_image", &mut t);
    let _ = pages::is_blank(&gray);
    lap("is_blank", &mut t);
    let _ = pages::legibility_problem(&gray);
    lap("legibility", &mut t);
    let gray = pages::flatten_background(&gray);
    lap("flatten", &mut t);
    let _ = pages::is_sideways(&gray);
    lap("is_sideways", &mut t);
    let skew = pages::skew_angle(&gray);
    lap("skew_angle", &mut t);
    let lines = engine.tesseract.as_mut().expect("tesseract").read(&gray, 200, 1).expect("ocr");
    lap("tesseract", &mut t);
    if let Some(pp) = &engine.ppocr {
        let rgb = image::DynamicImage::ImageLuma8(gray.clone()).to_rgb8();
        let _ = pp.read(&rgb, 1);
        lap("ppocr", &mut t);
    }
    let low = lines.iter().filter(|l| l.chars.iter().any(|c| c.conf < text::SURE)).count();
    let file =
        MaterialFile { id: "m".into(), kind: MaterialKind::ResidentNotice, content_type: "image/png".into(), bytes };
    let _ = read_material_with(&mut engine, &file, 0);
    lap("whole, no 2nd", &mut t);
    let _ = read_material_with(&mut engine, &file, 4);
    lap("whole, 4 2nd", &mut t);
    println!("seals {} skew {skew} lines {} doubtful {low}", seals.len(), lines.len());
}
