//! Lab results from SS-MIX2 standardised storage (標準化ストレージ): the HL7 v2.5 files of
//! data kind `OML-11` (検体検査結果, an `OUL^R22` message) under
//! `{root}/{patient id, first 3}/{next 3}/{patient id}/{date}/OML-11/`, named
//! `{patient id}_{date}_{data kind}_{order no}_{time}_{department}_{condition flag}`
//! (SS-MIX2 標準化ストレージ 構成の説明と構築ガイドライン, JAMI; domain.md §5.4). A file
//! whose condition flag is `0` (取消) is skipped.
//!
//! Files are usually ISO-2022-JP (JIS X 0208, MSH-18 `~ISO IR87`) and are decoded with
//! `encoding_rs`; the messages are read with the `hl7-parser` crate, which parses the HL7 v2
//! structure (segments, fields, repeats, components, escapes) and leaves the meaning to
//! us: PID-3 is the hospital's patient id, OBR-7 (else SPM-17, else OBX-14) the specimen
//! collection time, OBX-3 the test code (JLAC10 under coding system `JC10`, LOINC under
//! `LN`, in the first or the alternate triplet), OBX-2/5/6 the value and its unit, OBX-11
//! the result status (`F` final and `C` corrected are imported).
//!
//! Each file is imported through the same use case as a FHIR Bundle, leniently: what
//! cannot be imported is skipped and reported, the rest is written.

use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};
use hl7_parser::Message;
use renkei_fhir::import::{
    Code, ImportedObservation, IssueKind, JLAC10, LOINC, ObservedValue, SubjectRef,
    patient_identifier_system,
};
use serde_json::json;

use super::{ImportRequest, Mode, ObservationOutcome};
use crate::audit::RequestMeta;
use crate::{Actor, ServiceError, Services};

/// The SS-MIX2 data kind of specimen-test results.
pub const LAB_RESULTS: &str = "OML-11";

/// Japan Standard Time, the zone of SS-MIX2 times written without an offset.
fn jst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).unwrap_or_else(|| FixedOffset::east_opt(0).expect("UTC"))
}

/// The text of a stored file: ISO-2022-JP (the SS-MIX2 default) unless it is plain UTF-8
/// with no escape sequence.
pub fn decode(bytes: &[u8]) -> String {
    if !bytes.contains(&0x1b)
        && let Ok(text) = std::str::from_utf8(bytes)
    {
        return text.to_owned();
    }
    let (text, _, _) = encoding_rs::ISO_2022_JP.decode(bytes);
    text.into_owned()
}

/// Parses an HL7 v2 time (`YYYYMMDD[HHMM[SS[.S…]]][+ZZZZ]`); without an offset it is JST.
pub fn hl7_time(raw: &str) -> Option<DateTime<Utc>> {
    let ts = hl7_parser::datetime::parse_timestamp(raw.trim(), true).ok()?;
    let date =
        NaiveDate::from_ymd_opt(i32::from(ts.year), u32::from(ts.month?), u32::from(ts.day?))?;
    let time = date.and_hms_opt(
        u32::from(ts.hour.unwrap_or(0)),
        u32::from(ts.minute.unwrap_or(0)),
        u32::from(ts.second.unwrap_or(0)),
    )?;
    let zone = match ts.offset {
        Some(o) => FixedOffset::east_opt(
            i32::from(o.hours) * 3600 + i32::from(o.hours.signum()) * i32::from(o.minutes) * 60,
        )?,
        None => jst(),
    };
    local(zone, time)
}

fn local(zone: FixedOffset, time: NaiveDateTime) -> Option<DateTime<Utc>> {
    zone.from_local_datetime(&time)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

/// The code system URI of an HL7 v2 coding-system name.
fn code_system(name: &str) -> Option<&'static str> {
    match name.trim() {
        "JC10" | "JLAC10" => Some(JLAC10),
        "LN" | "LOINC" => Some(LOINC),
        _ => None,
    }
}

