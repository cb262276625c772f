//! The regional council's reports (連携パス協議会): who may see what, the filter's
//! check against the published pathways and the directory, the report facts brought up
//! to date before a read, the pure fold of `renkei_domain::council`, and one audit event
//! `report.read` per view. The facts themselves are computed in [`crate::council_facts`].

use std::collections::HashMap;

use renkei_domain::FieldError;
use renkei_domain::council::{FoldContext, Labels, report_page_with};
use renkei_domain::rules::Rule;
use renkei_domain::wording::Lang;
use renkei_store::council as store;
use renkei_store::queries;
use uuid::Uuid;

pub use renkei_domain::council::{
    ChartKind, ChartSpec, Period, ReportCell, ReportColumn, ReportFilter, ReportKind, ReportPage,
    ReportSection,
};

use crate::audit::{self, AuditRecord, Outcome, RequestMeta};
use crate::{Actor, ServiceError, Services};

/// The administrative role of council members (協議会委員): they see the region's
/// reports with every organisation broken out, as the regional administrator does.
pub const COUNCIL_MEMBER: &str = "council_member";

/// Whether the actor sees every organisation broken out.
pub fn sees_region(actor: &Actor) -> bool {
    actor.has_role("regional_admin") || actor.has_role(COUNCIL_MEMBER)
}

impl Services {
    /// Parses a report's query pairs and checks them against the published pathways and
    /// the directory, reporting every bad field at once (422).
    pub async fn parse_report_filter(
        &self,
        pairs: &[(String, String)],
    ) -> Result<ReportFilter, ServiceError> {
        let filter = ReportFilter::parse(pairs).map_err(ServiceError::Validation)?;
        let errors = self.report_filter_errors(&filter).await?;
        if errors.is_empty() {
            Ok(filter)
        } else {
            Err(ServiceError::Validation(errors))
        }
    }

    async fn report_filter_errors(
        &self,
        filter: &ReportFilter,
    ) -> Result<Vec<FieldError>, ServiceError> {
        let mut errors = Vec::new();
        if let Some(p) = &filter.pathway {
            if self.pathways.latest(p).is_none() {
                errors.push(FieldError::new(
                    "pathway",
                    Rule::Unknown,
                    format!("no published pathway `{p}`"),
                ));
            } else {
                for v in &filter.versions {
                    if self.pathways.find(p, *v).is_none() {
                        errors.push(FieldError::new(
                            "version",
                            Rule::Unknown,
                            format!("pathway `{p}` has no published version {v}"),
                        ));
                    }
                }
                if let Some(s) = &filter.stage {
                    let known = self
                        .pathways
                        .all()
                        .filter(|x| &x.template.code == p)
                        .any(|x| x.template.stages.iter().any(|st| &st.code == s));
                    if !known {
                        errors.push(FieldError::new(
                            "stage",
                            Rule::UnknownStage,
                            format!("pathway `{p}` has no stage `{s}`"),
                        ));
                    }
                }
            }
        }
        if let Some(code) = &filter.organization
            && !queries::list_organizations(&self.db)
                .await?
                .iter()
                .any(|o| &o.code == code)
        {
            errors.push(FieldError::new(
                "organization",
                Rule::Unknown,
                format!("no organization `{code}`"),
            ));
        }
        if let Some(area) = &filter.area
            && !queries::list_organizations(&self.db)
                .await?
                .iter()
                .any(|o| &o.area == area)
        {
            errors.push(FieldError::new(
                "area",
                Rule::Unknown,
                format!("no organization is in area `{area}`"),
            ));
        }
        Ok(errors)
    }

    /// One council report for `actor`, in Japanese (see [`Services::council_report_in`]).
    pub async fn council_report(
        &self,
        actor: &Actor,
        kind: ReportKind,
        filter: &ReportFilter,
        meta: &RequestMeta,
    ) -> Result<ReportPage, ServiceError> {
        self.council_report_in(actor, kind, filter, Lang::Ja, meta)
            .await
    }

