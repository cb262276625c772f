//! Kana normalisation for patient search: カタカナ, ひらがな and half-width ｶﾀｶﾅ all find
//! the same patient.

use renkei_domain::identifier::is_invisible;
use unicode_normalization::UnicodeNormalization;

/// NFKC (half-width → full-width, combined voiced marks), hiragana → katakana, spaces
/// and invisible characters (zero-width space, byte-order mark …) removed; a spacing
/// voiced mark (゛ ゜) after a kana combines with it like the half-width ﾞ ﾟ do. Returns
/// `None` when something other than kana, the long-vowel mark or the middle dot remains.
pub fn normalize_kana(input: &str) -> Option<String> {
    let mut out = String::new();
    let marks_combined = input
        .chars()
        .filter(|c| !is_invisible(*c))
        .map(|c| match c {
            '゛' => '\u{3099}',
            '゜' => '\u{309A}',
            other => other,
        });
    for ch in marks_combined.nfkc() {
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

    #[test]
    fn drops_invisible_characters_and_combines_spacing_marks() {
        assert_eq!(normalize_kana("ヤマダ\u{200B}").as_deref(), Some("ヤマダ"));
        assert_eq!(
            normalize_kana("\u{FEFF}ﾔﾏ\u{200D}ﾀﾞ").as_deref(),
            Some("ヤマダ")
        );
        assert_eq!(normalize_kana("ヤマタ゛").as_deref(), Some("ヤマダ"));
        assert_eq!(normalize_kana("やまた゛").as_deref(), Some("ヤマダ"));
        assert_eq!(normalize_kana("ハ゜ン").as_deref(), Some("パン"));
        assert_eq!(normalize_kana("ゔぁ").as_deref(), Some("ヴァ"));
    }
}
