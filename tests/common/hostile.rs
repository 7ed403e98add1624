//! Hostile files, built byte by byte as an attacker would: each one took the service down or
//! held it for minutes before the limits (issue "The service must not fall over").
#![allow(dead_code)]

/// A PDF with a valid cross-reference table around the given object bodies (object 1 must be
/// the catalog), written by the PDF writer the synthetic fixtures use.
pub fn pdf_with_objects(objects: &[Vec<u8>]) -> Vec<u8> {
    nightpermit_prereview::synth::pdf_from_objects(objects)
}

fn catalog_and_pages(extra: &str) -> Vec<Vec<u8>> {
    vec![
        format!("<< /Type /Catalog /Pages 2 0 R {extra} >>").into_bytes(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>".to_vec(),
    ]
}

/// Arrays nested `depth` levels deep in the catalog (1,000 overflowed the stack).
pub fn nested_arrays(depth: usize) -> Vec<u8> {
    pdf_with_objects(&catalog_and_pages(&format!("/Deep {}{}", "[".repeat(depth), "]".repeat(depth))))
}

/// Dictionaries nested `depth` levels deep (5,000 overflowed the stack).
pub fn nested_dicts(depth: usize) -> Vec<u8> {
    pdf_with_objects(&catalog_and_pages(&format!("/Deep {}{}", "<< /A ".repeat(depth), ">> ".repeat(depth))))
}

/// `count` signature dictionaries whose byte ranges each claim the whole file, with
/// `contents_bytes` of signature value each: every one would make a naive verifier hash the
/// file once more.
pub fn many_signatures(count: usize, contents_bytes: usize) -> Vec<u8> {
    let mut objects = catalog_and_pages("");
    let filler = "0".repeat(contents_bytes * 2);
    for _ in 0..count {
        objects.push(format!("<< /Type /Sig /ByteRange [0 10 20 999999999] /Contents <{filler}> >>").into_bytes());
    }
    pdf_with_objects(&objects)
}

/// One signature whose byte range has a negative length (panicked with a 500).
pub fn negative_byte_range() -> Vec<u8> {
    let mut objects = catalog_and_pages("");
    objects.push(b"<< /Type /Sig /ByteRange [0 -40 0 -1] /Contents <3000> >>".to_vec());
    pdf_with_objects(&objects)
}

/// A page of `side` × `side` points, `pages` times: tiny on disk, gigapixels when rendered.
pub fn huge_pages(pages: usize, side: u32) -> Vec<u8> {
    let kids: Vec<String> = (0..pages).map(|i| format!("{} 0 R", i + 3)).collect();
    let mut objects = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        format!("<< /Type /Pages /Kids [{}] /Count {pages} >>", kids.join(" ")).into_bytes(),
    ];
    for _ in 0..pages {
        objects.push(format!("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {side} {side}] >>").into_bytes());
    }
    pdf_with_objects(&objects)
}

/// One page whose content stream is `inflated_bytes` of drawing operators deflated to a small
/// file (a 201 KB file inflating to 100 MB stalled every other applicant's pre-review).
pub fn inflating_drawing(inflated_bytes: usize) -> Vec<u8> {
    use std::io::Write;
    let op = b"0 0 m 595 842 l S\n";
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let mut written = 0;
    while written < inflated_bytes {
        let _ = enc.write_all(op);
        written += op.len();
    }
    let data = enc.finish().unwrap_or_default();
    let mut stream = format!("<< /Length {} /Filter /FlateDecode >>\nstream\n", data.len()).into_bytes();
    stream.extend_from_slice(&data);
    stream.extend_from_slice(b"\nendstream");
    pdf_with_objects(&[
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>".to_vec(),
        stream,
    ])
}

/// Resident memory of this process in bytes, from /proc (the tests hold the server in-process,
/// so this is the server's memory).
pub fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<u64>().ok()).map(|kb| kb * 1024))
        })
        .unwrap_or(0)
}

/// Peak resident memory of this process (VmHWM) in bytes.
pub fn peak_resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<u64>().ok()).map(|kb| kb * 1024))
        })
        .unwrap_or(0)
}
