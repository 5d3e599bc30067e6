//! The client's address and its truncation: `mesure_sites::network`, shared
//! with the dashboard (which counts sign-in failures and writes the audit
//! log under the same truncated address).

pub use mesure_sites::network::*;
