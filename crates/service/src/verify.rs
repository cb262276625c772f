//! `renkei verify`: recomputes every hash chain and every template snapshot hash, and
//! checks the rows that are not chained against the evidence the audit log recorded.
//!
//! What it proves, from the database alone:
//! - every entry chain is intact and ends at the head its plan row records;
//! - every audit event's contents give its leaf hash, each region's events are numbered
//!   1..n without gaps, and every stored checkpoint is the root of the tree of its size
//!   rebuilt from the events (signed by the server's key when it is given); an empty
//!   log beside patient data is a problem;
//! - every care plan, care-team member, consent, break-glass grant, API token and
//!   patient (demographics) is exactly as the latest audit event that wrote it recorded
//!   it: a row changed, added or deleted outside Renkei is reported — and because the
//!   plan row's evidence covers its chain head, so is an entry chain whose tail was cut
//!   together with its plan row;
//! - no entries belong to a plan that does not exist.
//!
//! What it cannot prove without a checkpoint kept outside the database (a witness,
//! `--checkpoint FILE`): that the audit log was not cut back together with its stored
//! checkpoints and tree (everything written after the cut then disappears
//! consistently). With a witness it is caught.
//!
//! Everything is read in pages (no query per row), so the cost grows with the number
//! of rows, not with round trips.

use std::collections::HashMap;

use renkei_domain::chain::{ChainedEntry, GENESIS_HASH, verify_chain};
use renkei_domain::evidence::{EvidenceKind, Finding, Ledger};
use renkei_domain::template::PathwayTemplate;
use renkei_store::queries::{self, EntryRow};
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use crate::ServiceError;
use crate::audit::{AuditSummary, AuditTrust};

/// Rows read per query.
const PAGE: u64 = 5_000;

/// Findings of one kind printed before they are summed up in one line.
const SHOWN_PER_KIND: usize = 20;

#[derive(Debug, Default)]
pub struct VerifyReport {
    pub pathway_versions: usize,
    pub care_plans: usize,
    pub entries: usize,
    pub audit_events: usize,
    /// Audit events not yet sequenced when checked.
    pub audit_pending: usize,
    /// Stored audit checkpoints checked, and witness checkpoints.
    pub audit_checkpoints: usize,
    pub witness_checkpoints: usize,
    /// Rows checked against the audit log's evidence (plans included).
    pub evidenced_rows: usize,
    /// One line per broken chain or snapshot, naming the first broken link, then one
    /// per row that disagrees with the audit log.
    pub problems: Vec<String>,
}

/// [`verify_with`] with nothing but the database.
pub async fn verify(db: &DatabaseConnection) -> Result<VerifyReport, ServiceError> {
    verify_with(db, &AuditTrust::default()).await
}

