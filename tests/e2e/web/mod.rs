//! The server-rendered pages over HTTP: login and sessions, the main pages and their
//! forms, the language switch.

mod corrections;
pub mod cyclical_plan;
mod english_pages;
mod entry_forms;
pub(crate) mod handbook;
mod inbox_admin;
mod lang_redirect;
mod login;
mod print_patient;
mod ui_pages;
mod variances;
