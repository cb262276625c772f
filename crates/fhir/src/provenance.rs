//! Provenance, one per entry (`prov-{entry id}`): the entry's Observations (or its care
//! plan, for an entry without values) as targets, its author acting for their
//! organisation, when it was recorded and observed, what it did (create, correct, void)
//! and the entry's hash in the plan's chain as the author's signature data.

use crate::capability::{self, ResourceCapability};
use serde_json::{Value, json};

use crate::common::{self, coding, instant, meta, reference, reference_with_display};
use crate::observation::{self, EntryInput};
use renkei_domain::template::PathwayTemplate;

/// The FHIR id of an entry's Provenance.
pub fn provenance_id(entry_id: &str) -> String {
    format!("prov-{entry_id}")
}

/// The entry id of a Provenance id.
pub fn parse_provenance_id(id: &str) -> Option<&str> {
    id.strip_prefix("prov-")
}

/// The system of entry identifiers (an entry's Renkei id).
pub fn entry_system() -> String {
    format!("{}/NamingSystem/entry", common::CANONICAL_BASE)
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(BASE64[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The signature data of an entry hash: the SHA-256 digest's bytes (from the hex of
/// `sha256:<hex>`) in base64; the text itself when it is not of that form.
pub fn signature_data(hash: &str) -> String {
    let hex = hash.strip_prefix("sha256:").unwrap_or(hash);
    let bytes: Option<Vec<u8>> = hex
        .len()
        .is_multiple_of(2)
        .then(|| {
            (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
                .collect()
        })
        .flatten();
    match bytes {
        Some(b) if !b.is_empty() => base64(&b),
        _ => base64(hash.as_bytes()),
    }
}

/// What the entry did to the record.
fn activity(entry: &EntryInput) -> Value {
    let (code, display) = if entry.is_void() {
        ("NULLIFY", "nullify")
    } else if entry.amends.is_some() {
        ("UPDATE", "revise")
    } else {
        ("CREATE", "create")
    };
    json!({ "coding": [coding("http://terminology.hl7.org/CodeSystem/v3-DataOperation", code, Some(display))] })
}

/// The Provenance of an entry.
pub fn provenance(template: &PathwayTemplate, entry: &EntryInput) -> Value {
    let mut targets: Vec<Value> = observation::observed_items(template, entry)
        .iter()
        .map(|i| {
            reference(
                "Observation",
                &observation::observation_id(&entry.id, &i.code),
            )
        })
        .collect();
    if targets.is_empty() {
        targets.push(reference("CarePlan", &entry.plan_id));
    }
    let author = reference_with_display("Practitioner", &entry.author_id, &entry.author_name);
    let mut p = json!({
        "resourceType": "Provenance",
        "id": provenance_id(&entry.id),
        "meta": meta(entry.recorded_at, None),
        "target": targets,
        "occurredDateTime": instant(entry.effective_at),
        "recorded": instant(entry.recorded_at),
        "activity": activity(entry),
        "agent": [{
            "type": { "coding": [coding("http://terminology.hl7.org/CodeSystem/provenance-participant-type", "author", Some("Author"))] },
            "who": author,
            "onBehalfOf": reference_with_display("Organization", &entry.organization_id, &entry.organization_name),
        }],
        "entity": [{
            "role": "source",
            "what": {
                "identifier": { "system": entry_system(), "value": entry.id },
                "display": format!("{} {}", entry.kind, entry.stage),
            },
        }],
        "signature": [{
            "type": [coding("urn:iso-astm:E1762-95:2013", "1.2.840.10065.1.12.1.1", Some("Author's Signature"))],
            "when": instant(entry.recorded_at),
            "who": author,
            "targetFormat": "application/json",
            "sigFormat": "application/octet-stream",
            "data": signature_data(&entry.hash),
        }],
    });
    if let Some(prev) = &entry.amends
        && let Some(list) = p["entity"].as_array_mut()
    {
        list.push(json!({
            "role": "revision",
            "what": { "identifier": { "system": entry_system(), "value": prev } },
        }));
    }
    if let Some(reason) = entry.reason.as_deref().filter(|r| !r.trim().is_empty()) {
        p["reason"] = json!([{ "text": reason }]);
    }
    p
}

/// What the server does with Provenance.
pub const CAPABILITY: ResourceCapability = ResourceCapability {
    kind: "Provenance",
    profile: None,
    interactions: &["read", "search-type"],
    search_params: &[capability::PATIENT, capability::LAST_UPDATED],
    search_include: &[],
    operations: &[],
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observation::Correction;
    use chrono::{DateTime, Utc};
    use renkei_domain::template::parse_template;

    fn entry(values: Value) -> EntryInput {
        let t = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_default()
        };
        EntryInput {
            id: "0190c0de-0000-7000-8000-000000000001".into(),
            plan_id: "p1".into(),
            patient_id: "pt1".into(),
            stage: "clinic".into(),
            kind: "assessment".into(),
            effective_at: t("2026-12-01T00:00:00Z"),
            recorded_at: t("2026-12-02T00:00:00Z"),
            author_id: "a1".into(),
            author_name: "山田 花子".into(),
            organization_id: "o1".into(),
            organization_name: "診療所".into(),
            values,
            amends: None,
            reason: None,
            hash: format!("sha256:{}", "ab".repeat(32)),
            correction: Correction::None,
        }
    }

    fn diabetes() -> PathwayTemplate {
        parse_template(include_str!("../../../pathways/diabetes/v2.toml"), None)
            .unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn base64_matches_the_rfc_4648_vectors() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), coded, "{plain}");
        }
    }

    #[test]
    fn the_entry_hash_is_the_signature_data() {
        let e = entry(json!({ "hba1c": 7.0 }));
        let p = provenance(&diabetes(), &e);
        assert_eq!(p["id"], "prov-0190c0de-0000-7000-8000-000000000001");
        assert!(common::is_valid_id(p["id"].as_str().unwrap_or_default()));
        assert_eq!(p["signature"][0]["data"], base64(&[0xab; 32]));
        assert_eq!(p["signature"][0]["who"]["reference"], "Practitioner/a1");
        assert_eq!(p["agent"][0]["who"]["reference"], "Practitioner/a1");
        assert_eq!(p["agent"][0]["onBehalfOf"]["reference"], "Organization/o1");
        assert_eq!(p["recorded"], "2026-12-02T00:00:00Z");
        assert_eq!(
            p["target"][0]["reference"],
            "Observation/0190c0de-0000-7000-8000-000000000001-hba1c"
        );
        assert_eq!(p["activity"]["coding"][0]["code"], "CREATE");
    }

    #[test]
    fn corrections_and_voids_say_what_they_did_and_to_what() {
        let mut e = entry(json!({ "hba1c": 7.0 }));
        e.amends = Some("0190c0de-0000-7000-8000-000000000000".into());
        e.reason = Some("転記ミス".into());
        let p = provenance(&diabetes(), &e);
        assert_eq!(p["activity"]["coding"][0]["code"], "UPDATE");
        assert_eq!(p["entity"][1]["role"], "revision");
        assert_eq!(
            p["entity"][1]["what"]["identifier"]["value"],
            "0190c0de-0000-7000-8000-000000000000"
        );
        assert_eq!(p["reason"][0]["text"], "転記ミス");
        e.kind = "entered_in_error".into();
        let v = provenance(&diabetes(), &e);
        assert_eq!(v["activity"]["coding"][0]["code"], "NULLIFY");
        assert_eq!(v["target"][0]["reference"], "CarePlan/p1");
    }

    #[test]
    fn a_hash_that_is_not_hex_is_signed_as_text() {
        assert_eq!(signature_data("sha256:zz"), base64(b"sha256:zz"));
    }
}
