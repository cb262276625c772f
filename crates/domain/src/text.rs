//! What text the record accepts. Free text may hold tab, line feed and the CRLF line
//! breaks browsers send; every other control character (C0, DEL, C1) is refused before
//! it reaches a database (PostgreSQL cannot store NUL) or a log line. Names and codes
//! also refuse the bidirectional embedding, override and isolate characters, which make
//! a name display differently from what it is (U+202A–U+202E, U+2066–U+2069).

use crate::FieldError;
use crate::rules::Rule;

/// Whether `c` is a bidirectional embedding, override or isolate character.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The first control character `s` may not hold: any C0 control but tab and line feed,
/// a carriage return not followed by a line feed, DEL, or a C1 control.
pub fn forbidden_control(s: &str) -> Option<char> {
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\t' | '\n' => {}
            '\r' if chars.peek() == Some(&'\n') => {}
            c if c.is_control() => return Some(c),
            _ => {}
        }
    }
    None
}

/// Checks a piece of free text: no forbidden control characters.
pub fn check_text(field: &str, s: &str) -> Result<(), FieldError> {
    match forbidden_control(s) {
        Some(c) => Err(FieldError::new(
            field,
            Rule::ControlCharacter,
            format!(
                "must not contain control characters (found U+{:04X}); only tab and line breaks are allowed",
                u32::from(c)
            ),
        )),
        None => Ok(()),
    }
}

/// Checks any text a request carries, at the edge: no forbidden control characters
/// (see [`forbidden_control`]) and no bidirectional controls, which no field of this
/// record needs and which make text display as something it is not.
pub fn check_input(field: &str, s: &str) -> Result<(), FieldError> {
    check_text(field, s)?;
    match s.chars().find(|c| is_bidi_control(*c)) {
        Some(c) => Err(FieldError::new(
            field,
            Rule::BidiControl,
            format!(
                "must not contain bidirectional override characters (found U+{:04X})",
                u32::from(c)
            ),
        )),
        None => Ok(()),
    }
}

/// Checks a one-line name: not blank, at most `max_chars` characters, no control
/// characters at all (not even tab or line breaks) and no bidirectional controls.
pub fn check_name(field: &str, s: &str, max_chars: usize) -> Result<(), FieldError> {
    if s.trim().is_empty() {
        return Err(FieldError::new(field, Rule::Required, "must not be blank"));
    }
    if s.chars().count() > max_chars {
        return Err(FieldError::new(
            field,
            Rule::MaxLength,
            format!("must be at most {max_chars} characters"),
        ));
    }
    if let Some(c) = s.chars().find(|c| c.is_control()) {
        return Err(FieldError::new(
            field,
            Rule::ControlCharacter,
            format!(
                "must not contain control characters (found U+{:04X})",
                u32::from(c)
            ),
        ));
    }
    if let Some(c) = s.chars().find(|c| is_bidi_control(*c)) {
        return Err(FieldError::new(
            field,
            Rule::BidiControl,
            format!(
                "must not contain bidirectional override characters (found U+{:04X})",
                u32::from(c)
            ),
        ));
    }
    Ok(())
}

/// Whether `s` is a code: 1–64 characters of lowercase ASCII letters, digits, `-`
/// and `_` (organisation codes, logins).
pub fn is_code(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_text_keeps_tabs_and_line_breaks_only() {
        assert_eq!(forbidden_control("経過良好\n\tリハビリ継続\r\n"), None);
        assert_eq!(forbidden_control("sato\0"), Some('\0'));
        assert_eq!(forbidden_control("a\rb"), Some('\r'));
        assert_eq!(forbidden_control("a\r"), Some('\r'));
        assert_eq!(forbidden_control("\u{7f}"), Some('\u{7f}'));
        assert_eq!(forbidden_control("\u{85}"), Some('\u{85}'));
        assert_eq!(forbidden_control("\u{1b}[31m"), Some('\u{1b}'));
        assert!(check_text("note", "ok\r\n").is_ok());
        assert_eq!(
            check_input("note", "a\u{202E}b").map_err(|e| e.code.as_str()),
            Err("bidi_control")
        );
        assert_eq!(
            check_text("note", "x\0").map_err(|e| e.code.as_str()),
            Err("control_character")
        );
    }

    #[test]
    fn names_refuse_controls_bidi_and_length() {
        assert!(check_name("name", "千葉中央病院", 200).is_ok());
        for (bad, rule) in [
            ("", "required"),
            ("   ", "required"),
            ("a\tb", "control_character"),
            ("病院\u{202E}gpj.exe", "bidi_control"),
            ("\u{2066}x", "bidi_control"),
            ("\u{2069}", "bidi_control"),
        ] {
            assert_eq!(
                check_name("name", bad, 200).map_err(|e| e.code.as_str()),
                Err(rule),
                "{bad:?}"
            );
        }
        assert_eq!(
            check_name("name", &"あ".repeat(201), 200).map_err(|e| e.code.as_str()),
            Err("max_length")
        );
        assert!(check_name("name", &"あ".repeat(200), 200).is_ok());
    }

    #[test]
    fn codes_are_restricted_ascii() {
        assert!(is_code("acute-1"));
        assert!(is_code("home_nursing-2"));
        for bad in [
            "",
            "Acute",
            "a b",
            "a\0",
            "ａ",
            "x".repeat(65).as_str(),
            "<s>",
        ] {
            assert!(!is_code(bad), "{bad:?}");
        }
    }
}