pub async fn verify_with(
    db: &DatabaseConnection,
    trust: &AuditTrust<'_>,
) -> Result<VerifyReport, ServiceError> {
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

    // The audit log first: replaying it gives the latest recorded state of every row.
    let mut ledger = Ledger::default();
    let (audit, audit_problems) = crate::audit::verify_audit(db, &mut ledger, trust).await?;

    // Plans: their evidence, and their heads for the chains.
    let mut findings: Vec<Finding> = Vec::new();
    let mut heads: HashMap<Uuid, (i64, String)> = HashMap::new();
    let mut after = None;
    loop {
        let page = queries::care_plans_page(db, None, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        for plan in page {
            report.care_plans += 1;
            findings.extend(ledger.check(&crate::evidence::care_plan(&plan)));
            heads.insert(plan.id, (plan.last_seq, plan.head_hash));
        }
    }
    verify_entries(db, &mut heads, &mut report).await?;

    let mut rows = report.care_plans;
    for kind in [
        EvidenceKind::CareTeamMember,
        EvidenceKind::Consent,
        EvidenceKind::BreakGlass,
        EvidenceKind::Token,
        EvidenceKind::Patient,
        EvidenceKind::PatientIdentifier,
        EvidenceKind::PatientLink,
    ] {
        rows += check_rows(db, kind, &mut ledger, &mut findings).await?;
    }
    report.evidenced_rows = rows;
    for kind in EvidenceKind::ALL {
        findings.extend(ledger.missing(kind));
    }

    let AuditSummary {
        events,
        checkpoints,
        witnessed,
        pending,
    } = audit;
    if events == 0 && (rows > 0 || report.entries > 0) {
        report.problems.push(format!(
            "the audit log is empty but the database holds {rows} audited rows and {} entries; the log was emptied outside Renkei",
            report.entries
        ));
    }
    report.audit_events = events;
    report.audit_pending = pending;
    report.audit_checkpoints = checkpoints;
    report.witness_checkpoints = witnessed;
    report.problems.extend(audit_problems);
    report_findings(findings, &mut report.problems);
    Ok(report)
}

/// Every entry in (plan, seq) order, a plan's chain at a time: checks the chain and its
/// end against the plan's head, and reports entries whose plan does not exist.
async fn verify_entries(
    db: &DatabaseConnection,
    heads: &mut HashMap<Uuid, (i64, String)>,
    report: &mut VerifyReport,
) -> Result<(), ServiceError> {
    let mut chain: Vec<EntryRow> = Vec::new();
    let mut after: Option<(Uuid, i64)> = None;
    loop {
        let page = renkei_store::chains::entries_page(db, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some((last.care_plan_id, last.seq));
        for row in page {
            if chain
                .first()
                .is_some_and(|c| c.care_plan_id != row.care_plan_id)
            {
                check_chain(std::mem::take(&mut chain), heads, report);
            }
            chain.push(row);
        }
    }
    if !chain.is_empty() {
        check_chain(chain, heads, report);
    }
    // Plans whose entries are all gone.
    let mut emptied: Vec<(Uuid, i64, String)> = heads
        .drain()
        .filter(|(_, (last_seq, _))| *last_seq != 0)
        .map(|(id, (last_seq, head))| (id, last_seq, head))
        .collect();
    emptied.sort();
    for (id, last_seq, head) in emptied {
        report.problems.push(head_mismatch(id, 0, last_seq, &head));
    }
    Ok(())
}

/// Checks one plan's chain (its entries in seq order) and its end against the plan row.
fn check_chain(
    rows: Vec<EntryRow>,
    heads: &mut HashMap<Uuid, (i64, String)>,
    report: &mut VerifyReport,
) {
    let plan_id = rows[0].care_plan_id;
    let Some((last_seq, plan_head)) = heads.remove(&plan_id) else {
        report.problems.push(format!(
            "care plan {plan_id} does not exist but {} entries name it; they were added outside Renkei",
            rows.len()
        ));
        return;
    };
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
            .push(format!("care plan {plan_id}: entry {b}")),
        Ok(n) => {
            report.entries += n;
            // The plan row records the head: a removed tail is caught here.
            let head = chained.last().map(|(_, h)| h.as_str()).unwrap_or("");
            let expected_head = if last_seq == 0 { "" } else { &plan_head };
            if n as i64 != last_seq || head != expected_head {
                report
                    .problems
                    .push(head_mismatch(plan_id, n, last_seq, &plan_head));
            }
        }
    }
}

fn head_mismatch(plan: Uuid, n: usize, last_seq: i64, head: &str) -> String {
    format!(
        "care plan {plan}: chain has {n} entries but the plan records {last_seq} (head {}); entries are missing or were added outside Renkei",
        if head.is_empty() { GENESIS_HASH } else { head }
    )
}

/// Checks every row of one kind against the ledger, a page at a time in id order;
/// returns how many rows there were.
async fn check_rows(
    db: &DatabaseConnection,
    kind: EvidenceKind,
    ledger: &mut Ledger,
    findings: &mut Vec<Finding>,
) -> Result<usize, ServiceError> {
    let mut count = 0;
    let mut after: Option<Uuid> = None;
    loop {
        let page = renkei_store::evidence::rows_page(db, kind, after, PAGE).await?;
        if page.is_empty() {
            break;
        }
        for row in &page {
            after = Some(row.id());
            count += 1;
            findings.extend(ledger.check(&crate::evidence::of(row)));
        }
    }
    Ok(count)
}

/// One line per finding, at most [`SHOWN_PER_KIND`] of each kind and what of the kind,
/// then a count of the rest (an emptied log would otherwise print every row).
fn report_findings(findings: Vec<Finding>, problems: &mut Vec<String>) {
    let mut shown: HashMap<(EvidenceKind, u8), usize> = HashMap::new();
    let mut hidden: HashMap<(EvidenceKind, u8), usize> = HashMap::new();
    for f in &findings {
        let what = match f {
            Finding::Unrecorded(_) => 0,
            Finding::Changed { .. } => 1,
            Finding::Missing { .. } => 2,
        };
        let n = shown.entry((f.key().kind, what)).or_default();
        if *n < SHOWN_PER_KIND {
            *n += 1;
            problems.push(f.to_string());
        } else {
            *hidden.entry((f.key().kind, what)).or_default() += 1;
        }
    }
    let mut hidden: Vec<_> = hidden.into_iter().collect();
    hidden.sort();
    for ((kind, _), n) in hidden {
        problems.push(format!(
            "… and {n} more {} rows like the ones above",
            kind.label()
        ));
    }
}
