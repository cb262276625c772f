//! The real `renkei` binary as a child process, for the crash-safety harness (R1, R2,
//! R7) and the backup-under-load check (R4): a scratch database per run ([`scratch`]),
//! `renkei serve` killed with SIGKILL ([`server`]), concurrent append clients and the
//! checks after each kill ([`crash`]), and backups taken while they write
//! ([`backup_load`]); throw-away PostgreSQL servers, replicas and foreign-partition
//! coordinators on loopback for the scale-out tests ([`pg`]). `renkei-bench` runs the same
//! harness from its command line.

pub mod backup_load;
pub mod crash;
pub mod pg;
pub mod scratch;
pub mod server;
