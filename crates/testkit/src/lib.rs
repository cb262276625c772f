//! renkei-testkit
