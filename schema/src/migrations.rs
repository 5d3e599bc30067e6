//! The numbered migrations, embedded in the binary.

use sha2::{Digest, Sha256};

/// One migration: a version, a name and a template (see [`crate::render`]).
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub template: &'static str,
}

impl Migration {
    /// Fingerprint of the template, recorded when applied: a migration must
    /// never change once it has run somewhere.
    pub fn checksum(&self) -> String {
        hex::encode(Sha256::digest(self.template.as_bytes()))
    }
}

macro_rules! migrations {
    ($($version:literal $name:literal),* $(,)?) => {
        &[$(Migration {
            version: $version,
            name: $name,
            template: include_str!(concat!("../migrations/", $name, ".sql")),
        }),*]
    };
}

/// Every migration, in the order they apply.
pub const MIGRATIONS: &[Migration] = migrations![
    1 "0001_events",
    2 "0002_sessions",
    3 "0003_salts",
    4 "0004_hourly_stats",
    5 "0005_sites",
    6 "0006_goals",
    7 "0007_rollups",
    8 "0008_sealed_days",
    9 "0009_annotations",
    10 "0010_audit",
];

/// The newest schema version this build knows.
pub fn latest_version() -> u32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Retention, Target, render};

    #[test]
    fn versions_are_consecutive_and_match_file_names() {
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            let version = u32::try_from(index + 1).expect("few migrations");
            assert_eq!(migration.version, version);
            assert!(migration.name.starts_with(&format!("{version:04}_")));
        }
    }

    #[test]
    fn every_migration_renders_for_one_node_and_for_a_cluster() {
        for cluster in [None, Some("main")] {
            let target = Target::new("mesure", cluster).expect("valid target");
            for migration in MIGRATIONS {
                let statements = render(migration.template, &target, Retention::DEFAULT)
                    .unwrap_or_else(|e| panic!("{}: {e}", migration.name));
                assert!(!statements.is_empty(), "{}", migration.name);
                for statement in statements {
                    assert!(!statement.contains("${"), "{statement}");
                    assert_eq!(statement.contains("ON CLUSTER"), cluster.is_some());
                }
            }
        }
    }
}
