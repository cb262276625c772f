#![doc = include_str!("../README.md")]

mod admin;
mod api;
mod authz;
mod browser;
mod cli;
mod council;
mod crash;
mod fhir;
mod journeys;
mod ops;
mod scale_out;
mod support;
mod web;
mod web_client;
