//! The server-rendered pages over HTTP: login and sessions, the main pages and their
//! forms, the language switch.

mod lang_redirect;
mod login;
mod print_patient;
mod ui_pages;
