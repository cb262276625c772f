//! The server-rendered pages over HTTP: login and sessions, the main pages and their
//! forms, the language switch.

mod entry_forms;
mod inbox_admin;
mod corrections;
mod lang_redirect;
mod login;
mod ui_pages;
