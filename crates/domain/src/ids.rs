//! Identifiers and the closed vocabularies the database stores as text.
//!
//! Each identifier is its own type, so a plan id cannot be passed where a patient id is
//! expected. They serialise as the bare UUID (`serde(transparent)`), so JSON and URLs do
//! not change. The store parses every status, kind and role once, at the storage edge,
//! into the enums here and in [`crate::access`], [`crate::entry`] and
//! [`crate::handover`]; nothing above the store compares them as strings.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::template::ProviderKind;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new time-ordered (v7) identifier.
            pub fn new_v7() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn as_uuid(&self) -> &Uuid {
                &self.0
            }

            pub fn into_uuid(self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(u: Uuid) -> Self {
                Self(u)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// A patient's care plan (患者の連携パス).
    PlanId
);
id_type!(
    /// A patient.
    PatientId
);
id_type!(
    /// An organisation (hospital, clinic, station, office).
    OrgId
);
id_type!(
    /// A stage entry on a plan.
    EntryId
);
id_type!(
    /// A practitioner (a user account).
    PractitionerId
);

/// The kind of an organisation in the regional directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrgKind {
    AcuteHospital,
    RecoveryHospital,
    Clinic,
    HomeNursing,
    CareManagement,
    Pharmacy,
    /// 市区町村: takes part in the region's directory, fills no provider kind.
    Municipality,
}

impl OrgKind {
    pub const ALL: [OrgKind; 7] = [
        OrgKind::AcuteHospital,
        OrgKind::RecoveryHospital,
        OrgKind::Clinic,
        OrgKind::HomeNursing,
        OrgKind::CareManagement,
        OrgKind::Pharmacy,
        OrgKind::Municipality,
    ];

    /// The stored codes, in the order of [`OrgKind::ALL`].
    pub const CODES: [&'static str; 7] = [
        "acute_hospital",
        "recovery_hospital",
        "clinic",
        "home_nursing",
        "care_management",
        "pharmacy",
        "municipality",
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        Self::CODES[self as usize]
    }

    /// Which provider kinds of domain.md §9.0 an organisation of this kind fills.
    pub fn provider_kinds(self) -> &'static [ProviderKind] {
        match self {
            OrgKind::AcuteHospital => &[ProviderKind::AcuteHosp, ProviderKind::Specialist],
            OrgKind::RecoveryHospital => &[ProviderKind::RecoveryHosp],
            OrgKind::Clinic => &[
                ProviderKind::Clinic,
                ProviderKind::Ophthal,
                ProviderKind::Dentist,
            ],
            OrgKind::HomeNursing => &[ProviderKind::VisitNurse],
            OrgKind::CareManagement => &[ProviderKind::CareManager, ProviderKind::CareFacility],
            OrgKind::Pharmacy => &[ProviderKind::Pharmacy],
            OrgKind::Municipality => &[],
        }
    }
}

/// An administrative role a practitioner may hold besides their profession.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AdminRole {
    /// 施設の管理者: manages the organisation's users and tokens.
    OrgAdmin,
    /// 地域の管理者: manages the region's directory and reviews break-glass.
    RegionalAdmin,
    /// 協議会委員: reads the regional council's reports with every organisation broken
    /// out; granted by the regional administrator.
    CouncilMember,
}

impl AdminRole {
    pub const ALL: [AdminRole; 3] = [
        AdminRole::OrgAdmin,
        AdminRole::RegionalAdmin,
        AdminRole::CouncilMember,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AdminRole::OrgAdmin => "org_admin",
            AdminRole::RegionalAdmin => "regional_admin",
            AdminRole::CouncilMember => "council_member",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabularies_round_trip() {
        for k in OrgKind::ALL {
            assert_eq!(OrgKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(OrgKind::ALL.map(OrgKind::as_str), OrgKind::CODES);
        for p in crate::access::Profession::ALL {
            assert_eq!(crate::access::Profession::parse(p.as_str()), Some(p));
        }
        assert_eq!(
            crate::access::Profession::ALL.map(crate::access::Profession::as_str),
            crate::access::Profession::CODES
        );
        for r in AdminRole::ALL {
            assert_eq!(AdminRole::parse(r.as_str()), Some(r));
        }
        assert_eq!(OrgKind::parse("hospital"), None);
    }

    #[test]
    fn ids_serialise_as_bare_uuids() {
        let u = Uuid::now_v7();
        let id = PlanId::from(u);
        assert_eq!(
            serde_json::to_string(&id).expect("json"),
            format!("\"{u}\"")
        );
        assert_eq!(id.to_string().parse::<PlanId>().expect("parse"), id);
    }
}
