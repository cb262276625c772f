//! Request and response bodies of the JSON API (snake_case field names, DESIGN.md §5.1).

use chrono::{DateTime, NaiveDate, Utc};
use renkei_service::plans::{CarePlan, Entry};
use renkei_service::{admin::Organization, patients::Patient};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

/// Each part 1–100 characters (after trimming); no control, zero-width or
/// direction-override characters; the kana parts in カタカナ or ひらがな.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatientNameIn {
    #[schema(min_length = 1, max_length = 100)]
    pub family: String,
    #[schema(min_length = 1, max_length = 100)]
    pub given: String,
    #[schema(min_length = 1, max_length = 100)]
    pub family_kana: String,
    #[schema(min_length = 1, max_length = 100)]
    pub given_kana: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentifierIn {
    /// Organisation code (`acute-1`).
    #[schema(pattern = "^[a-z0-9_-]{1,64}$")]
    pub organization: String,
    /// The organisation's own patient number (カルテ番号), 1–64 printable characters.
    #[schema(min_length = 1, max_length = 64)]
    pub value: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePatientRequest {
    pub name: PatientNameIn,
    /// YYYY-MM-DD (西暦), from 1880-01-01, not in the future.
    #[schema(format = Date, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    pub birth_date: String,
    #[schema(schema_with = sex_schema)]
    pub sex: String,
    #[serde(default)]
    pub identifiers: Vec<IdentifierIn>,
    /// Registers despite unusual findings (rule `implausible`: a birth date making the
    /// patient over 120), as 「この内容で登録する」 does on the form. Impossible findings
    /// are refused whatever this says.
    #[serde(default)]
    pub confirm: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PatientNameOut {
    pub family: String,
    pub given: String,
    pub family_kana: String,
    pub given_kana: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IdentifierOut {
    pub organization: String,
    pub value: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PatientResponse {
    pub id: Uuid,
    pub name: PatientNameOut,
    pub birth_date: NaiveDate,
    pub sex: String,
    pub identifiers: Vec<IdentifierOut>,
    /// The records merged into this one (名寄せ); absent when none. A merged record's
    /// id reads as this patient.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub merged_ids: Vec<Uuid>,
}

impl From<Patient> for PatientResponse {
    fn from(p: Patient) -> Self {
        PatientResponse {
            id: p.id,
            name: PatientNameOut {
                family: p.name.family,
                given: p.name.given,
                family_kana: p.name.family_kana,
                given_kana: p.name.given_kana,
            },
            birth_date: p.birth_date,
            sex: p.sex,
            identifiers: p
                .identifiers
                .into_iter()
                .map(|i| IdentifierOut {
                    organization: i.organization,
                    value: i.value,
                })
                .collect(),
            merged_ids: p.merged_ids,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PatientList {
    pub patients: Vec<PatientResponse>,
    /// The next page's link (same search, with `cursor`); null on the last page.
    pub next: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrganizationRequest {
    /// 1–64 lowercase letters, digits, `-` or `_`.
    #[schema(pattern = "^[a-z0-9_-]{1,64}$")]
    pub code: String,
    /// Not blank.
    #[schema(min_length = 1)]
    pub name: String,
    #[schema(schema_with = organization_kind_schema)]
    pub kind: String,
    /// Secondary medical area (二次保健医療圏), not blank.
    #[schema(min_length = 1)]
    pub area: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationResponse {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub area: String,
}

impl From<Organization> for OrganizationResponse {
    fn from(o: Organization) -> Self {
        OrganizationResponse {
            id: o.id,
            code: o.code,
            name: o.name,
            kind: o.kind,
            area: o.area,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationList {
    pub organizations: Vec<OrganizationResponse>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PathwaySummary {
    pub code: String,
    pub version: u32,
    pub hash: String,
    pub title_ja: String,
    pub title_en: String,
    pub cyclical: bool,
    pub stages: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PathwayList {
    pub pathways: Vec<PathwaySummary>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PathwayVersionResponse {
    pub code: String,
    pub version: u32,
    pub hash: String,
    /// The full template in its canonical form.
    #[schema(value_type = Object)]
    pub template: Value,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolRequest {
    pub patient_id: Uuid,
    /// Pathway code (`stroke`).
    pub pathway: String,
    /// A published version; the latest when absent.
    pub version: Option<u32>,
    /// The template variant (`code` of one of the version's `variants`): required when the
    /// version has variants, absent otherwise.
    pub variant: Option<String>,
    /// When care on the pathway began (default now); entries may not be dated earlier.
    pub started_at: Option<DateTime<chrono::FixedOffset>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PathwayRefOut {
    pub code: String,
    pub version: u32,
    pub hash: String,
    pub title_ja: String,
    pub title_en: String,
}

/// The template variant a plan was enrolled on.
#[derive(Debug, Serialize, ToSchema)]
pub struct VariantRefOut {
    pub code: String,
    pub title_ja: String,
    pub title_en: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CarePlanResponse {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub pathway: PathwayRefOut,
    /// The variant chosen at enrolment; null on a pathway version without variants.
    pub variant: Option<VariantRefOut>,
    /// active | completed | withdrawn
    pub status: String,
    pub current_stage: String,
    pub stage_started: bool,
    pub stage_ended: bool,
    pub planner_organization: String,
    pub started_at: DateTime<Utc>,
    pub entry_count: i64,
    pub head_hash: String,
    pub created_at: DateTime<Utc>,
    /// Also sent as the ETag of `GET /care-plans/{id}`; send it back as If-Match to
    /// complete, withdraw or migrate the plan.
    pub version: i32,
}

impl From<CarePlan> for CarePlanResponse {
    fn from(p: CarePlan) -> Self {
        CarePlanResponse {
            id: p.id,
            patient_id: p.patient_id,
            pathway: PathwayRefOut {
                code: p.pathway.code,
                version: p.pathway.version,
                hash: p.pathway.hash,
                title_ja: p.pathway.title_ja,
                title_en: p.pathway.title_en,
            },
            variant: p.variant.map(|v| VariantRefOut {
                code: v.code,
                title_ja: v.title_ja,
                title_en: v.title_en,
            }),
            status: p.status,
            current_stage: p.current_stage,
            stage_started: p.stage_started,
            stage_ended: p.stage_ended,
            planner_organization: p.planner_organization,
            started_at: p.started_at,
            entry_count: p.entry_count,
            head_hash: p.head_hash,
            created_at: p.created_at,
            version: p.version,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CarePlanList {
    pub care_plans: Vec<CarePlanResponse>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VarianceIn {
    /// A variance code of the pinned template (`NEG.VAR.CO.RECEIVE`).
    pub code: String,
    #[schema(max_length = 10000)]
    pub note: Option<String>,
    /// The goal this variance explains (suppresses the automatic variance for it).
    pub goal: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppendEntryRequest {
    pub stage: String,
    #[schema(schema_with = entry_kind_schema)]
    pub kind: String,
    /// RFC 3339 with offset.
    pub effective_at: DateTime<chrono::FixedOffset>,
    /// Item code → value, typed per the pinned template.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub values: serde_json::Map<String, Value>,
    #[schema(max_length = 10000)]
    pub note: Option<String>,
    pub variance: Option<VarianceIn>,
    /// The entry this one corrects: the current head of its chain of corrections (a
    /// superseded version is refused, 422 on `amends`, naming the head). With kind
    /// `entered_in_error` (取消), the entry whose chain is voided: the chain then counts
    /// for nothing; `values` stays empty, `stage` is the voided entry's.
    pub amends: Option<Uuid>,
    /// Why (required with `amends`).
    #[schema(max_length = 10000)]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuthorOut {
    pub id: Uuid,
    pub name: String,
    pub profession: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationRefOut {
    pub id: Uuid,
    pub code: String,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EntryResponse {
    pub id: Uuid,
    pub care_plan_id: Uuid,
    pub seq: i64,
    pub stage: String,
    pub kind: String,
    pub effective_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub author: AuthorOut,
    pub organization: OrganizationRefOut,
    #[schema(value_type = Object)]
    pub values: Value,
    pub note: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub variance: Option<Value>,
    pub amends: Option<Uuid>,
    pub reason: Option<String>,
    pub amended_by: Option<Uuid>,
    /// The `entered_in_error` entry that voided this entry's chain (取消): the entry then
    /// counts for nothing. Set on every version of the chain and on the void itself.
    pub voided_by: Option<Uuid>,
    pub prev_hash: String,
    pub hash: String,
}

impl From<Entry> for EntryResponse {
    fn from(e: Entry) -> Self {
        EntryResponse {
            id: e.id,
            care_plan_id: e.care_plan_id,
            seq: e.seq,
            stage: e.stage,
            kind: e.kind,
            effective_at: e.effective_at,
            recorded_at: e.recorded_at,
            author: AuthorOut {
                id: e.author.id,
                name: e.author.name,
                profession: e.author.profession,
            },
            organization: OrganizationRefOut {
                id: e.organization.id,
                code: e.organization.code,
                name: e.organization.name,
            },
            values: e.values,
            note: e.note,
            variance: e.variance,
            amends: e.amends,
            reason: e.reason,
            amended_by: e.amended_by,
            voided_by: e.voided_by,
            prev_hash: e.prev_hash,
            hash: e.hash,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EntryList {
    pub entries: Vec<EntryResponse>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LatestOut {
    #[schema(value_type = Object)]
    pub value: Value,
    pub entry_id: Uuid,
    pub effective_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GoalOut {
    pub code: String,
    pub title_ja: String,
    pub title_en: String,
    /// threshold | range | change | membership | stage_length | time_between | done_within
    pub kind: String,
    pub item: Option<String>,
    #[schema(value_type = Object)]
    pub target: Value,
    pub latest: Option<LatestOut>,
    /// met | not_met | pending | overdue | not_applicable
    pub status: String,
    /// With `not_met` on a threshold or range goal: on which side of the target the
    /// value lies and the bound it crossed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deviation: Option<DeviationOut>,
    /// 00:00 Asia/Tokyo of `due_date`.
    pub due: Option<DateTime<Utc>>,
    /// The last Tokyo calendar day on which the goal is on time.
    pub due_date: Option<NaiveDate>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviationOut {
    /// below_range | above_range
    pub direction: String,
    pub bound: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GoalList {
    /// Clinical time judged at.
    pub as_of: DateTime<Utc>,
    /// The record as it stood at this moment.
    pub known_at: DateTime<Utc>,
    pub goals: Vec<GoalOut>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
}

fn sex_schema() -> utoipa::openapi::schema::Schema {
    super::schema::string_enum(renkei_service::patients::SEXES)
}

fn organization_kind_schema() -> utoipa::openapi::schema::Schema {
    super::schema::string_enum(renkei_service::admin::ORGANIZATION_KINDS)
}

fn entry_kind_schema() -> utoipa::openapi::schema::Schema {
    super::schema::string_enum(&[
        "assessment",
        "note",
        "variance",
        "stage_start",
        "stage_end",
        "entered_in_error",
    ])
}
