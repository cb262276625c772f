//! The regional pathway council's meetings (issue 16 point 6): a registry of meetings —
//! date, attending organisations, the reports reviewed frozen as a snapshot when the
//! meeting is recorded — and their decisions, each linked once carried out to the
//! template version that did it.
//!
//! The regional administrator and council members record meetings and decisions
//! (`renkei_domain::council_meetings::may_record`); every logged-in user of the region
//! reads them. The frozen snapshot was read with the recorder's view of the region (every
//! organisation broken out), so only the regional administrator and council members are
//! given it; everyone else sees the meeting, who attended and what was decided. Writes
//! are audited `council.meeting.create`, `council.decision.create` and
//! `council.decision.link`; reading one meeting `council.meeting.read`.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use renkei_domain::council_meetings as rules;
use renkei_store::council_meetings::{self as store, DecisionRow, MeetingRow};
use renkei_store::queries;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use renkei_domain::{FieldError, Rule};

use crate::audit::{self, AuditRecord, Outcome, RequestMeta};
use crate::council::{ReportKind, ReportPage};
use crate::{Actor, ServiceError, Services, begin_write};

/// How many meetings a list shows at most.
pub const LIST_LIMIT: u64 = 200;

/// An organisation that attended.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Attendee {
    pub code: String,
    pub name: String,
}

/// The template version a decision was carried out by.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CarriedBy {
    pub pathway: String,
    pub version: i32,
    pub title_ja: String,
}

/// One decision of a meeting.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    pub id: Uuid,
    pub meeting_id: Uuid,
    pub text: String,
    pub pathway: String,
    pub carried_by: Option<CarriedBy>,
    pub created_at: DateTime<Utc>,
}

/// One meeting with its decisions; `snapshot` only for those who may see it (and not in
/// lists).
#[derive(Debug, Clone, Serialize)]
pub struct Meeting {
    pub id: Uuid,
    pub region: String,
    pub held_on: NaiveDate,
    pub title: String,
    pub attending: Vec<Attendee>,
    /// The reports reviewed, as they read when the meeting was recorded.
    pub snapshot: Option<serde_json::Value>,
    /// The filter the snapshot was read with (query parameter → values).
    pub snapshot_filter: BTreeMap<String, Vec<String>>,
    pub decisions: Vec<Decision>,
    pub created_at: DateTime<Utc>,
}

/// A meeting as asked to be recorded.
#[derive(Debug, Clone, Default)]
pub struct NewMeeting {
    /// `YYYY-MM-DD`.
    pub held_on: String,
    pub title: String,
    /// Organisation codes.
    pub attending: Vec<String>,
    /// The report kinds reviewed (`flow`, `goals`, …), frozen into the snapshot.
    pub reports: Vec<String>,
    /// The reports' filter, as query parameters (`pathway` → `["stroke"]`).
    pub filter: BTreeMap<String, Vec<String>>,
}

/// The Japanese calendar day of `at` (meetings are dated in JST).
fn jst_day(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&renkei_domain::calendar::TOKYO)
        .date_naive()
}

/// Refuses (403, audited) anyone who does not record meetings.
async fn writer(
    services: &Services,
    actor: &Actor,
    meta: &RequestMeta,
    action: &'static str,
    resource_type: &'static str,
    resource_id: Option<String>,
) -> Result<(), ServiceError> {
    if rules::may_record(&actor.roles) {
        return Ok(());
    }
    audit::record_now(
        services,
        meta,
        AuditRecord::by(actor, action, resource_type, resource_id, Outcome::Denied)
            .detail("only the regional administrator and council members record meetings"),
    )
    .await?;
    Err(ServiceError::Forbidden)
}

/// Whether `actor` is given the frozen snapshots.
pub fn sees_snapshots(actor: &Actor) -> bool {
    rules::may_record(&actor.roles)
}

