//! A fixed-budget fuzz loop over the verifier, run in `make test`: sealed permits mutated at
//! random (bytes flipped, cut, inserted, byte ranges rewritten) and random bytes. Whatever the
//! input, verification answers — no panic, no stack overflow — and nothing altered verifies.
//! Failing inputs proptest finds are kept in `proptest-regressions/` and replayed first.

use nightpermit_seal::*;
use proptest::prelude::*;
use std::sync::OnceLock;

fn sealed() -> &'static (Vec<u8>, x509_cert::Certificate) {
    static SEALED: OnceLock<(Vec<u8>, x509_cert::Certificate)> = OnceLock::new();
    SEALED.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("np-fuzz-{}", std::process::id()));
        let keys = KeyDir::new(dir.join("keys"));
        let authorities = [
            Authority {
                district: "jingan".into(),
                department: "construction".into(),
                name: "静安区建设管理委员会".into(),
            },
            Authority {
                district: "jingan".into(), department: "environment".into(), name: "静安区生态环境局".into()
            },
        ];
        keys.init(&authorities).expect("keys");
        let (ka, ca) = keys.signer(&authorities[0]).expect("signer");
        let (kb, cb) = keys.signer(&authorities[1]).expect("signer");
        let pdf = seal_permit(
            &PermitContent::example(),
            [
                (&ka, &ca, "seal-construction", &authorities[0].name),
                (&kb, &cb, "seal-environment", &authorities[1].name),
            ],
            "D:20261128120000+08'00'",
        )
        .expect("seal");
        (pdf, keys.root().expect("root"))
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, xor: u8 },
    Cut { at: usize },
    Insert { at: usize, bytes: Vec<u8> },
    ByteRange { which: usize, values: [i64; 4] },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(at, xor)| Mutation::Flip { at, xor }),
        any::<usize>().prop_map(|at| Mutation::Cut { at }),
        (
            any::<usize>(),
            proptest::collection::vec(prop_oneof![Just(b'['), Just(b'<'), Just(b'('), any::<u8>()], 1..64)
        )
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        (0usize..2, proptest::array::uniform4(prop_oneof![Just(0i64), Just(-1), Just(i64::MAX), -1000i64..200_000]))
            .prop_map(|(which, values)| Mutation::ByteRange { which, values }),
    ]
}

fn apply(pdf: &[u8], m: &Mutation) -> Vec<u8> {
    let mut out = pdf.to_vec();
    match m {
        Mutation::Flip { at, xor } => {
            let i = at % out.len();
            out[i] ^= xor;
        }
        Mutation::Cut { at } => out.truncate(at % out.len()),
        Mutation::Insert { at, bytes } => {
            let i = at % out.len();
            out.splice(i..i, bytes.iter().copied());
        }
        Mutation::ByteRange { which, values } => {
            // Rewrite the n-th /ByteRange array.
            let start = byte_ranges(&out).nth(*which);
            if let Some(start) = start {
                if let Some(len) = out[start..].iter().position(|b| *b == b']') {
                    let new = format!("{} {} {} {}", values[0], values[1], values[2], values[3]);
                    out.splice(start..start + len, new.bytes());
                }
            }
        }
    }
    out
}

/// Byte offsets just after each `/ByteRange [`.
fn byte_ranges(pdf: &[u8]) -> impl Iterator<Item = usize> + '_ {
    const KEY: &[u8] = b"/ByteRange [";
    pdf.windows(KEY.len()).enumerate().filter(|(_, w)| *w == KEY).map(|(i, _)| i + KEY.len())
}

/// The byte ranges' gaps (`b..c`): where the signature values sit.
fn signature_gaps(pdf: &[u8]) -> Vec<std::ops::Range<usize>> {
    byte_ranges(pdf)
        .filter_map(|start| {
            let len = pdf[start..].iter().position(|b| *b == b']')?;
            let nums: Vec<usize> = String::from_utf8_lossy(&pdf[start..start + len])
                .split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect();
            (nums.len() == 4).then(|| nums[1]..nums[2])
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn mutated_permits_never_verify_and_never_crash(m in mutation()) {
        let (pdf, root) = sealed();
        let mutated = apply(pdf, &m);
        let report = verify_pdf(&mutated, std::slice::from_ref(root));
        prop_assert!(!report.problems.iter().any(|p| p.code == "VERIFY_INTERNAL_ERROR"), "{m:?} panicked the verifier");
        if mutated != *pdf {
            // The one place a change may go unnoticed is inside a signature value's hex string
            // (the gap of each byte range), which by the PDF design no signature covers.
            let in_gap = match m {
                Mutation::Flip { at, .. } => signature_gaps(pdf).iter().any(|g| g.contains(&(at % pdf.len()))),
                _ => false,
            };
            prop_assert!(!report.valid || in_gap, "{m:?} verified");
        }
    }

    #[test]
    fn random_bytes_are_answered(bytes in proptest::collection::vec(any::<u8>(), 0..4096), pdf_header in any::<bool>()) {
        let (_, root) = sealed();
        let mut input = if pdf_header { b"%PDF-1.7\n".to_vec() } else { Vec::new() };
        input.extend(bytes);
        let report = verify_pdf(&input, std::slice::from_ref(root));
        prop_assert!(!report.valid);
        prop_assert!(!report.problems.is_empty());
        prop_assert!(!report.problems.iter().any(|p| p.code == "VERIFY_INTERNAL_ERROR"));
    }
}
