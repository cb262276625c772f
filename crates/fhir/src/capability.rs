//! What a resource type declares of itself for the CapabilityStatement: its
//! interactions, search parameters, includes and operations ([`ResourceCapability`]),
//! and the search parameters several types share. The statement itself is built in
//! [`crate::metadata`] from the table of every type served.

/// A search parameter of a resource type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchParam {
    pub name: &'static str,
    /// `token`, `reference`, `date`, `string`, `number`.
    pub kind: &'static str,
    pub documentation: &'static str,
}

/// An operation on a resource type or instance (`$everything`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    pub name: &'static str,
    pub definition: &'static str,
}

/// What the server does with one resource type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceCapability {
    pub kind: &'static str,
    /// The profile the resources claim (`meta.profile`), a JP Core one where it exists.
    pub profile: Option<&'static str>,
    /// `read`, `search-type`…
    pub interactions: &'static [&'static str],
    pub search_params: &'static [SearchParam],
    pub search_include: &'static [&'static str],
    pub operations: &'static [Operation],
}

/// `_lastUpdated`, which every searchable type supports.
pub const LAST_UPDATED: SearchParam = SearchParam {
    name: "_lastUpdated",
    kind: "date",
    documentation: "When the resource last changed; prefixes eq, ge, le, gt, lt",
};

/// `patient`, the subject of a patient's resources.
pub const PATIENT: SearchParam = SearchParam {
    name: "patient",
    kind: "reference",
    documentation: "The patient (Patient/{id} or the bare id)",
};

/// `status`.
pub const STATUS: SearchParam = SearchParam {
    name: "status",
    kind: "token",
    documentation: "The resource's status code; several separated by commas",
};
