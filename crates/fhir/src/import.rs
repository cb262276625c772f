//! Import: a transaction Bundle of lab Observations read into entry inputs.
