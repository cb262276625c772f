//! A sample SS-MIX2 standardised storage tree for the import tests and the README's
//! example: lab-result files (data kind `OML-11`, HL7 v2.5 `OUL^R22`) in ISO-2022-JP, under
//! `{root}/{id[0..3]}/{id[3..6]}/{id}/{YYYYMMDD}/OML-11/{id}_{date}_OML-11_{order}_{time}_{dept}_{flag}`.

use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset, Utc};

/// One result (one OBX): a hospital-local code and name, and the standard code the
/// hospital's system sends beside it (`JC10` JLAC10, `LN` LOINC; empty: none).
#[derive(Debug, Clone)]
pub struct LabResult {
    pub local_code: &'static str,
    pub name: &'static str,
    pub code: &'static str,
    pub system: &'static str,
    pub value: String,
    pub unit: &'static str,
    /// OBX-11: `F` final, `C` corrected, `P` preliminary.
    pub status: &'static str,
}

impl LabResult {
    pub fn new(
        (local_code, name): (&'static str, &'static str),
        (code, system): (&'static str, &'static str),
        value: impl ToString,
        unit: &'static str,
    ) -> Self {
        LabResult {
            local_code,
            name,
            code,
            system,
            value: value.to_string(),
            unit,
            status: "F",
        }
    }
}

/// HbA1c (NGSP), sent with its LOINC code.
pub fn hba1c(value: f64) -> LabResult {
    LabResult::new(("1001", "ＨｂＡ１ｃ"), ("4548-4", "LN"), value, "%")
}

/// eGFR (creatinine), JLAC10 8A065000002391901.
pub fn egfr(value: f64) -> LabResult {
    LabResult::new(
        ("1002", "ｅＧＦＲ"),
        ("8A065000002391901", "JC10"),
        value,
        "mL/min/1.73m2",
    )
}

/// non-HDL cholesterol, JLAC10 3F069000002391901.
pub fn non_hdl(value: i64) -> LabResult {
    LabResult::new(
        ("1003", "ｎｏｎ－ＨＤＬコレステロール"),
        ("3F069000002391901", "JC10"),
        value,
        "mg/dL",
    )
}

/// LDL cholesterol (direct), JLAC10 3F077000002327101: a code no item of the diabetes
/// template carries (its `ldl` item names no method), so it stays unmapped.
pub fn ldl_direct(value: i64) -> LabResult {
    LabResult::new(
        ("1004", "ＬＤＬコレステロール"),
        ("3F077000002327101", "JC10"),
        value,
        "mg/dL",
    )
}

/// White cells, with a local code only.
pub fn wbc(value: f64) -> LabResult {
    LabResult::new(("2001", "白血球数"), ("", ""), value, "10*3/uL")
}

/// One lab-result file.
#[derive(Debug, Clone)]
pub struct LabFile {
    pub patient_id: String,
    /// Specimen collection time (OBR-7, SPM-17), written in Japan time.
    pub collected: DateTime<Utc>,
    pub order: String,
    pub results: Vec<LabResult>,
    /// Condition flag `0`: the order was cancelled.
    pub cancelled: bool,
}

fn jst(t: DateTime<Utc>) -> DateTime<FixedOffset> {
    t.with_timezone(&FixedOffset::east_opt(9 * 3600).expect("JST"))
}

/// The HL7 v2.5 `OUL^R22` message of `file`, as text.
pub fn message(file: &LabFile) -> String {
    let at = jst(file.collected);
    let ts = at.format("%Y%m%d%H%M%S");
    let mut segments = vec![
        format!(
            "MSH|^~\\&|HIS|LAB|GW|RCV|{ts}||OUL^R22^OUL_R22|{}|P|2.5||||||~ISO IR87||ISO 2022-1994|SS-MIX2_1.20^SS-MIX2^1.2.392.200250.2.1.100.1.2.120^ISO",
            file.order
        ),
        format!(
            "PID|||{}^^^^PI||レンケイ^タロウ^^^^^L^P~連携^太郎^^^^^L^I||19500203|M",
            file.patient_id
        ),
        format!("SPM|1|||023^血液^JC10|||||||||||||{ts}"),
        format!("OBR|1|{}||ZZZ^検体検査^L|||{ts}", file.order),
    ];
    for (i, r) in file.results.iter().enumerate() {
        let kind = if r.value.parse::<f64>().is_ok() {
            "NM"
        } else {
            "ST"
        };
        let code = if r.code.is_empty() {
            format!("{}^{}^99L01", r.local_code, r.name)
        } else {
            format!(
                "{}^{}^99L01^{}^{}^{}",
                r.local_code, r.name, r.code, r.name, r.system
            )
        };
        segments.push(format!(
            "OBX|{}|{kind}|{code}||{}|{}^^ISO+|||||{}|||{ts}",
            i + 1,
            r.value,
            r.unit,
            r.status
        ));
    }
    segments.join("\r") + "\r"
}

/// Writes `files` under `root` in the SS-MIX2 layout, ISO-2022-JP encoded; returns the
/// paths written.
pub fn write_storage(root: &Path, files: &[LabFile]) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for f in files {
        let id = &f.patient_id;
        let at = jst(f.collected);
        let date = at.format("%Y%m%d").to_string();
        let dir = root
            .join(id.get(0..3).unwrap_or(id))
            .join(id.get(3..6).unwrap_or("___"))
            .join(id)
            .join(&date)
            .join("OML-11");
        std::fs::create_dir_all(&dir)?;
        let name = format!(
            "{id}_{date}_OML-11_{}_{}000_01_{}",
            f.order,
            at.format("%Y%m%d%H%M%S"),
            if f.cancelled { 0 } else { 1 }
        );
        let text = message(f);
        let (bytes, _, _) = encoding_rs::ISO_2022_JP.encode(&text);
        let path = dir.join(name);
        std::fs::write(&path, &bytes)?;
        out.push(path);
    }
    Ok(out)
}

/// The sample the README and the tests use, for patient `patient_id` of the importing
/// organisation (plus a patient id no one has): two result files a day apart (HbA1c,
/// eGFR, non-HDL, an LDL code no item carries, white cells with a local code only; the
/// second with an eGFR out of range), a cancelled file, and a file of an unknown patient.
pub fn sample(patient_id: &str, collected: DateTime<Utc>) -> Vec<LabFile> {
    let day = chrono::Duration::days(1);
    vec![
        LabFile {
            patient_id: patient_id.to_owned(),
            collected: collected - day,
            order: "ORD0001".into(),
            results: vec![
                hba1c(7.4),
                egfr(58.5),
                non_hdl(142),
                ldl_direct(118),
                wbc(6.1),
            ],
            cancelled: false,
        },
        LabFile {
            patient_id: patient_id.to_owned(),
            collected,
            order: "ORD0002".into(),
            results: vec![hba1c(7.1), egfr(250.0)],
            cancelled: false,
        },
        LabFile {
            patient_id: patient_id.to_owned(),
            collected,
            order: "ORD0003".into(),
            results: vec![hba1c(9.9)],
            cancelled: true,
        },
        LabFile {
            patient_id: "9990001".into(),
            collected,
            order: "ORD0004".into(),
            results: vec![hba1c(6.5)],
            cancelled: false,
        },
    ]
}