/// The frozen reports of a new meeting: each named report kind read now with the
/// recorder's view (`Services::council_report`, so each read is audited
/// `report.read`), as a JSON array of `ReportPage`s. An unknown kind or a bad filter is
/// refused with every problem at once (`reports[i]`, `filter.<parameter>`).
async fn freeze_reports(
    services: &Services,
    actor: &Actor,
    meta: &RequestMeta,
    reports: &[String],
    filter: &BTreeMap<String, Vec<String>>,
) -> Result<serde_json::Value, ServiceError> {
    let mut errors = Vec::new();
    let mut kinds = Vec::new();
    for (i, r) in reports.iter().enumerate() {
        match ReportKind::parse(r.trim()) {
            Some(k) if !kinds.contains(&k) => kinds.push(k),
            Some(_) => {}
            None => errors.push(FieldError::new(
                format!("reports[{i}]"),
                Rule::Unknown,
                format!("no report is called {r:?}"),
            )),
        }
    }
    let pairs: Vec<(String, String)> = filter
        .iter()
        .flat_map(|(k, vs)| vs.iter().map(move |v| (k.clone(), v.clone())))
        .collect();
    let parsed = match services.parse_report_filter(&pairs).await {
        Ok(f) => Some(f),
        Err(ServiceError::Validation(e)) => {
            errors.extend(e.into_iter().map(|mut e| {
                e.field = format!("filter.{}", e.field);
                e
            }));
            None
        }
        Err(e) => return Err(e),
    };
    let Some(parsed) = parsed.filter(|_| errors.is_empty()) else {
        return Err(ServiceError::Validation(errors));
    };
    let mut pages: Vec<ReportPage> = Vec::with_capacity(kinds.len());
    for kind in kinds {
        match services.council_report(actor, kind, &parsed, meta).await {
            Ok(p) => pages.push(p),
            Err(ServiceError::Validation(e)) => errors.extend(e.into_iter().map(|mut e| {
                e.field = format!("filter.{}", e.field);
                e
            })),
            Err(e) => return Err(e),
        }
    }
    if !errors.is_empty() {
        return Err(ServiceError::Validation(errors));
    }
    Ok(serde_json::to_value(&pages).map_err(anyhow::Error::from)?)
}

/// Records a meeting (the regional administrator or a council member), freezing the
/// reports it reviewed. 422 with every problem at once; audited
/// `council.meeting.create`.
pub async fn record_meeting(
    services: &Services,
    actor: &Actor,
    meta: &RequestMeta,
    req: NewMeeting,
) -> Result<Meeting, ServiceError> {
    writer(
        services,
        actor,
        meta,
        "council.meeting.create",
        "council_meeting",
        None,
    )
    .await?;
    let orgs = queries::list_organizations(&services.db).await?;
    let known: Vec<String> = orgs.iter().map(|o| o.code.clone()).collect();
    let held_on = req.held_on.trim().parse::<NaiveDate>().ok();
    let mut errors = Vec::new();
    if held_on.is_none() && !req.held_on.trim().is_empty() {
        errors.push(FieldError::new(
            "held_on",
            Rule::Format,
            "a date as YYYY-MM-DD",
        ));
    }
    let draft = match rules::check_meeting(
        held_on,
        &req.title,
        &req.attending,
        &known,
        jst_day(services.now()),
    ) {
        Ok(d) if errors.is_empty() => d,
        Ok(_) => return Err(ServiceError::Validation(errors)),
        Err(mut e) => {
            if !errors.is_empty() {
                e.retain(|x| x.field != "held_on");
                errors.extend(e);
                return Err(ServiceError::Validation(errors));
            }
            return Err(ServiceError::Validation(e));
        }
    };
    let snapshot = freeze_reports(services, actor, meta, &req.reports, &req.filter).await?;
    let attending_ids: Vec<Uuid> = draft
        .attending
        .iter()
        .filter_map(|code| orgs.iter().find(|o| &o.code == code).map(|o| o.id))
        .collect();
    let id = Uuid::now_v7();
    let at = services.now();
    let txn = begin_write(&services.db).await?;
    store::insert_meeting(
        &txn,
        MeetingRow {
            id,
            region: actor.region.clone(),
            held_on: draft.held_on,
            title: draft.title.clone(),
            attending: serde_json::to_string(&attending_ids).map_err(anyhow::Error::from)?,
            snapshot: serde_json::to_string(&snapshot).map_err(anyhow::Error::from)?,
            snapshot_filter: serde_json::to_string(&req.filter).map_err(anyhow::Error::from)?,
            created_by: actor.practitioner_id,
            created_at: at,
        },
    )
    .await?;
    audit::record(
        &txn,
        at,
        meta,
        AuditRecord::by(
            actor,
            "council.meeting.create",
            "council_meeting",
            Some(id.to_string()),
            Outcome::Allowed,
        )
        .detail(format!(
            "meeting of {} with {} organisations; reports: {}",
            draft.held_on,
            draft.attending.len(),
            if req.reports.is_empty() {
                "none".to_owned()
            } else {
                req.reports.join(", ")
            }
        )),
    )
    .await?;
    txn.commit().await?;
    let row = store::meeting_by_id(&services.db, id)
        .await?
        .ok_or(ServiceError::NotFound("council meeting"))?;
    meeting_view(services, row, true).await
}

