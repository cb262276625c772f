//! The regional council's reports over HTTP: `/api/v1/reports/{kind}` in JSON and CSV,
//! the filter and its 422, who sees which rows, the statistics consent, small-cell
//! suppression, the audit event of every read, and the figures checked against counts
//! the tests compute themselves from the plans they created.

mod browser;
mod complementary;
mod home;
mod kinds;
mod meetings;
mod reports;
