//! Where an imported observation goes: its patient (by Renkei id or by an organisation's
//! patient identifier) and the plan that records its code (the one `basedOn` names, else
//! the patient's one active plan whose template has an item for the code).

use std::collections::HashMap;

use renkei_fhir::import::{
    ImportedObservation, Issue, IssueKind, SubjectRef, Unmapped, item_for,
    organization_of_identifier_system,
};
use renkei_store::queries::{self, CarePlanRow};
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use crate::{ServiceError, Services};

/// Patients and plans already looked up during one import.
#[derive(Default)]
pub struct Resolver {
    patients: HashMap<SubjectRef, Option<Uuid>>,
    plans: HashMap<Uuid, Vec<CarePlanRow>>,
    organizations: HashMap<String, Option<Uuid>>,
}

impl Resolver {
    /// The Renkei patient `subject` names, if any.
    pub async fn patient<C: ConnectionTrait>(
        &mut self,
        c: &C,
        subject: &SubjectRef,
    ) -> Result<Option<Uuid>, ServiceError> {
        if let Some(hit) = self.patients.get(subject) {
            return Ok(*hit);
        }
        let found = match subject {
            SubjectRef::Patient(id) => match Uuid::parse_str(id) {
                Ok(id) => queries::patient_by_id(c, id).await?.map(|p| p.id),
                Err(_) => None,
            },
            SubjectRef::Identifier { system, value } => {
                match organization_of_identifier_system(system) {
                    Some(code) => match self.organization(c, code).await? {
                        Some(org) => queries::patient_by_identifier(c, org, value).await?,
                        None => None,
                    },
                    None => None,
                }
            }
        };
        self.patients.insert(subject.clone(), found);
        Ok(found)
    }

    async fn organization<C: ConnectionTrait>(
        &mut self,
        c: &C,
        code: &str,
    ) -> Result<Option<Uuid>, ServiceError> {
        if let Some(hit) = self.organizations.get(code) {
            return Ok(*hit);
        }
        let id = queries::organization_by_code(c, code).await?.map(|o| o.id);
        self.organizations.insert(code.to_owned(), id);
        Ok(id)
    }

    async fn plans_of<C: ConnectionTrait>(
        &mut self,
        c: &C,
        patient: Uuid,
    ) -> Result<&[CarePlanRow], ServiceError> {
        if let std::collections::hash_map::Entry::Vacant(slot) = self.plans.entry(patient) {
            slot.insert(queries::care_plans_of_patient(c, patient).await?);
        }
        Ok(self.plans.get(&patient).map(Vec::as_slice).unwrap_or(&[]))
    }

    /// The plan observation `o` is recorded in, or the issue saying why there is none.
    pub async fn plan_for<C: ConnectionTrait>(
        &mut self,
        services: &Services,
        c: &C,
        o: &ImportedObservation,
    ) -> Result<Result<CarePlanRow, Issue>, ServiceError> {
        let at = format!("Bundle.entry[{}].resource", o.index);
        let Some(patient) = self.patient(c, &o.subject).await? else {
            return Ok(Err(Issue {
                expression: format!("{at}.subject"),
                kind: IssueKind::UnknownPatient,
                detail: "no patient with this id or identifier".into(),
            }));
        };
        let plans = self.plans_of(c, patient).await?;
        if let Some(named) = &o.care_plan {
            return Ok(plans
                .iter()
                .find(|p| p.id.to_string() == *named && super::is_active(p))
                .cloned()
                .ok_or_else(|| Issue {
                    expression: format!("{at}.basedOn"),
                    kind: IssueKind::NotFound,
                    detail: "the patient has no active care plan with this id".into(),
                }));
        }
        let fitting: Vec<&CarePlanRow> = plans
            .iter()
            .filter(|p| super::is_active(p))
            .filter(|p| {
                services.pathway_of_plan(p).is_ok_and(|published| {
                    !matches!(
                        item_for(&published.template, &o.codes),
                        Err(Unmapped::Unknown)
                    )
                })
            })
            .collect();
        Ok(match fitting.as_slice() {
            [one] => Ok((*one).clone()),
            [] if plans.iter().any(super::is_active) => Err(Issue {
                expression: format!("{at}.code"),
                kind: IssueKind::UnmappedCode,
                detail: "no item of the patient's active care plans records this code".into(),
            }),
            [] => Err(Issue {
                expression: format!("{at}.subject"),
                kind: IssueKind::NotFound,
                detail: "the patient has no active care plan".into(),
            }),
            _ => Err(Issue {
                expression: format!("{at}.basedOn"),
                kind: IssueKind::BusinessRule,
                detail: "several active care plans of the patient record this code; name one \
                         in basedOn"
                    .into(),
            }),
        })
    }
}