/// The meetings of the actor's region, the latest first, without their snapshots.
pub async fn list_meetings(
    services: &Services,
    actor: &Actor,
) -> Result<Vec<Meeting>, ServiceError> {
    let rows = store::meetings_of_region(&services.db, &actor.region, LIST_LIMIT).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(meeting_view(services, row, false).await?);
    }
    Ok(out)
}

/// One meeting of the actor's region (404 for another region's), with its snapshot for
/// those who may see it; audited `council.meeting.read`.
pub async fn get_meeting(
    services: &Services,
    actor: &Actor,
    meta: &RequestMeta,
    id: Uuid,
) -> Result<Meeting, ServiceError> {
    let row = store::meeting_by_id(&services.db, id)
        .await?
        .filter(|m| m.region == actor.region)
        .ok_or(ServiceError::NotFound("council meeting"))?;
    let meeting = meeting_view(services, row, sees_snapshots(actor)).await?;
    audit::record_now(
        services,
        meta,
        AuditRecord::by(
            actor,
            "council.meeting.read",
            "council_meeting",
            Some(id.to_string()),
            Outcome::Allowed,
        )
        .detail(if meeting.snapshot.is_some() {
            "with the frozen reports"
        } else {
            "without the frozen reports"
        }),
    )
    .await?;
    Ok(meeting)
}

/// Records a decision of a meeting about a pathway (the regional administrator or a
/// council member); audited `council.decision.create`.
pub async fn record_decision(
    services: &Services,
    actor: &Actor,
    meta: &RequestMeta,
    meeting: Uuid,
    text: &str,
    pathway: &str,
) -> Result<Decision, ServiceError> {
    writer(
        services,
        actor,
        meta,
        "council.decision.create",
        "council_meeting",
        Some(meeting.to_string()),
    )
    .await?;
    store::meeting_by_id(&services.db, meeting)
        .await?
        .filter(|m| m.region == actor.region)
        .ok_or(ServiceError::NotFound("council meeting"))?;
    let versions = queries::list_pathway_versions(&services.db).await?;
    let mut codes: Vec<String> = versions.iter().map(|v| v.code.clone()).collect();
    codes.dedup();
    let (text, pathway) =
        rules::check_decision(text, pathway, &codes).map_err(ServiceError::Validation)?;
    let id = Uuid::now_v7();
    let at = services.now();
    let txn = begin_write(&services.db).await?;
    store::insert_decision(
        &txn,
        DecisionRow {
            id,
            meeting_id: meeting,
            text,
            pathway_code: pathway.clone(),
            carried_by_version: None,
            created_at: at,
        },
    )
    .await?;
    audit::record(
        &txn,
        at,
        meta,
        AuditRecord::by(
            actor,
            "council.decision.create",
            "council_decision",
            Some(id.to_string()),
            Outcome::Allowed,
        )
        .detail(format!("decision of meeting {meeting} about {pathway}")),
    )
    .await?;
    txn.commit().await?;
    let row = store::decision_by_id(&services.db, id)
        .await?
        .ok_or(ServiceError::NotFound("council decision"))?;
    Ok(decision_view(row, &version_names(services).await?))
}

