//! Integration tests of the pure rules of renkei-domain: the template language, entry
//! validation and composites, the plan state machine, goal evaluation, the hash chain and
//! the published pathway templates. The modules live under `tests/rules/`.

#![allow(clippy::unwrap_used)]

mod rules {
    mod chain;
    mod council_entries;
    mod entry;
    mod fixture;
    mod goal_semantics;
    mod goals;
    mod handover;
    mod pathways;
    mod pathways_cancer;
    mod pathways_cardiac;
    mod state;
    mod template;
    mod template_codes;
    mod template_variants;
    mod variances;
}
