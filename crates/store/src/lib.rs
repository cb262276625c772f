#![doc = include_str!("../README.md")]

pub mod admin;
pub mod admin_users;
pub mod audit;
pub mod backup;
pub mod bench;
pub mod bulk_load;
pub mod care_plans;
pub mod care_teams;
pub mod chains;
pub mod db;
pub mod declarations;
pub mod entity;
pub mod error;
pub mod evidence;
pub mod handovers;
pub mod notices;
pub mod practitioners;
pub mod queries;
pub mod queries_access;
pub mod queries_auth;
pub mod reports;
#[cfg(feature = "testing")]
pub mod testing;
pub mod work_index;

pub use error::StoreError;