/// Links a decision to the template version that carried it out (the regional
/// administrator or a council member): the version must exist and be of the decision's
/// pathway (422 otherwise). Audited `council.decision.link`.
pub async fn link_decision(
    services: &Services,
    actor: &Actor,
    meta: &RequestMeta,
    decision: Uuid,
    pathway: &str,
    version: i64,
) -> Result<Decision, ServiceError> {
    writer(
        services,
        actor,
        meta,
        "council.decision.link",
        "council_decision",
        Some(decision.to_string()),
    )
    .await?;
    let row = store::decision_by_id(&services.db, decision)
        .await?
        .ok_or(ServiceError::NotFound("council decision"))?;
    store::meeting_by_id(&services.db, row.meeting_id)
        .await?
        .filter(|m| m.region == actor.region)
        .ok_or(ServiceError::NotFound("council decision"))?;
    let versions = queries::list_pathway_versions(&services.db).await?;
    let target = versions
        .iter()
        .find(|v| v.code == pathway.trim() && i64::from(v.version) == version);
    rules::check_link(&row.pathway_code, pathway, version, target.is_some())
        .map_err(ServiceError::Validation)?;
    let Some(target) = target else {
        return Err(ServiceError::NotFound("pathway version"));
    };
    let at = services.now();
    let txn = begin_write(&services.db).await?;
    store::link_decision(&txn, decision, target.id).await?;
    audit::record(
        &txn,
        at,
        meta,
        AuditRecord::by(
            actor,
            "council.decision.link",
            "council_decision",
            Some(decision.to_string()),
            Outcome::Allowed,
        )
        .detail(format!(
            "carried out by {} v{}",
            target.code, target.version
        )),
    )
    .await?;
    txn.commit().await?;
    let row = store::decision_by_id(&services.db, decision)
        .await?
        .ok_or(ServiceError::NotFound("council decision"))?;
    Ok(decision_view(row, &version_names(services).await?))
}

/// Template versions by id: (code, version, Japanese title).
async fn version_names(
    services: &Services,
) -> Result<HashMap<Uuid, (String, i32, String)>, ServiceError> {
    Ok(queries::list_pathway_versions(&services.db)
        .await?
        .into_iter()
        .map(|v| (v.id, (v.code, v.version, v.title_ja)))
        .collect())
}

fn decision_view(row: DecisionRow, versions: &HashMap<Uuid, (String, i32, String)>) -> Decision {
    Decision {
        id: row.id,
        meeting_id: row.meeting_id,
        text: row.text,
        pathway: row.pathway_code,
        carried_by: row.carried_by_version.and_then(|v| versions.get(&v)).map(
            |(code, version, title)| CarriedBy {
                pathway: code.clone(),
                version: *version,
                title_ja: title.clone(),
            },
        ),
        created_at: row.created_at,
    }
}

async fn meeting_view(
    services: &Services,
    row: MeetingRow,
    with_snapshot: bool,
) -> Result<Meeting, ServiceError> {
    let orgs = queries::list_organizations(&services.db).await?;
    let ids: Vec<Uuid> = serde_json::from_str(&row.attending).map_err(anyhow::Error::from)?;
    let attending = ids
        .iter()
        .filter_map(|id| orgs.iter().find(|o| o.id == *id))
        .map(|o| Attendee {
            code: o.code.clone(),
            name: o.name.clone(),
        })
        .collect();
    let versions = version_names(services).await?;
    let decisions = store::decisions_of(&services.db, row.id)
        .await?
        .into_iter()
        .map(|d| decision_view(d, &versions))
        .collect();
    let snapshot = if with_snapshot {
        Some(serde_json::from_str(&row.snapshot).map_err(anyhow::Error::from)?)
    } else {
        None
    };
    Ok(Meeting {
        id: row.id,
        region: row.region,
        held_on: row.held_on,
        title: row.title,
        attending,
        snapshot,
        snapshot_filter: serde_json::from_str(&row.snapshot_filter).unwrap_or_default(),
        decisions,
        created_at: row.created_at,
    })
}
