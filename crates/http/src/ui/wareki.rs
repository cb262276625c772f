//! Japanese eras (和暦): formatting a 西暦 date as 明治/大正/昭和/平成/令和, and reading
//! dates people type in a search box (`19480503`, `1948-05-03`, `S23.5.3`, `昭和23年5月3日`).
//!
//! Pure functions, no I/O. 西暦 is what Renkei shows first (ui.md §3 C1); the era is a
//! secondary hint on birth dates because elderly patients state their birth year in it.
//! Dates before 1873-01-01 (the Gregorian calendar's adoption, 明治6年) have no era here.

use chrono::{Datelike, NaiveDate};

/// One era: its name, its one-letter abbreviation and its first day (Gregorian).
struct Era {
    name: &'static str,
    letter: char,
    start: (i32, u32, u32),
}

/// Newest first.
const ERAS: [Era; 5] = [
    Era {
        name: "令和",
        letter: 'R',
        start: (2019, 5, 1),
    },
    Era {
        name: "平成",
        letter: 'H',
        start: (1989, 1, 8),
    },
    Era {
        name: "昭和",
        letter: 'S',
        start: (1926, 12, 25),
    },
    Era {
        name: "大正",
        letter: 'T',
        start: (1912, 7, 30),
    },
    Era {
        name: "明治",
        letter: 'M',
        start: (1868, 1, 25),
    },
];

/// The earliest date an era is given for (明治6年1月1日, the Gregorian calendar in Japan).
fn earliest() -> NaiveDate {
    NaiveDate::from_ymd_opt(1873, 1, 1).unwrap_or(NaiveDate::MIN)
}

fn start_of(era: &Era) -> NaiveDate {
    let (y, m, d) = era.start;
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN)
}

/// The era of `date` and the year within it (1 = 元年).
fn era_of(date: NaiveDate) -> Option<(&'static Era, i32)> {
    if date < earliest() {
        return None;
    }
    ERAS.iter().find(|e| date >= start_of(e)).map(|e| {
        let year = date.year() - e.start.0 + 1;
        (e, year)
    })
}

fn year_text(year: i32) -> String {
    if year == 1 {
        "元年".to_owned()
    } else {
        format!("{year}年")
    }
}

/// `昭和23年`, `平成元年` — the era year of `date`, as shown next to a birth date.
pub fn era_year(date: NaiveDate) -> Option<String> {
    era_of(date).map(|(e, y)| format!("{}{}", e.name, year_text(y)))
}

/// `昭和23年5月3日`, `令和元年5月1日`.
pub fn era_date(date: NaiveDate) -> Option<String> {
    era_of(date).map(|(e, y)| {
        format!(
            "{}{}{}月{}日",
            e.name,
            year_text(y),
            date.month(),
            date.day()
        )
    })
}

/// Full years from `birth` to `today` (0 when `today` is before `birth`).
pub fn age(birth: NaiveDate, today: NaiveDate) -> u32 {
    let mut years = today.year() - birth.year();
    if (today.month(), today.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    years.max(0) as u32
}

/// Full-width digits, letters and separators to ASCII (what an IME types), spaces trimmed.
pub fn to_half_width(s: &str) -> String {
    s.trim()
        .chars()
        .map(|c| match c {
            '０'..='９' | 'Ａ'..='Ｚ' | 'ａ'..='ｚ' | '．' | '／' | '－' | '：' => {
                char::from_u32(c as u32 - 0xFEE0).unwrap_or(c)
            }
            'ー' | '―' | '‐' | '−' => '-',
            '　' => ' ',
            other => other,
        })
        .collect()
}

/// A date typed as 西暦: `19480503`, `1948-05-03`, `1948/5/3`, `1948.5.3`, `1948年5月3日`.
pub fn parse_western(input: &str) -> Option<NaiveDate> {
    let s = to_half_width(input);
    if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        let y = s[0..4].parse().ok()?;
        let m = s[4..6].parse().ok()?;
        let d = s[6..8].parse().ok()?;
        return NaiveDate::from_ymd_opt(y, m, d);
    }
    let parts = split_numbers(&s, &['-', '/', '.', '年', '月', '日'])?;
    let [y, m, d] = parts.as_slice() else {
        return None;
    };
    if *y < 1000 {
        return None;
    }
    NaiveDate::from_ymd_opt(*y as i32, *m, *d)
}

