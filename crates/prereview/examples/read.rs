//! Reads one real file with the pipeline and prints what each reader saw, the seals and the
//! problem: `cargo run -p nightpermit-prereview --example read -- KIND FILE [tesseract]`.
use nightpermit_domain::MaterialKind;
use nightpermit_prereview::*;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(kind), Some(path)) = (args.get(1).and_then(|k| k.parse::<MaterialKind>().ok()), args.get(2)) else {
        eprintln!("usage: read KIND FILE [tesseract]");
        std::process::exit(2);
    };
    let bytes = std::fs::read(path).expect("file");
    let content_type = if path.ends_with(".pdf") { "application/pdf" } else { "image/png" }.to_string();
    let tesseract_only = args.get(3).is_some_and(|a| a == "tesseract");
    let mut readers = Readers {
        tesseract: Some(ocr::OcrEngine::new("chi_sim").expect("tesseract")),
        ppocr: if tesseract_only { None } else { ppocr::PpOcr::load(&ppocr::PpOcr::default_dir()).ok() },
    };
    let t = std::time::Instant::now();
    let reading = read_material(&mut readers, &MaterialFile { id: "m".into(), kind, content_type, bytes });
    println!(
        "read in {:?}; seals {:?}; problem {:?}",
        t.elapsed(),
        reading.seals,
        reading.problem.as_ref().map(|p| &p.message)
    );
    for p in &reading.pages {
        println!("--- page {}", p.page);
        for l in &p.lines {
            let min = l.chars.iter().map(|c| c.conf).fold(100.0f32, f32::min);
            println!("{:>5.0} {:?} {}", min, l.region.map(|r| (r.x, r.y, r.w, r.h)), l.text());
        }
    }
}
