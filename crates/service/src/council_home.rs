//! Data completeness shown back to each organisation on its home page (issue 16, point
//! 4): its own figures next to the region's median organisation, from the same fold as
//! the completeness report ([`renkei_domain::council::completeness`]). The page reads
//! the stored report facts of the plans with a statistics consent, never the entries;
//! the region's summary is kept between changes of those facts, so a home page costs
//! two small queries while nothing changed.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use renkei_domain::council::completeness::{CompletenessSummary, OrganizationCompleteness};
use renkei_domain::council::{FoldContext, ReportFilter};
use renkei_domain::wording::Lang;
use renkei_store::council as store;
use renkei_store::queries;
use uuid::Uuid;

pub use renkei_domain::council::completeness::{CompletenessFigures, HomeCompleteness};

use crate::{Actor, ServiceError, Services};

/// Which state of the report facts a summary was computed from: the rows stored, the
/// last time one was computed, and this server's count of refreshes (a refresh by this
/// server within one clock tick still changes it).
type Generation = (u64, Option<DateTime<Utc>>, u64);

/// The region's completeness summary, kept between changes of the report facts.
#[derive(Default)]
pub struct HomeSummaryCache {
    refreshes: AtomicU64,
    summary: Mutex<Option<(Generation, CompletenessSummary)>>,
}

impl HomeSummaryCache {
    /// Notes that this server wrote report facts (the kept summary is then recomputed).
    pub(crate) fn note_refresh(&self) {
        self.refreshes.fetch_add(1, Ordering::Relaxed);
    }

    fn get(&self, generation: &Generation) -> Option<CompletenessSummary> {
        let kept = self.summary.lock().ok()?;
        kept.as_ref()
            .filter(|(g, _)| g == generation)
            .map(|(_, s)| s.clone())
    }

    fn put(&self, generation: Generation, summary: CompletenessSummary) {
        if let Ok(mut kept) = self.summary.lock() {
            *kept = Some((generation, summary));
        }
    }
}

/// The home page's completeness panel of one organisation.
#[derive(Debug, Clone)]
pub struct HomeCompletenessPanel {
    pub figures: HomeCompleteness,
    /// The organisation's code (the full report's filter).
    pub organization_code: String,
}

impl Services {
    /// The completeness of the actor's organisation over every plan with a statistics
    /// consent, next to the region's median organisation (shown only over five patients
    /// or more of other organisations and three organisations or more). Not audited
    /// apart: the panel is part of the home page, whose view is one `worklist.read`.
    pub async fn home_completeness(
        &self,
        actor: &Actor,
    ) -> Result<HomeCompletenessPanel, ServiceError> {
        self.refresh_all_report_facts().await?;
        let (rows, computed) = store::generation(&self.db).await?;
        let generation = (
            rows,
            computed,
            self.home_summary.refreshes.load(Ordering::Relaxed),
        );
        let summary = match self.home_summary.get(&generation) {
            Some(s) => s,
            None => {
                let s = self.completeness_summary().await?;
                self.home_summary.put(generation, s.clone());
                s
            }
        };
        Ok(HomeCompletenessPanel {
            figures: summary.home(actor.organization_id),
            organization_code: actor.organization_code.clone(),
        })
    }

    /// The region's completeness summary from the stored facts of the consenting plans.
    async fn completeness_summary(&self) -> Result<CompletenessSummary, ServiceError> {
        let q = store::RowsQuery::default();
        let (mut rows, unreadable) = store::rows(&self.db, &q, true).await?;
        if !unreadable.is_empty() {
            store::mark_many_stale(&self.db, &unreadable).await?;
            self.refresh_all_report_facts().await?;
            rows = store::rows(&self.db, &q, true).await?.0;
        }
        let orgs = queries::list_organizations(&self.db).await?;
        let labels = self.report_labels(&orgs);
        let filter = ReportFilter::default();
        // No viewer: the summary serves every organisation, each one's own figures
        // picked out by `CompletenessSummary::home`.
        let ctx = FoldContext {
            viewer_org: Uuid::nil(),
            region_view: true,
            filter: &filter,
            organization: None,
            labels: &labels,
            lang: Lang::Ja,
            now: self.now(),
        };
        let refs: Vec<_> = rows.iter().collect();
        Ok(OrganizationCompleteness::of(&refs, &ctx).summary())
    }
}