    /// One council report for `actor` with its words in `lang`: the regional
    /// administrator and council members see every organisation; anyone else their own
    /// organisation's rows and the region's totals, and may filter on their own
    /// organisation only. Plans without a statistics consent are left out and counted;
    /// small cells are suppressed. The view is audited (`report.read`, the filter as
    /// detail).
    pub async fn council_report_in(
        &self,
        actor: &Actor,
        kind: ReportKind,
        filter: &ReportFilter,
        lang: Lang,
        meta: &RequestMeta,
    ) -> Result<ReportPage, ServiceError> {
        let region_view = sees_region(actor);
        let mut errors = self.report_filter_errors(filter).await?;
        let orgs = queries::list_organizations(&self.db).await?;
        let organization = filter
            .organization
            .as_ref()
            .and_then(|code| orgs.iter().find(|o| &o.code == code).map(|o| o.id));
        if !region_view
            && let Some(o) = organization
            && o != actor.organization_id
        {
            errors.push(FieldError::new(
                "organization",
                Rule::OwnOrganizationOnly,
                "only the regional administrator and council members may look at another organization",
            ));
        }
        if kind == ReportKind::Compare && filter.versions.len() != 2 {
            errors.push(FieldError::new(
                "version",
                Rule::Required,
                "the comparison needs two versions",
            ));
        }
        let detail = query_text(filter);
        if !errors.is_empty() {
            audit::record_now(
                self,
                meta,
                AuditRecord::by(
                    actor,
                    "report.read",
                    "council_report",
                    Some(kind.as_str().to_owned()),
                    Outcome::Denied,
                )
                .detail(detail),
            )
            .await?;
            return Err(ServiceError::Validation(errors));
        }
        self.refresh_all_report_facts().await?;
        // The filter's plan columns go to SQL; without an organisation filter only the
        // consenting plans are read and the others counted there.
        let (started, ended) = match filter.period {
            Period::Start => ((filter.from, filter.to), (None, None)),
            Period::End => ((None, None), (filter.from, filter.to)),
        };
        let q = store::RowsQuery {
            pathway: filter.pathway.clone(),
            versions: filter.versions.clone(),
            area: filter.area.clone(),
            started,
            ended,
        };
        let consenting_only = organization.is_none();
        let (mut rows, unreadable) = store::rows(&self.db, &q, consenting_only).await?;
        if !unreadable.is_empty() {
            store::mark_many_stale(&self.db, &unreadable).await?;
            self.refresh_all_report_facts().await?;
            rows = store::rows(&self.db, &q, consenting_only).await?.0;
        }
        let excluded_elsewhere = if consenting_only {
            store::count_without_consent(&self.db, &q).await?
        } else {
            0
        };
        let labels = self.report_labels(&orgs);
        let ctx = FoldContext {
            viewer_org: actor.organization_id,
            region_view,
            filter,
            organization,
            labels: &labels,
            lang,
            now: self.now(),
        };
        let page = report_page_with(kind, &rows, excluded_elsewhere, &ctx);
        audit::record_now(
            self,
            meta,
            AuditRecord::by(
                actor,
                "report.read",
                "council_report",
                Some(kind.as_str().to_owned()),
                Outcome::Allowed,
            )
            .detail(detail),
        )
        .await?;
        Ok(page)
    }

    pub(crate) fn report_labels(&self, orgs: &[queries::OrganizationRow]) -> Labels {
        let mut labels = Labels {
            organizations: orgs
                .iter()
                .map(|o| (o.id, format!("{} {}", o.code, o.name)))
                .collect::<HashMap<Uuid, String>>(),
            ..Default::default()
        };
        // The latest version's titles name each pathway and stage.
        let mut published: Vec<_> = self.pathways.all().collect();
        published.sort_by_key(|p| p.template.version);
        for p in published {
            let t = &p.template;
            labels.pathways.insert(t.code.clone(), t.title.ja.clone());
            for s in &t.stages {
                labels
                    .stages
                    .insert((t.code.clone(), s.code.clone()), s.title.ja.clone());
            }
            for g in &t.goals {
                labels
                    .goals
                    .insert((t.code.clone(), g.code.clone()), g.title.ja.clone());
            }
            for v in &t.variances {
                labels
                    .variances
                    .insert((t.code.clone(), v.code.clone()), v.title.ja.clone());
            }
        }
        labels
    }
}

/// The filter as a query string (the audit event's detail).
pub fn query_text(filter: &ReportFilter) -> String {
    filter
        .to_pairs()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}
