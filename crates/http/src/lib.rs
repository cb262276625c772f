//! renkei-http
