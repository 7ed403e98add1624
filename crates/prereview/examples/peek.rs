//! Renders one synthetic material, reads it with the real pipeline and prints what OCR saw and
//! the findings: `cargo run -p nightpermit-prereview --example peek -- business_license [variant]`.
use nightpermit_domain::MaterialKind;
use nightpermit_prereview::synth::{self, Format, Variant};
use nightpermit_prereview::*;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let kind: MaterialKind = args.get(1).and_then(|k| k.parse().ok()).unwrap_or(MaterialKind::BusinessLicense);
    let variant = match args.get(2).map(String::as_str) {
        Some("sideways") => Variant::Sideways,
        Some("upside") => Variant::UpsideDown,
        Some("skew") => Variant::Skewed(2.5),
        Some("photo") => Variant::Photo,
        Some("noisy") => Variant::Noisy,
        Some("blurred") => Variant::Blurred,
        _ => Variant::Clean,
    };
    let font = synth::font(0).expect("font");
    let case = synth::case(0, chrono::NaiveDate::from_ymd_opt(2026, 12, 1).expect("date"));
    let doc = synth::document(kind, &case);
    let (ct, bytes) = synth::file(&doc, variant, Format::Png, 200, &font, 1);
    if let Some(out) = args.get(3) {
        std::fs::write(out, &bytes).expect("write");
    }
    let mut engine = nightpermit_prereview::Readers {
        tesseract: Some(ocr::OcrEngine::new("chi_sim").expect("tesseract")),
        ppocr: nightpermit_prereview::ppocr::PpOcr::load(&nightpermit_prereview::ppocr::PpOcr::default_dir()).ok(),
    };
    let t = std::time::Instant::now();
    let reading = read_material(&mut engine, &MaterialFile { id: "m".into(), kind, content_type: ct, bytes });
    println!(
        "read in {:?}; seals {:?}; problem {:?}",
        t.elapsed(),
        reading.seals,
        reading.problem.as_ref().map(|p| &p.message)
    );
    for p in &reading.pages {
        for l in &p.lines {
            let low: String = l.chars.iter().map(|c| if c.conf < text::SURE { '?' } else { '.' }).collect();
            println!("{}\n{}", l.text(), low);
        }
    }
    println!("findings: {:#?}", check_case(&synth::form(&case), &[reading]));
}
