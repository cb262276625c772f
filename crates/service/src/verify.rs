//! `renkei verify`: recomputes every hash chain and every template snapshot hash.

use renkei_domain::chain::{ChainedEntry, GENESIS_HASH, verify_chain};
use renkei_domain::template::PathwayTemplate;
use renkei_store::queries;
use sea_orm::DatabaseConnection;

use crate::ServiceError;

#[derive(Debug, Default)]
pub struct VerifyReport {
    pub pathway_versions: usize,
    pub care_plans: usize,
    pub entries: usize,
    pub audit_events: usize,
    /// One line per broken chain or snapshot, naming the first broken link.
    pub problems: Vec<String>,
}

pub async fn verify(db: &DatabaseConnection) -> Result<VerifyReport, ServiceError> {
    let mut report = VerifyReport::default();
    for row in queries::list_pathway_versions(db).await? {
        report.pathway_versions += 1;
        match serde_json::from_str::<PathwayTemplate>(&row.snapshot) {
            Ok(t) if t.content_hash() == row.hash && t.canonical_json() == row.snapshot => {}
            _ => report.problems.push(format!(
                "pathway {} v{}: stored snapshot does not match its hash",
                row.code, row.version
            )),
        }
    }
    let mut after = None;
    loop {
        let page = queries::care_plans_page(db, None, after, 1_000).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        for plan in page {
            verify_plan(db, &plan, &mut report).await?;
        }
    }
    match crate::audit::verify_audit(db).await? {
        Ok(n) => report.audit_events = n,
        Err(problem) => report.problems.push(problem),
    }
    Ok(report)
}

/// Checks one plan's chain and head.
async fn verify_plan(
    db: &DatabaseConnection,
    plan: &queries::CarePlanRow,
    report: &mut VerifyReport,
) -> Result<(), ServiceError> {
    report.care_plans += 1;
    let rows = queries::entries_of(db, plan.id).await?;
    let chained: Vec<(ChainedEntry, String)> = rows
        .into_iter()
        .map(|r| {
            (
                ChainedEntry {
                    id: r.id,
                    care_plan_id: r.care_plan_id,
                    seq: r.seq,
                    stage: r.stage,
                    kind: r.kind,
                    effective_at: r.effective_at,
                    recorded_at: r.recorded_at,
                    author_id: r.author_id,
                    organization_id: r.organization_id,
                    values_json: r.values_json,
                    note: r.note,
                    variance_json: r.variance,
                    amends: r.amends,
                    reason: r.reason,
                    prev_hash: r.prev_hash,
                },
                r.hash,
            )
        })
        .collect();
    match verify_chain(chained.iter().map(|(e, h)| (e, h.as_str()))) {
        Err(b) => report
            .problems
            .push(format!("care plan {}: entry {b}", plan.id)),
        Ok(n) => {
            report.entries += n;
            // The plan row records the head: a removed tail is caught here.
            let head = chained.last().map(|(_, h)| h.as_str()).unwrap_or("");
            let expected_head = if plan.last_seq == 0 {
                ""
            } else {
                plan.head_hash.as_str()
            };
            if n as i64 != plan.last_seq || head != expected_head {
                report.problems.push(format!(
                        "care plan {}: chain has {n} entries but the plan records {} (head {}); entries are missing or were added outside Renkei",
                        plan.id,
                        plan.last_seq,
                        if plan.head_hash.is_empty() { GENESIS_HASH } else { &plan.head_hash }
                    ));
            }
        }
    }
    Ok(())
}