/// One OBX that could not be read, by its position (1-based) in the message.
#[derive(Debug, Clone, PartialEq)]
pub struct Unread {
    pub obx: usize,
    pub code: String,
    /// `unmapped_code`, `not_final`, `not_a_number` or `no_collection_time`.
    pub reason: &'static str,
    pub detail: String,
}

/// A lab-result message, read.
#[derive(Debug, Clone, PartialEq)]
pub struct LabMessage {
    /// PID-3: the hospital's patient id.
    pub patient_id: String,
    /// One observation per readable OBX; `index` is the OBX's position, 0-based.
    pub observations: Vec<ImportedObservation>,
    pub unread: Vec<Unread>,
}

/// Reads an `OUL^R22` lab-result message for organisation `organization` (whose
/// patient-identifier namespace PID-3 is in).
pub fn read_lab_message(text: &str, organization: &str) -> Result<LabMessage, String> {
    let message = Message::parse_with_lenient_newlines(text.trim_end(), true)
        .map_err(|e| format!("not an HL7 v2 message: {e}"))?;
    let seps = message.separators;
    let decoded = |raw: &str| seps.decode(raw).to_string();
    let field = |seg: &hl7_parser::message::Segment, n: usize, c: usize| -> String {
        seg.field(n)
            .and_then(|f| f.component(c))
            .map(|c| decoded(c.raw_value()))
            .unwrap_or_default()
    };
    let pid = message
        .segment("PID")
        .ok_or("the message has no PID segment")?;
    let patient_id = field(pid, 3, 1);
    if patient_id.trim().is_empty() {
        return Err("PID-3 (the patient id) is empty".into());
    }
    let subject = SubjectRef::Identifier {
        system: patient_identifier_system(organization),
        value: patient_id.trim().to_owned(),
    };
    let mut out = LabMessage {
        patient_id: patient_id.trim().to_owned(),
        observations: Vec::new(),
        unread: Vec::new(),
    };
    // The collection time and order number in force for the OBX segments that follow.
    let mut collected: Option<DateTime<Utc>> = None;
    let mut order = String::new();
    let mut position = 0usize;
    for seg in message.segments() {
        match seg.name {
            "SPM" => {
                if let Some(t) = hl7_time(&field(seg, 17, 1)) {
                    collected.get_or_insert(t);
                }
            }
            "OBR" => {
                collected = hl7_time(&field(seg, 7, 1)).or(collected);
                let placer = field(seg, 2, 1);
                order = if placer.is_empty() {
                    field(seg, 3, 1)
                } else {
                    placer
                };
            }
            "ORC" if order.is_empty() => order = field(seg, 2, 1),
            "OBX" => {
                position += 1;
                let index = position - 1;
                let mut codes = Vec::new();
                let mut shown = String::new();
                for (code_at, system_at) in [(1, 3), (4, 6)] {
                    let code = field(seg, 3, code_at);
                    if shown.is_empty() && !code.is_empty() {
                        shown = code.clone();
                    }
                    if let Some(system) = code_system(&field(seg, 3, system_at))
                        && !code.is_empty()
                    {
                        codes.push(Code {
                            system: system.to_owned(),
                            code,
                        });
                    }
                }
                let unread = |reason, detail: &str| Unread {
                    obx: position,
                    code: shown.clone(),
                    reason,
                    detail: detail.to_owned(),
                };
                if codes.is_empty() {
                    out.unread.push(unread(
                        IssueKind::UnmappedCode.slug(),
                        "OBX-3 has no JLAC10 (JC10) or LOINC (LN) code",
                    ));
                    continue;
                }
                let status = field(seg, 11, 1);
                if !matches!(status.as_str(), "F" | "C") {
                    out.unread.push(unread(
                        "not_final",
                        "OBX-11 is not a final (F) or corrected (C) result",
                    ));
                    continue;
                }
                let raw_value = field(seg, 5, 1);
                let value = match field(seg, 2, 1).as_str() {
                    "NM" => match raw_value.trim().parse::<f64>() {
                        Ok(v) => ObservedValue::Quantity {
                            value: v,
                            unit: Some(field(seg, 6, 1)).filter(|u| !u.is_empty()),
                        },
                        Err(_) => {
                            out.unread
                                .push(unread("not_a_number", "OBX-5 is not a number"));
                            continue;
                        }
                    },
                    _ => ObservedValue::Text(raw_value.clone()),
                };
                let Some(effective) = collected.or_else(|| hl7_time(&field(seg, 14, 1))) else {
                    out.unread.push(unread(
                        "no_collection_time",
                        "no specimen collection time (OBR-7, SPM-17 or OBX-14)",
                    ));
                    continue;
                };
                let first = &codes[0];
                let identifier = format!(
                    "{}|{}_{}_{}_{}",
                    patient_identifier_system(organization),
                    out.patient_id,
                    order,
                    first.code,
                    effective.format("%Y%m%d%H%M%S")
                );
                let resource = json!({
                    "identifier": identifier,
                    "codes": codes.iter().map(|c| json!([c.system, c.code])).collect::<Vec<_>>(),
                    "value": raw_value,
                    "unit": field(seg, 6, 1),
                    "effective": effective.to_rfc3339(),
                    "status": status,
                });
                out.observations.push(ImportedObservation {
                    index,
                    identifier: Some(identifier),
                    subject: subject.clone(),
                    care_plan: None,
                    codes,
                    value,
                    effective,
                    resource,
                });
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Whether a stored file's name ends with the condition flag `0` (取消: the order was
/// cancelled, its results no longer count).
pub fn is_cancelled(file_name: &str) -> bool {
    let stem = file_name.split('.').next().unwrap_or(file_name);
    stem.rsplit('_').next() == Some("0") && stem.split('_').count() >= 7
}

/// The lab-result files under `root` (every file in a directory named `OML-11`), in
/// path order.
pub fn lab_files(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let path = entry.path();
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file()
                && dir.file_name().and_then(|n| n.to_str()) == Some(LAB_RESULTS)
            {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// What became of one result (one OBX).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultLine {
    /// The file, relative to the storage root.
    pub file: String,
    /// The OBX's position in the message, 1-based (0: the whole file).
    pub obx: usize,
    /// The test code as the file gives it.
    pub code: String,
    /// Why it was skipped (`unknown_patient`, `no_plan`, `unmapped_code`,
    /// `out_of_range`, `duplicate`, …); `None`: imported.
    pub skipped: Option<String>,
    pub detail: String,
}

/// The report of an SS-MIX2 import.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ss2Report {
    pub files: usize,
    pub entries: usize,
    pub lines: Vec<ResultLine>,
}

impl Ss2Report {
    pub fn imported(&self) -> usize {
        self.lines.iter().filter(|l| l.skipped.is_none()).count()
    }

    /// Skipped results per reason, in reason order.
    pub fn skipped_by_reason(&self) -> Vec<(String, usize)> {
        let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
        for l in &self.lines {
            if let Some(r) = &l.skipped {
                *counts.entry(r.clone()).or_default() += 1;
            }
        }
        counts.into_iter().collect()
    }
}

/// Who an SS-MIX2 import writes as: practitioner `login` of `organization`, else the
/// organisation's first enabled physician (by login), else its first enabled practitioner.
pub async fn import_author(
    services: &Services,
    organization: &str,
    login: Option<&str>,
) -> Result<Actor, ServiceError> {
    use renkei_domain::access::Profession;
    let org = renkei_store::queries::organization_by_code(&services.db, organization)
        .await?
        .ok_or(ServiceError::NotFound("organization"))?;
    let id = match login {
        Some(login) => {
            renkei_store::queries::practitioner_by_login(&services.db, login)
                .await?
                .filter(|p| p.organization_id == org.id)
                .ok_or(ServiceError::NotFound("practitioner"))?
                .id
        }
        None => {
            let people = renkei_store::practitioners::listing(&services.db, Some(org.id.into()))
                .await?
                .into_iter()
                .filter(|p| !p.disabled)
                .collect::<Vec<_>>();
            people
                .iter()
                .find(|p| p.profession == Profession::Physician)
                .or_else(|| people.first())
                .ok_or(ServiceError::NotFound("practitioner"))?
                .id
                .into_uuid()
        }
    };
    crate::actors::actor_of(&services.db, id).await
}

impl Services {
    /// Imports the lab results of SS-MIX2 storage at `root` as `actor`, for the patients
    /// of `actor`'s organisation (PID-3 in its namespace). With `dry_run`, decides
    /// everything and writes nothing.
    pub async fn import_ss_mix2(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        root: &Path,
        dry_run: bool,
    ) -> Result<Ss2Report, ServiceError> {
        let files =
            lab_files(root).map_err(|e| anyhow::anyhow!("reading {}: {e}", root.display()))?;
        let mut report = Ss2Report {
            files: files.len(),
            ..Default::default()
        };
        for path in files {
            let name = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            let whole = |reason: &str, detail: String| ResultLine {
                file: name.clone(),
                obx: 0,
                code: String::new(),
                skipped: Some(reason.to_owned()),
                detail,
            };
            if path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(is_cancelled)
            {
                report.lines.push(whole(
                    "cancelled",
                    "condition flag 0: the order was cancelled".into(),
                ));
                continue;
            }
            let bytes = std::fs::read(&path).map_err(|e| anyhow::anyhow!("reading {name}: {e}"))?;
            let message = match read_lab_message(&decode(&bytes), &actor.organization_code) {
                Ok(m) => m,
                Err(e) => {
                    report.lines.push(whole("unreadable", e));
                    continue;
                }
            };
            for u in &message.unread {
                report.lines.push(ResultLine {
                    file: name.clone(),
                    obx: u.obx,
                    code: u.code.clone(),
                    skipped: Some(u.reason.to_owned()),
                    detail: u.detail.clone(),
                });
            }
            if message.observations.is_empty() {
                continue;
            }
            let code_of = |index: usize| {
                message
                    .observations
                    .iter()
                    .find(|o| o.index == index)
                    .map(|o| o.codes[0].code.clone())
                    .unwrap_or_default()
            };
            let request = ImportRequest {
                identifier: None,
                request_hash: String::new(),
                observations: message.observations.clone(),
                issues: Vec::new(),
                mode: Mode::SkipFaults,
                dry_run,
            };
            let result = match self.import_observations(actor, meta, request).await {
                Ok(r) => r,
                Err(e @ (ServiceError::Forbidden | ServiceError::NotFound(_))) => {
                    report.lines.push(whole("not_allowed", e.to_string()));
                    continue;
                }
                Err(e) => return Err(e),
            };
            report.entries += result.entries;
            for o in &result.outcomes {
                let (index, skipped, detail) = match o {
                    ObservationOutcome::Imported { index, item, .. } => {
                        (*index, None, format!("recorded as {item}"))
                    }
                    ObservationOutcome::AlreadyImported { index, item, .. } => (
                        *index,
                        Some("duplicate".to_owned()),
                        format!("imported before as {item}"),
                    ),
                };
                report.lines.push(ResultLine {
                    file: name.clone(),
                    obx: index + 1,
                    code: code_of(index),
                    skipped,
                    detail,
                });
            }
            for issue in &result.issues {
                let index = super::entry_index(&issue.expression).unwrap_or(0);
                report.lines.push(ResultLine {
                    file: name.clone(),
                    obx: index + 1,
                    code: code_of(index),
                    skipped: Some(issue.kind.slug().to_owned()),
                    detail: issue.detail.clone(),
                });
            }
        }
        report
            .lines
            .sort_by(|a, b| (&a.file, a.obx).cmp(&(&b.file, b.obx)));
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MESSAGE: &str = "MSH|^~\\&|HIS|LAB|GW|RCV|20261102093000||OUL^R22^OUL_R22|0001|P|2.5||||||~ISO IR87||ISO 2022-1994|SS-MIX2_1.20^SS-MIX2^1.2.392.200250.2.1.100.1.2.120^ISO\r\
PID|||0001234^^^^PI||ヤマダ^タロウ^^^^^L^I~山田^太郎^^^^^L^P||19500203|M\r\
SPM|1|||023^血液^JC10|||||||||||||20261102091500\r\
OBR|1|ORD-77||ZZZ^検体検査^L|||20261102091000\r\
OBX|1|NM|1001^ＨｂＡ１ｃ^99L01^4548-4^HbA1c^LN||7.2|%^%^ISO+|4.6-6.2|H|||F|||20261102091000\r\
OBX|2|NM|1002^ｅＧＦＲ^99L01^8A065000002391901^eGFR^JC10||58.5|mL/min/1.73m2^^ISO+|||||F\r\
OBX|3|NM|1003^ＷＢＣ^99L01||6.1|10*3/uL|||||F\r\
OBX|4|NM|1004^ＬＤＬ^99L01^3F077000002327101^LDL^JC10||abc|mg/dL|||||F\r\
OBX|5|NM|1005^ＴＧ^99L01^2571-8^TG^LN||120|mg/dL|||||P\r";

    #[test]
    fn an_oul_r22_message_gives_one_observation_per_coded_final_result() {
        let m = read_lab_message(MESSAGE, "acute-1").expect("reads");
        assert_eq!(m.patient_id, "0001234");
        assert_eq!(m.observations.len(), 2, "{:?}", m.unread);
        let hba1c = &m.observations[0];
        assert_eq!(hba1c.codes[0].code, "4548-4");
        assert_eq!(hba1c.codes[0].system, LOINC);
        assert_eq!(
            hba1c.value,
            ObservedValue::Quantity {
                value: 7.2,
                unit: Some("%".into())
            }
        );
        // OBR-7, 09:10 JST.
        assert_eq!(hba1c.effective.to_rfc3339(), "2026-11-02T00:10:00+00:00");
        assert_eq!(
            hba1c.subject,
            SubjectRef::Identifier {
                system: patient_identifier_system("acute-1"),
                value: "0001234".into()
            }
        );
        assert_eq!(m.observations[1].codes[0].system, JLAC10);
        let reasons: Vec<(usize, &str)> = m.unread.iter().map(|u| (u.obx, u.reason)).collect();
        assert_eq!(
            reasons,
            [(3, "unmapped_code"), (4, "not_a_number"), (5, "not_final")]
        );
    }

    #[test]
    fn iso_2022_jp_files_decode_to_the_same_message() {
        let (bytes, _, unmappable) = encoding_rs::ISO_2022_JP.encode(MESSAGE);
        assert!(!unmappable);
        assert!(bytes.contains(&0x1b), "the kana are JIS escapes");
        assert_eq!(decode(&bytes), MESSAGE);
        assert_eq!(decode(MESSAGE.as_bytes()), MESSAGE);
    }

    #[test]
    fn hl7_times_without_an_offset_are_japan_time() {
        assert_eq!(
            hl7_time("202611020910").map(|t| t.to_rfc3339()).as_deref(),
            Some("2026-11-02T00:10:00+00:00")
        );
        assert_eq!(
            hl7_time("20261102091000+0000")
                .map(|t| t.to_rfc3339())
                .as_deref(),
            Some("2026-11-02T09:10:00+00:00")
        );
        assert_eq!(hl7_time("2026"), None);
    }

    #[test]
    fn a_cancelled_file_is_named_by_its_condition_flag() {
        assert!(is_cancelled(
            "0001234_20261102_OML-11_ORD77_20261102093000000_01_0"
        ));
        assert!(!is_cancelled(
            "0001234_20261102_OML-11_ORD77_20261102093000000_01_1"
        ));
        assert!(!is_cancelled("notes_0"));
    }
}
