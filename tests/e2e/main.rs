//! e2e
mod crash;