/// A date typed as 和暦: `S23.5.3`, `s23/5/3`, `H1.1.8`, `R1-5-1`, `昭和23年5月3日`,
/// `平成元年1月8日`, `昭和23.5.3`. The date must fall inside the named era (`S64.1.8` is
/// not a date: that day is 平成元年).
pub fn parse_era(input: &str) -> Option<NaiveDate> {
    let s = to_half_width(input);
    let (era, rest) = ERAS.iter().find_map(|e| {
        if let Some(rest) = s.strip_prefix(e.name) {
            return Some((e, rest));
        }
        let mut chars = s.chars();
        let first = chars.next()?;
        (first.to_ascii_uppercase() == e.letter).then_some((e, chars.as_str()))
    })?;
    let rest = rest.trim_start().replacen("元", "1", 1);
    let parts = split_numbers(&rest, &['-', '/', '.', '年', '月', '日'])?;
    let [y, m, d] = parts.as_slice() else {
        return None;
    };
    if *y == 0 {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(era.start.0 + *y as i32 - 1, *m, *d)?;
    match era_of(date) {
        Some((found, _)) if std::ptr::eq(found, era) => Some(date),
        _ => None,
    }
}

/// Either form.
pub fn parse_date(input: &str) -> Option<NaiveDate> {
    parse_western(input).or_else(|| parse_era(input))
}

/// Numbers separated by any of `seps` (a trailing separator such as `日` is fine).
fn split_numbers(s: &str, seps: &[char]) -> Option<Vec<u32>> {
    let parts: Vec<&str> = s.split(|c| seps.contains(&c)).collect();
    let parts: Vec<&str> = match parts.split_last() {
        Some((&"", init)) => init.to_vec(),
        _ => parts,
    };
    if parts.is_empty() {
        return None;
    }
    parts
        .iter()
        .map(|p| {
            let p = p.trim();
            if p.is_empty() || p.len() > 4 || !p.bytes().all(|b| b.is_ascii_digit()) {
                None
            } else {
                p.parse().ok()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("valid test date")
    }

    #[test]
    fn era_boundaries() {
        let cases = [
            (d(2019, 5, 1), "令和元年5月1日"),
            (d(2019, 4, 30), "平成31年4月30日"),
            (d(1989, 1, 8), "平成元年1月8日"),
            (d(1989, 1, 7), "昭和64年1月7日"),
            (d(1926, 12, 25), "昭和元年12月25日"),
            (d(1926, 12, 24), "大正15年12月24日"),
            (d(1912, 7, 30), "大正元年7月30日"),
            (d(1912, 7, 29), "明治45年7月29日"),
            (d(1873, 1, 1), "明治6年1月1日"),
            (d(1948, 5, 3), "昭和23年5月3日"),
            (d(2026, 11, 22), "令和8年11月22日"),
        ];
        for (date, want) in cases {
            assert_eq!(era_date(date).as_deref(), Some(want), "{date}");
        }
        assert_eq!(era_year(d(1989, 1, 7)).as_deref(), Some("昭和64年"));
        assert_eq!(era_year(d(1989, 1, 8)).as_deref(), Some("平成元年"));
        assert_eq!(era_year(d(2019, 5, 1)).as_deref(), Some("令和元年"));
        assert_eq!(era_date(d(1872, 12, 31)), None);
    }

    #[test]
    fn ages() {
        assert_eq!(age(d(1948, 5, 3), d(2026, 5, 2)), 77);
        assert_eq!(age(d(1948, 5, 3), d(2026, 5, 3)), 78);
        assert_eq!(age(d(2000, 2, 29), d(2026, 2, 28)), 25);
        assert_eq!(age(d(2000, 2, 29), d(2026, 3, 1)), 26);
        assert_eq!(age(d(2030, 1, 1), d(2026, 1, 1)), 0);
    }

    #[test]
    fn parses_western_dates() {
        for s in [
            "19480503",
            "1948-05-03",
            "1948/5/3",
            "1948.5.3",
            "1948年5月3日",
            "１９４８０５０３",
            " 1948-5-3 ",
        ] {
            assert_eq!(parse_western(s), Some(d(1948, 5, 3)), "{s}");
        }
        for s in [
            "19481301",
            "1948-02-30",
            "48.5.3",
            "S23.5.3",
            "",
            "0012345",
            "やまだ",
        ] {
            assert_eq!(parse_western(s), None, "{s}");
        }
    }

    #[test]
    fn parses_era_dates() {
        for s in [
            "S23.5.3",
            "s23.5.3",
            "S23/5/3",
            "S23-05-03",
            "昭和23年5月3日",
            "昭和23.5.3",
            "Ｓ２３．５．３",
        ] {
            assert_eq!(parse_era(s), Some(d(1948, 5, 3)), "{s}");
        }
        assert_eq!(parse_era("H1.1.8"), Some(d(1989, 1, 8)));
        assert_eq!(parse_era("平成元年1月8日"), Some(d(1989, 1, 8)));
        assert_eq!(parse_era("S64.1.7"), Some(d(1989, 1, 7)));
        assert_eq!(parse_era("R1.5.1"), Some(d(2019, 5, 1)));
        assert_eq!(parse_era("令和元年5月1日"), Some(d(2019, 5, 1)));
        assert_eq!(parse_era("H31.4.30"), Some(d(2019, 4, 30)));
        assert_eq!(parse_era("T1.7.30"), Some(d(1912, 7, 30)));
        assert_eq!(parse_era("M45.7.29"), Some(d(1912, 7, 29)));
        // Outside the named era, or not a date.
        for s in [
            "S64.1.8", "H1.1.7", "H31.5.1", "R1.4.30", "S0.1.1", "S23.2.30", "X23.5.3", "S23",
        ] {
            assert_eq!(parse_era(s), None, "{s}");
        }
        assert_eq!(parse_date("S23.5.3"), parse_date("19480503"));
    }
}
