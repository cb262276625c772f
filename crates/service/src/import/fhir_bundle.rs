//! `POST /fhir/r4` with a transaction Bundle of lab-result Observations: read the Bundle,
//! import all or nothing, answer a `transaction-response` Bundle or the issues.

use renkei_domain::wording::{Lang, ui_text};
use renkei_fhir::import::{Issue, IssueKind, ResponseEntry, read_bundle, transaction_response};
use renkei_fhir::observation::observation_id;
use serde_json::Value;

use super::{ImportRequest, Mode, ObservationOutcome};
use crate::audit::RequestMeta;
use crate::{Actor, ServiceError, Services};

/// The answer to an imported Bundle.
#[derive(Debug, Clone, PartialEq)]
pub enum BundleImport {
    /// Written (or written before): the `transaction-response` Bundle.
    Done(Value),
    /// Nothing written: every fault, each at its Bundle entry.
    Refused(Vec<Issue>),
}

/// The words of each kind of fault, Japanese first (the wording table has the English).
pub fn issue_words(kind: IssueKind, lang: Lang) -> &'static str {
    let ja = match kind {
        IssueKind::Structure => "取り込みデータの形式が正しくありません",
        IssueKind::Required => "必須の項目がありません",
        IssueKind::UnmappedCode => "この検査コードに対応するパスの評価項目がありません",
        IssueKind::AmbiguousCode => "この検査コードに対応する評価項目が複数あります",
        IssueKind::Unit => "単位が評価項目の単位と異なります",
        IssueKind::Value => "値が評価項目の有効範囲外です",
        IssueKind::UnknownPatient => "対象の患者が見つかりません",
        IssueKind::NotFound => "この患者の有効な連携パスがありません",
        IssueKind::BusinessRule => "連携パスの現在の状態では記録できません",
        IssueKind::Duplicate => "同じ識別子の検査結果が既に取り込まれています",
    };
    ui_text(ja, lang)
}

impl Services {
    /// Imports a transaction Bundle of Observations as `actor`.
    pub async fn import_fhir_bundle(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        bundle: &Value,
    ) -> Result<BundleImport, ServiceError> {
        let read = read_bundle(bundle);
        if read.observations.is_empty() {
            return Ok(BundleImport::Refused(read.issues));
        }
        let request = ImportRequest {
            identifier: read.identifier,
            request_hash: renkei_domain::canonical::sha256_tagged(
                renkei_domain::chain::canonical(bundle).as_bytes(),
            ),
            observations: read.observations,
            issues: read.issues,
            mode: Mode::AllOrNothing,
            dry_run: false,
        };
        let report = self.import_observations(actor, meta, request).await?;
        if report.rejected() {
            return Ok(BundleImport::Refused(report.issues));
        }
        let entries: Vec<ResponseEntry> = report
            .outcomes
            .iter()
            .map(|o| match o {
                ObservationOutcome::Imported { entry, item, .. } => ResponseEntry {
                    created: !report.replayed,
                    observation_id: observation_id(&entry.to_string(), item),
                },
                ObservationOutcome::AlreadyImported { entry, item, .. } => ResponseEntry {
                    created: false,
                    observation_id: observation_id(&entry.to_string(), item),
                },
            })
            .collect();
        Ok(BundleImport::Done(transaction_response(
            &entries,
            self.now(),
        )))
    }
}
