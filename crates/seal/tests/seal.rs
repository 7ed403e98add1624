//! Sign → verify, tampering, appending, foreign roots, rotation; and independent tools (qpdf,
//! pdftotext, pyHanko) judging the same files.

use nightpermit_seal::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn temp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("np-seal-{tag}-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

fn authorities() -> [Authority; 2] {
    [
        Authority {
            district: "jingan".into(), department: "construction".into(), name: "静安区建设管理委员会".into()
        },
        Authority {
            district: "jingan".into(), department: "environment".into(), name: "静安区生态环境局".into()
        },
    ]
}

fn content() -> PermitContent {
    PermitContent::example()
}

fn sealed(keys: &KeyDir) -> Vec<u8> {
    let [a, b] = authorities();
    let (ka, ca) = keys.signer(&a).expect("signer");
    let (kb, cb) = keys.signer(&b).expect("signer");
    seal_permit(
        &content(),
        [(&ka, &ca, "seal-construction", &a.name), (&kb, &cb, "seal-environment", &b.name)],
        "D:20261128120000+08'00'",
    )
    .expect("seal")
}

fn setup(tag: &str) -> (PathBuf, KeyDir, Vec<u8>) {
    let dir = temp(tag);
    let keys = KeyDir::new(dir.join("keys"));
    assert_eq!(keys.init(&authorities()).expect("init"), 3);
    let pdf = sealed(&keys);
    (dir, keys, pdf)
}

#[test]
fn sign_then_verify() {
    let (_dir, keys, pdf) = setup("ok");
    let report = verify_pdf(&pdf, &[keys.root().expect("root")]);
    assert!(report.valid, "{report:#?}");
    assert_eq!(report.permit_number.as_deref(), Some("jingan-2026-00001"));
    assert_eq!(report.signatures.len(), 2);
    assert_eq!(report.signatures[0].department, "construction");
    assert_eq!(report.signatures[1].signer, "静安区生态环境局");
    assert!(report.signatures[1].covers_bytes > report.signatures[0].covers_bytes, "the second covers the first");
    assert!(report.signatures.iter().all(|s| s.intact && s.signature_valid && s.trusted && s.signed_at.is_some()));
    assert!(pdf.len() < 200_000, "subset font keeps the permit small: {} bytes", pdf.len());
}

#[test]
fn one_flipped_byte_anywhere_in_a_signed_range_is_caught() {
    let (_dir, keys, pdf) = setup("flip");
    let roots = [keys.root().expect("root")];
    // Positions across the file: header, page content, font, first signature, final trailer.
    let positions = [10, pdf.len() / 5, pdf.len() / 3, pdf.len() / 2, pdf.len() * 3 / 4, pdf.len() - 30];
    for pos in positions {
        let mut bad = pdf.clone();
        bad[pos] ^= 0x01;
        let r = verify_pdf(&bad, &roots);
        assert!(!r.valid, "flip at {pos} of {} went unnoticed: {r:#?}", pdf.len());
    }
}

#[test]
fn appended_bytes_are_reported() {
    let (_dir, keys, pdf) = setup("append");
    let mut more = pdf.clone();
    more.extend_from_slice(b"\n% an incremental update added after sealing\n");
    let r = verify_pdf(&more, &[keys.root().expect("root")]);
    assert!(!r.valid);
    assert!(r.appended_bytes > 0);
    assert!(r.signatures.iter().all(|s| s.intact), "the signed part itself is intact");
}

#[test]
fn another_root_is_untrusted_and_rotation_keeps_old_permits_valid() {
    let (_dir, keys, pdf) = setup("roots");
    let (_other_dir, other, _) = setup("other");
    let r = verify_pdf(&pdf, &[other.root().expect("root")]);
    assert!(!r.valid);
    assert!(r.signatures.iter().all(|s| s.intact && s.signature_valid && !s.trusted));
    // Rotate the construction key: the old permit still verifies, new ones use the new key.
    let before = keys.published().expect("published").len();
    keys.rotate(&authorities()[0]).expect("rotate");
    assert_eq!(keys.published().expect("published").len(), before + 1);
    assert!(verify_pdf(&pdf, &[keys.root().expect("root")]).valid);
    assert!(verify_pdf(&sealed(&keys), &[keys.root().expect("root")]).valid);
}

#[cfg(unix)]
#[test]
fn private_keys_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let (_dir, keys, _) = setup("mode");
    for stem in ["root", "jingan-construction", "jingan-environment"] {
        let mode = std::fs::metadata(keys.dir.join(format!("{stem}.key"))).expect("key").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{stem}");
    }
}

fn tool(name: &str) -> Command {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(found, "{name} is missing (fix: run `make deps`)");
    Command::new(name)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write");
    p
}

#[test]
fn independent_tools_agree() {
    let (dir, keys, pdf) = setup("tools");
    let file = write(&dir, "permit.pdf", &pdf);
    let root = write(&dir, "root.pem", keys::to_pem(&keys.root().expect("root")).expect("pem").as_bytes());

    let qpdf = tool("qpdf").arg("--check").arg(&file).output().expect("qpdf");
    assert!(qpdf.status.success(), "qpdf: {}", String::from_utf8_lossy(&qpdf.stdout));

    let text = tool("pdftotext").arg("-enc").arg("UTF-8").arg(&file).arg("-").output().expect("pdftotext");
    let text = String::from_utf8_lossy(&text.stdout);
    for expected in
        ["夜间施工作业许可证", "静安区某商业综合体项目", "91310106MA1FL0D44W", "GB 12523-2011", "夜间不得超过55 dB"]
    {
        assert!(text.contains(expected), "pdftotext lacks {expected}: {text}");
    }

    let validate = |f: &Path| {
        tool("pyhanko")
            .args(["sign", "validate", "--trust"])
            .arg(&root)
            .arg("--no-revocation-check")
            .arg(f)
            .output()
            .expect("pyhanko")
    };
    let good = validate(&file);
    let out = String::from_utf8_lossy(&good.stdout).to_string() + &String::from_utf8_lossy(&good.stderr);
    assert!(good.status.success(), "pyHanko rejected the permit: {out}");
    // One line per signature: `<field>:<hash>:INTACT:TRUSTED,...`.
    assert_eq!(out.matches(":INTACT:TRUSTED").count(), 2, "{out}");
    assert!(!out.contains("INVALID"), "{out}");

    let mut bad = pdf.clone();
    let at = bad.len() / 3;
    bad[at] ^= 0x01;
    let tampered = write(&dir, "tampered.pdf", &bad);
    let out = validate(&tampered);
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "pyHanko accepted a tampered permit: {text}");
    assert!(text.matches(":INTACT:TRUSTED").count() < 2, "{text}");
}
