//! Task: a hand-over (紹介・転院) and a report back (返書) as work one organisation asks
//! of another. A hand-over is requested by its sender and owned by its receiver; a report
//! back is owned by the organisation that must send it, with its due date as the
//! restriction period. `status` maps their states; `businessStatus` keeps the state
//! itself in the Renkei code system.

use crate::capability::{self, ResourceCapability};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};

use crate::common::{self, coding, instant, meta, reference, reference_with_display};

/// An organisation a Task names.
#[derive(Debug, Clone)]
pub struct OrgRef {
    pub id: String,
    pub name: String,
}

/// A hand-over as the mapper reads it.
#[derive(Debug, Clone)]
pub struct HandoverInput {
    pub id: String,
    pub plan_id: String,
    pub patient_id: String,
    pub from: OrgRef,
    pub to: OrgRef,
    pub from_stage: String,
    pub stage: String,
    /// `proposed`, `accepted`, `declined`, `withdrawn`, `completed`.
    pub state: String,
    pub note: Option<String>,
    pub decline_reason: Option<String>,
    pub proposed_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// 転院予定日: the agreed date, else the proposed one.
    pub transfer_date: Option<NaiveDate>,
}

/// A report back as the mapper reads it.
#[derive(Debug, Clone)]
pub struct ReportInput {
    pub id: String,
    pub plan_id: String,
    pub patient_id: String,
    pub stage: String,
    /// Who must send it.
    pub from: OrgRef,
    /// Who receives it.
    pub to: OrgRef,
    pub due_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// Unsent after its due date.
    pub overdue: bool,
}

/// The Task status of a hand-over state.
pub fn handover_status(state: &str) -> &'static str {
    match state {
        "proposed" => "requested",
        "accepted" => "accepted",
        "declined" => "rejected",
        "withdrawn" => "cancelled",
        "completed" => "completed",
        _ => "requested",
    }
}

/// The Renkei state of a report back: `sent`, `overdue` or `due`.
pub fn report_state(r: &ReportInput) -> &'static str {
    if r.sent_at.is_some() {
        "sent"
    } else if r.overdue {
        "overdue"
    } else {
        "due"
    }
}

/// The Task status of a report back.
pub fn report_status(r: &ReportInput) -> &'static str {
    if r.sent_at.is_some() {
        "completed"
    } else {
        "requested"
    }
}

/// When a report back's Task last changed.
pub fn report_last_updated(r: &ReportInput) -> DateTime<Utc> {
    r.sent_at.unwrap_or(r.created_at)
}

fn kind(code: &str) -> Value {
    json!({ "coding": [coding(&common::code_system("task-kind"), code, None)] })
}

fn business_status(system: &str, state: &str) -> Value {
    json!({ "coding": [coding(&common::code_system(system), state, None)] })
}

fn stage_input(stage: &str) -> Value {
    json!({
        "type": { "coding": [coding(&common::code_system("task-input"), "stage", None)] },
        "valueCoding": coding(&common::code_system("stage"), stage, None),
    })
}

/// The Task of a hand-over.
pub fn handover_task(h: &HandoverInput) -> Value {
    let mut inputs = vec![stage_input(&h.stage)];
    if let Some(d) = h.transfer_date {
        inputs.push(json!({
            "type": { "coding": [coding(&common::code_system("task-input"), "transfer-date", None)] },
            "valueDate": common::date(d),
        }));
    }
    let mut execution = json!({ "start": instant(h.proposed_at) });
    if let Some(done) = h.completed_at {
        execution["end"] = json!(instant(done));
    }
    let mut t = json!({
        "resourceType": "Task",
        "id": h.id,
        "meta": meta(h.updated_at, None),
        "status": handover_status(&h.state),
        "businessStatus": business_status("handover-state", &h.state),
        "intent": "order",
        "code": kind("handover"),
        "focus": reference("CarePlan", &h.plan_id),
        "for": reference("Patient", &h.patient_id),
        "authoredOn": instant(h.proposed_at),
        "lastModified": instant(h.updated_at),
        "requester": reference_with_display("Organization", &h.from.id, &h.from.name),
        "owner": reference_with_display("Organization", &h.to.id, &h.to.name),
        "executionPeriod": execution,
        "input": inputs,
    });
    if let Some(reason) = h.decline_reason.as_deref().filter(|r| !r.trim().is_empty()) {
        t["statusReason"] = json!({ "text": reason });
    }
    if let Some(note) = h.note.as_deref().filter(|n| !n.trim().is_empty()) {
        t["note"] = json!([{ "text": note }]);
    }
    t
}

