//! The dashboard service: every number comms teams read, computed by
//! parameterised aggregate queries over ClickHouse and served as JSON.
//!
//! `query` is the query layer (periods in the site's time zone, metrics,
//! dimensions, filters, the two sides a query reads); `api` turns requests
//! into queries and answers into JSON (Plausible's Stats API v2 shape);
//! `export` writes them as CSV, and every breakdown of a period as a ZIP;
//! `pages` are the HTML pages comms teams read, in French and English;
//! `app` holds the routes; `service` runs it all; `config` and `metrics`
//! are what ops set and see; `demo` makes realistic traffic at scale, for
//! demonstrations and benchmarks.

pub mod annotations;
pub mod api;
pub mod app;
pub mod assessment;
pub mod audit;
pub mod auth;
pub mod config;
pub mod demo;
pub mod export;
pub mod metrics;
pub mod notice;
pub mod oidc;
pub mod pages;
pub mod query;
pub mod seal;
pub mod service;
