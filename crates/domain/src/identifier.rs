//! Organisation-local patient identifiers (カルテ番号): one written form per number, so
//! that `0012345`, full-width `００１２３４５` and `0012345` followed by a zero-width space
//! are the same identifier when stored, compared and searched.

use crate::rules::Rule;
use unicode_normalization::UnicodeNormalization;

use crate::FieldError;

/// The longest identifier, in characters (after normalisation).
pub const MAX_IDENTIFIER_CHARS: usize = 64;

/// Characters that show nothing and are dropped wherever they appear: zero-width space,
/// joiners, word joiner and invisible operators, the byte-order mark, soft hyphen and the
/// Mongolian vowel separator.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{180E}' | '\u{200B}'..='\u{200D}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}'
    )
}

/// Direction marks and overrides, refused in identifiers: they make one number display
/// as another.
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// The one stored form of an identifier: invisible characters dropped, Unicode NFKC
/// (full-width digits and letters become ASCII, half-width kana full-width), surrounding
/// white space removed.
pub fn normalize_identifier(raw: &str) -> String {
    let folded: String = raw.chars().filter(|c| !is_invisible(*c)).nfkc().collect();
    folded.trim().to_owned()
}

/// The normalised identifier, or why it cannot be one (reported on `field`). The length
/// limit holds for what was sent as well as for the stored form.
pub fn parse_identifier(field: &str, raw: &str) -> Result<String, FieldError> {
    let value = normalize_identifier(raw);
    if value.is_empty()
        || raw.chars().count() > MAX_IDENTIFIER_CHARS
        || value.chars().count() > MAX_IDENTIFIER_CHARS
        || value.chars().any(|c| c.is_control() || is_bidi_control(c))
    {
        return Err(FieldError::new(
            field,
            Rule::Format,
            format!("must be 1–{MAX_IDENTIFIER_CHARS} printable characters"),
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_form_per_number() {
        for raw in [
            "0012345",
            "００１２３４５",
            "0012345\u{200B}",
            "\u{FEFF}0012345",
            " 00123\u{200D}45　",
            "\u{3000}００１２３４５\u{2060}",
        ] {
            assert_eq!(
                parse_identifier("v", raw).as_deref(),
                Ok("0012345"),
                "{raw:?}"
            );
        }
        assert_eq!(normalize_identifier("ＡＢ－１２"), "AB-12");
        assert_eq!(normalize_identifier("ｶﾙﾃ1"), "カルテ1");
    }

    #[test]
    fn refuses_blank_control_and_direction_characters() {
        for raw in [
            "",
            "  ",
            "\u{200B}",
            "12\u{0000}3",
            "12\n3",
            "12\u{202E}3",
            "12\u{2066}3",
        ] {
            let e = parse_identifier("identifiers[0].value", raw).expect_err(raw);
            assert_eq!(
                (e.field.as_str(), e.code.as_str()),
                ("identifiers[0].value", "format")
            );
        }
        assert!(parse_identifier("v", &"9".repeat(MAX_IDENTIFIER_CHARS)).is_ok());
        assert!(parse_identifier("v", &"9".repeat(MAX_IDENTIFIER_CHARS + 1)).is_err());
    }
}
