//! Kana normalisation for patient search: カタカナ, ひらがな and half-width ｶﾀｶﾅ all find
//! the same patient.

use unicode_normalization::UnicodeNormalization;

/// NFKC (half-width → full-width, combined voiced marks), hiragana → katakana, spaces
/// removed. Returns `None` when something other than kana, the long-vowel mark or the
/// middle dot remains.
pub fn normalize_kana(input: &str) -> Option<String> {
    let mut out = String::new();
    for ch in input.nfkc() {
        let ch = match ch {
            'ぁ'..='ゖ' => char::from_u32(ch as u32 + 0x60).unwrap_or(ch),
            'ゝ' | 'ゞ' => char::from_u32(ch as u32 + 0x60).unwrap_or(ch),
            other => other,
        };
        if ch.is_whitespace() {
            continue;
        }
        if !matches!(ch, 'ァ'..='ヺ' | 'ー' | 'ヽ' | 'ヾ' | '・') {
            return None;
        }
        out.push(ch);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_hiragana_and_half_width() {
        assert_eq!(
            normalize_kana("ヤマダ タロウ").as_deref(),
            Some("ヤマダタロウ")
        );
        assert_eq!(normalize_kana("やまだ").as_deref(), Some("ヤマダ"));
        assert_eq!(normalize_kana("ﾔﾏﾀﾞ").as_deref(), Some("ヤマダ"));
        assert_eq!(normalize_kana("　ガッコウ　").as_deref(), Some("ガッコウ"));
        assert_eq!(normalize_kana("山田"), None);
        assert_eq!(normalize_kana("yamada"), None);
        assert_eq!(normalize_kana("%"), None);
    }
}
