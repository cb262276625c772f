//! Classifying or dismissing an automatic variance from the plan page's variance list:
//! one form per variance (a cause from the pathway's codes and a reason, or only a
//! reason to dismiss), POST → 303 back to the list with a notice.

use axum::extract::{Path, State};
use renkei_service::ServiceError;
use renkei_service::variances::VarianceReview;

use super::{Posted, UiResult, parse_uuid, see_other};
use crate::state::AppState;

/// `POST /care-plans/{id}/variances/{entry}/review` with `decision` = `classify` (and
/// `code`) or `dismiss`, and `reason`.
pub async fn review_submit(
    State(state): State<AppState>,
    Path((id, entry)): Path<(String, String)>,
    posted: Posted,
) -> UiResult {
    let id = parse_uuid(&id)?;
    let entry = parse_uuid(&entry)?;
    let ui = &posted.ui;
    let review = match posted.get("decision") {
        "classify" => VarianceReview::Classify {
            code: posted.get("code").to_owned(),
        },
        "dismiss" => VarianceReview::Dismiss,
        _ => return Err(ServiceError::NotFound("action").into()),
    };
    let done = match review {
        VarianceReview::Classify { .. } => "classified",
        VarianceReview::Dismiss => "dismissed",
    };
    let outcome = match state
        .services
        .review_variance(&ui.actor, &ui.meta, id, entry, review, posted.get("reason"))
        .await
    {
        Ok(_) => done,
        Err(ServiceError::Validation(errors)) => {
            if errors.iter().any(|e| e.field == "reason") {
                "reason_missing"
            } else {
                "code_missing"
            }
        }
        Err(ServiceError::Conflict { .. }) => "already_reviewed",
        Err(e) => return Err(e.into()),
    };
    Ok(see_other(&format!(
        "/care-plans/{id}?variance={outcome}#variances"
    )))
}

/// The plan page's notice after a review (`?variance=…`).
pub fn review_notice(outcome: &str) -> Option<&'static str> {
    Some(match outcome {
        "classified" => "バリアンスの要因を分類しました。",
        "dismissed" => "自動検出のバリアンスを取り消しました(バリアンスではない)。",
        "reason_missing" => {
            "分類・取消の理由を入力してください(例: 手術枠の空きがなかったため)。記録はされていません。"
        }
        "code_missing" => "要因の種類を選んでください。記録はされていません。",
        "already_reviewed" => {
            "このバリアンスはすでに分類または取消されています。一覧を確認してください。"
        }
        _ => return None,
    })
}
