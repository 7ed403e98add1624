//! The unified social credit code (统一社会信用代码, GB 32100-2015).

use std::fmt;

/// The 31 characters a credit code may contain, in the order that gives each its value
/// (I, O, Z, S, V are left out because they read like digits).
pub const CREDIT_CODE_ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";

/// Weights of the first 17 positions: 3^i mod 31.
const WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreditCodeError {
    #[error("统一社会信用代码应为18位，实际为{0}位")]
    WrongLength(usize),
    #[error("统一社会信用代码第{position}位含非法字符“{character}”")]
    BadCharacter { position: usize, character: char },
    #[error("统一社会信用代码校验位错误：应为“{expected}”，实际为“{found}”")]
    BadCheckCharacter { expected: char, found: char },
}

/// A credit code whose check character has been verified: holding one means it is well formed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CreditCode(String);

fn value_of(c: char) -> Option<u32> {
    CREDIT_CODE_ALPHABET.chars().position(|a| a == c).and_then(|p| u32::try_from(p).ok())
}

impl CreditCode {
    /// Parses a code as typed by a person: surrounding spaces are ignored, letters may be lower case.
    pub fn parse(input: &str) -> Result<Self, CreditCodeError> {
        let code: String = input.trim().to_ascii_uppercase();
        let chars: Vec<char> = code.chars().collect();
        if chars.len() != 18 {
            return Err(CreditCodeError::WrongLength(chars.len()));
        }
        let mut values = [0u32; 18];
        for (i, c) in chars.iter().enumerate() {
            values[i] = value_of(*c).ok_or(CreditCodeError::BadCharacter { position: i + 1, character: *c })?;
        }
        let expected = Self::check_character(&values[..17]);
        if chars[17] != expected {
            return Err(CreditCodeError::BadCheckCharacter { expected, found: chars[17] });
        }
        Ok(Self(code))
    }

    /// The check character for the 17 leading values.
    fn check_character(values: &[u32]) -> char {
        let sum: u32 = values.iter().zip(WEIGHTS).map(|(v, w)| v * w).sum();
        let check = (31 - sum % 31) % 31;
        CREDIT_CODE_ALPHABET.chars().nth(check as usize).unwrap_or('0')
    }

    /// Completes 17 leading characters with their check character; `None` if any is outside
    /// the alphabet. Used to build valid codes (test data, fixtures).
    pub fn complete(first17: &str) -> Option<Self> {
        let chars: Vec<char> = first17.trim().to_ascii_uppercase().chars().collect();
        if chars.len() != 17 {
            return None;
        }
        let values: Option<Vec<u32>> = chars.iter().map(|c| value_of(*c)).collect();
        let check = Self::check_character(&values?);
        let mut code: String = chars.into_iter().collect();
        code.push(check);
        Some(Self(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completes_and_accepts_valid_codes() {
        for first17 in ["91310106MA1FL0D44", "91310000132200821", "12310000425011230"] {
            let code = CreditCode::complete(first17).expect("alphabet");
            assert_eq!(CreditCode::parse(code.as_str()), Ok(code.clone()));
            assert_eq!(CreditCode::parse(&code.as_str().to_lowercase()), Ok(code));
        }
    }

    #[test]
    fn known_public_code_is_valid() {
        // 91310000132200821H is a real Shanghai company's published code.
        assert!(CreditCode::parse("91310000132200821H").is_ok());
    }

    #[test]
    fn rejects_every_wrong_check_character() {
        let good = CreditCode::complete("91310106MA1FL0D44").expect("alphabet");
        let good_check = good.as_str().chars().last().expect("18 chars");
        for c in CREDIT_CODE_ALPHABET.chars().filter(|c| *c != good_check) {
            let bad = format!("{}{}", &good.as_str()[..17], c);
            assert!(
                matches!(CreditCode::parse(&bad), Err(CreditCodeError::BadCheckCharacter { .. })),
                "{bad} accepted"
            );
        }
    }

    #[test]
    fn rejects_wrong_length_and_characters() {
        assert_eq!(CreditCode::parse("9131"), Err(CreditCodeError::WrongLength(4)));
        assert_eq!(CreditCode::parse(""), Err(CreditCodeError::WrongLength(0)));
        assert!(matches!(
            CreditCode::parse("91310106MA1FL0D4IX"),
            Err(CreditCodeError::BadCharacter { position: 17, character: 'I' })
        ));
        assert!(matches!(CreditCode::parse("91310106MA1FL0D4中X"), Err(CreditCodeError::BadCharacter { .. })));
    }

    #[test]
    fn single_substitution_is_detected() {
        let good = CreditCode::complete("91310106MA1FL0D44").expect("alphabet");
        let mut bad: Vec<char> = good.as_str().chars().collect();
        bad[5] = if bad[5] == '7' { '8' } else { '7' };
        let bad: String = bad.into_iter().collect();
        assert!(CreditCode::parse(&bad).is_err());
    }
}
