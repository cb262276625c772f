//! renkei-store: sea-orm entities and the queries of Renkei, generic over the connection
//! so every function runs on the pool or inside a transaction, on SQLite or PostgreSQL.

pub mod admin;
pub mod audit;
pub mod backup;
pub mod bench;
pub mod care_plans;
pub mod care_teams;
pub mod chains;
pub mod db;
pub mod declarations;
pub mod entity;
pub mod error;
pub mod evidence;
pub mod handovers;
pub mod practitioners;
pub mod queries;
pub mod queries_access;
pub mod queries_auth;
pub mod reports;
#[cfg(feature = "testing")]
pub mod testing;

pub use error::StoreError;
