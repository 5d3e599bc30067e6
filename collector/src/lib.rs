//! The collector: turns tracking hits into anonymous event rows.
//!
//! `wire` parses what each tracking interface sends into a [`wire::Hit`];
//! `pipeline` enriches a hit into an [`row::EventRow`] or drops it with a
//! [`event::DropReason`]; `sites` is the site registry; `salt` shares the
//! daily salts; `spool` keeps accepted rows on local disk and ships them;
//! `delivery` is the contract between them and ClickHouse (sinks,
//! destinations, timeouts, what to retry); `server` answers HTTP; `service`
//! runs it all; `config` and `metrics` are what ops see.

pub mod assets;
pub mod clock;
pub mod config;
pub mod delivery;
pub mod event;
pub mod fuzz;
pub mod metrics;
pub mod pipeline;
pub mod row;
pub mod salt;
pub mod server;
pub mod service;
pub use mesure_sites as sites;
pub mod spool;
pub mod wire;