/// The Task of a report back.
pub fn report_task(r: &ReportInput) -> Value {
    let mut t = json!({
        "resourceType": "Task",
        "id": r.id,
        "meta": meta(report_last_updated(r), None),
        "status": report_status(r),
        "businessStatus": business_status("report-state", report_state(r)),
        "intent": "order",
        "code": kind("report-back"),
        "focus": reference("CarePlan", &r.plan_id),
        "for": reference("Patient", &r.patient_id),
        "authoredOn": instant(r.created_at),
        "lastModified": instant(report_last_updated(r)),
        "requester": reference_with_display("Organization", &r.to.id, &r.to.name),
        "owner": reference_with_display("Organization", &r.from.id, &r.from.name),
        "restriction": {
            "period": { "end": instant(r.due_at) },
            "recipient": [reference_with_display("Organization", &r.to.id, &r.to.name)],
        },
        "input": [stage_input(&r.stage)],
    });
    if let Some(sent) = r.sent_at {
        t["executionPeriod"] = json!({ "end": instant(sent) });
    }
    t
}

/// What the server does with Task.
pub const CAPABILITY: ResourceCapability = ResourceCapability {
    kind: "Task",
    profile: None,
    interactions: &["read", "search-type"],
    search_params: &[
        capability::PATIENT,
        capability::STATUS,
        capability::LAST_UPDATED,
    ],
    search_include: &[],
    operations: &[],
};

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    fn org(id: &str) -> OrgRef {
        OrgRef {
            id: id.into(),
            name: format!("{id} 病院"),
        }
    }

    fn handover(state: &str) -> HandoverInput {
        HandoverInput {
            id: "h1".into(),
            plan_id: "p1".into(),
            patient_id: "pt1".into(),
            from: org("acute"),
            to: org("recovery"),
            from_stage: "acute".into(),
            stage: "recovery".into(),
            state: state.into(),
            note: Some("よろしくお願いします".into()),
            decline_reason: None,
            proposed_at: t("2026-12-01T00:00:00Z"),
            completed_at: None,
            updated_at: t("2026-12-02T00:00:00Z"),
            transfer_date: NaiveDate::from_ymd_opt(2026, 12, 10),
        }
    }

    #[test]
    fn hand_over_states_map_to_task_statuses() {
        for (state, status) in [
            ("proposed", "requested"),
            ("accepted", "accepted"),
            ("declined", "rejected"),
            ("withdrawn", "cancelled"),
            ("completed", "completed"),
        ] {
            let task = handover_task(&handover(state));
            assert_eq!(task["status"], status, "{state}");
            assert_eq!(task["businessStatus"]["coding"][0]["code"], state);
        }
    }

    #[test]
    fn a_hand_over_is_requested_by_the_sender_and_owned_by_the_receiver() {
        let task = handover_task(&handover("proposed"));
        assert_eq!(task["requester"]["reference"], "Organization/acute");
        assert_eq!(task["owner"]["reference"], "Organization/recovery");
        assert_eq!(task["focus"]["reference"], "CarePlan/p1");
        assert_eq!(task["for"]["reference"], "Patient/pt1");
        assert_eq!(task["intent"], "order");
        assert_eq!(task["code"]["coding"][0]["code"], "handover");
        assert_eq!(task["input"][1]["valueDate"], "2026-12-10");
        assert_eq!(task["meta"]["lastUpdated"], "2026-12-02T00:00:00Z");
    }

    #[test]
    fn a_report_back_is_owned_by_its_sender_with_its_due_date() {
        let mut r = ReportInput {
            id: "r1".into(),
            plan_id: "p1".into(),
            patient_id: "pt1".into(),
            stage: "recovery".into(),
            from: org("recovery"),
            to: org("acute"),
            due_at: t("2027-01-31T15:00:00Z"),
            sent_at: None,
            created_at: t("2026-12-20T00:00:00Z"),
            overdue: false,
        };
        let task = report_task(&r);
        assert_eq!(task["status"], "requested");
        assert_eq!(task["businessStatus"]["coding"][0]["code"], "due");
        assert_eq!(task["owner"]["reference"], "Organization/recovery");
        assert_eq!(task["requester"]["reference"], "Organization/acute");
        assert_eq!(task["restriction"]["period"]["end"], "2027-01-31T15:00:00Z");
        r.overdue = true;
        assert_eq!(
            report_task(&r)["businessStatus"]["coding"][0]["code"],
            "overdue"
        );
        r.sent_at = Some(t("2027-02-02T00:00:00Z"));
        let sent = report_task(&r);
        assert_eq!(sent["status"], "completed");
        assert_eq!(sent["businessStatus"]["coding"][0]["code"], "sent");
        assert_eq!(sent["meta"]["lastUpdated"], "2027-02-02T00:00:00Z");
    }
}
