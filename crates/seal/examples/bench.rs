//! `make bench-seal`: render + seal with both signatures, and offline verification, per permit
//! on one core (medians of 30), beside pyHanko validating the same file.

use nightpermit_seal::*;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let dir = std::env::temp_dir().join(format!("np-seal-bench-{}", std::process::id()));
    let keys = KeyDir::new(dir.join("keys"));
    let authorities = [
        Authority {
            district: "jingan".into(), department: "construction".into(), name: "静安区建设管理委员会".into()
        },
        Authority {
            district: "jingan".into(), department: "environment".into(), name: "静安区生态环境局".into()
        },
    ];
    keys.init(&authorities).expect("keys");
    let (ka, ca) = keys.signer(&authorities[0]).expect("signer");
    let (kb, cb) = keys.signer(&authorities[1]).expect("signer");
    let content = PermitContent::example();
    let root = keys.root().expect("root");
    let (mut render_ms, mut seal_ms, mut verify_ms) = (Vec::new(), Vec::new(), Vec::new());
    let mut pdf = Vec::new();
    for _ in 0..30 {
        let t = Instant::now();
        let base = render_permit(&content).expect("render");
        render_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        pdf = seal_permit(
            &content,
            [
                (&ka, &ca, "seal-construction", "静安区建设管理委员会"),
                (&kb, &cb, "seal-environment", "静安区生态环境局"),
            ],
            "D:20261128120000+08'00'",
        )
        .expect("seal");
        seal_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        drop(base);
        let t = Instant::now();
        assert!(verify_pdf(&pdf, std::slice::from_ref(&root)).valid);
        verify_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    println!("permit PDF: {} bytes", pdf.len());
    println!("render only: median {:.1} ms", median(render_ms));
    println!("render + seal (2 signatures): median {:.1} ms", median(seal_ms));
    println!("verify (2 signatures, offline): median {:.2} ms", median(verify_ms));
    let file = dir.join("permit.pdf");
    let root_pem = dir.join("root.pem");
    std::fs::write(&file, &pdf).expect("write");
    std::fs::write(&root_pem, keys::to_pem(&root).expect("pem")).expect("write");
    let mut py = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let out = std::process::Command::new("pyhanko")
            .args(["sign", "validate", "--trust"])
            .arg(&root_pem)
            .arg("--no-revocation-check")
            .arg(&file)
            .output();
        match out {
            Ok(o) if o.status.success() => py.push(t.elapsed().as_secs_f64() * 1000.0),
            _ => {
                println!("pyHanko not available (make deps installs it)");
                return;
            }
        }
    }
    println!("pyHanko validate (whole process, same file): median {:.0} ms", median(py));
    let _ = std::fs::remove_dir_all(&dir);
}
