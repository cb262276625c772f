//! The printable referral letter (診療情報提供書, A4) of a hand-over
//! (`/handovers/{id}/letter`): the same sections as the hand-over's FHIR document
//! (`Composition/{id}/$document`), filled from the plan and the hand-over — the sender
//! types only the free text (紹介目的's note and the referral's free-text fields, on the
//! proposal form). The document is Japanese; the screen words around it follow the shell
//! language. Printing reuses the care plan's print stylesheets (the patient's name on
//! every page, `n / N` at the foot).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use renkei_fhir::composition::{LetterBody, letter_sections};

use super::fmt::{self, When};
use super::{Nav, Shell, Ui, UiResult, page, parse_uuid};
use crate::state::AppState;

/// One section of the letter as printed.
pub struct LetterSectionView {
    pub title: String,
    pub paragraphs: Vec<String>,
    pub rows: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "ui/referral_letter.html")]
pub struct LetterPage {
    pub shell: Shell,
    pub title: String,
    pub proposed: When,
    pub to_name: String,
    pub from_name: String,
    pub from_phone: Option<String>,
    pub author: String,
    pub kana: String,
    pub kanji: String,
    pub sex: &'static str,
    pub birth: When,
    pub era: String,
    pub age: u32,
    pub sections: Vec<LetterSectionView>,
    pub plan_url: String,
    pub handover_url: String,
    pub printed: When,
}

pub async fn letter_page(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<String>,
) -> UiResult {
    let id = parse_uuid(&id)?;
    let data = state
        .services
        .referral_letter(&ui.actor, &ui.meta, id)
        .await?;
    let now = state.services.now();
    let letter = data.letter();
    let sections = letter_sections(&letter)
        .into_iter()
        .map(|s| {
            let (paragraphs, rows) = match s.body {
                LetterBody::Paragraphs(p) => (p, Vec::new()),
                LetterBody::Rows(r) => (Vec::new(), r),
            };
            LetterSectionView {
                title: s.title.to_owned(),
                paragraphs,
                rows,
            }
        })
        .collect();
    let p = &data.patient;
    let birth = fmt::birth_date(p.birth_date, now);
    Ok(page(
        StatusCode::OK,
        &LetterPage {
            shell: ui.shell(String::new(), Nav::None),
            title: format!("診療情報提供書 — {} {}", p.family, p.given),
            proposed: fmt::day_of(data.handover.proposed_at),
            to_name: data.to.name.clone(),
            from_name: data.from.name.clone(),
            from_phone: data.from.phone.clone(),
            author: data.author.name.clone(),
            kana: format!("{} {}", p.family_kana, p.given_kana),
            kanji: format!("{} {}", p.family, p.given),
            sex: fmt::sex(&p.gender),
            birth: birth.when,
            era: birth.era,
            age: birth.age,
            sections,
            plan_url: format!("/care-plans/{}", data.handover.care_plan_id),
            handover_url: format!("/handovers/{id}"),
            printed: fmt::day_of(now),
        },
    ))
}
