//! Pieces several pages show: the patient banner (two identifiers on every patient
//! surface: カナ + 漢字 name and birth date, ui.md §3 C2) and a plan's one-line summary.

use renkei_domain::entry::PlanStatus;
use renkei_service::ServiceError;
use renkei_service::patients::Patient;
use renkei_service::plans::CarePlan;
use uuid::Uuid;

use super::Ui;
use super::fmt::{self, When};
use crate::state::AppState;

/// A plan as a chip: pathway, current stage, state.
#[derive(Clone)]
pub struct PlanChip {
    pub url: String,
    pub title: String,
    pub stage: String,
}

pub fn plan_chip(state: &AppState, p: &CarePlan) -> PlanChip {
    let template = state
        .services
        .pathways
        .find_for(
            &p.pathway.code,
            p.pathway.version,
            p.variant.as_ref().map(|v| v.code.as_str()),
        )
        .map(|x| &x.template);
    PlanChip {
        url: format!("/care-plans/{}", p.id),
        title: p.pathway.title_ja.clone(),
        stage: fmt::stage_title(template, &p.current_stage),
    }
}

/// The patient banner.
#[derive(Clone)]
pub struct Banner {
    pub url: String,
    pub kana: String,
    pub kanji: String,
    pub sex: &'static str,
    pub birth: When,
    pub era: String,
    pub age: u32,
    pub regional_id: String,
    /// This facility's patient number (カルテ番号), when it holds one.
    pub own_id: Option<String>,
    /// Other facilities' numbers, `code: value`.
    pub other_ids: Vec<String>,
    /// Another visible patient has the same kana name (同姓同名).
    pub same_name: bool,
    /// The search listing every visible patient of this kana name.
    pub same_name_url: String,
    pub plans: Vec<PlanChip>,
}

impl Banner {
    /// `山田 太郎` for titles.
    pub fn name(&self) -> &str {
        &self.kanji
    }
}

pub fn names(p: &Patient) -> (String, String) {
    (
        format!("{} {}", p.name.family_kana, p.name.given_kana),
        format!("{} {}", p.name.family, p.name.given),
    )
}

/// Builds the banner from a patient and the plans this organisation sees.
pub fn banner_of(
    state: &AppState,
    ui: &Ui,
    p: &Patient,
    plans: &[CarePlan],
    same_name: bool,
) -> Banner {
    let b = fmt::birth_date(p.birth_date, state.services.now());
    let (kana, kanji) = names(p);
    Banner {
        url: format!("/patients/{}", p.id),
        kana,
        kanji,
        sex: fmt::sex(&p.sex),
        birth: b.when,
        era: b.era,
        age: b.age,
        regional_id: p.id.to_string(),
        own_id: p
            .identifiers
            .iter()
            .find(|i| i.organization == ui.actor.organization_code)
            .map(|i| i.value.clone()),
        other_ids: p
            .identifiers
            .iter()
            .filter(|i| i.organization != ui.actor.organization_code)
            .map(|i| format!("{}: {}", ui.organization_name_of(&i.organization), i.value))
            .collect(),
        same_name,
        same_name_url: format!(
            "/patients?q={}",
            url::form_urlencoded::byte_serialize(
                format!("{}{}", p.name.family_kana, p.name.given_kana).as_bytes()
            )
            .collect::<String>()
        ),
        plans: plans
            .iter()
            .filter(|x| PlanStatus::parse(&x.status) == Some(PlanStatus::Active))
            .map(|x| plan_chip(state, x))
            .collect(),
    }
}

/// Loads the patient, the plans this organisation sees and the banner: the service's
/// patient screen (one access decision, one audit event).
pub async fn load_banner(
    state: &AppState,
    ui: &Ui,
    patient_id: Uuid,
) -> Result<(Patient, Vec<CarePlan>, Banner), ServiceError> {
    let s = state
        .services
        .patient_screen(&ui.actor, &ui.meta, patient_id)
        .await?;
    let card = s.card;
    let banner = banner_of(state, ui, &card.patient, &card.plans, card.same_name);
    Ok((card.patient, card.plans, banner))
}
