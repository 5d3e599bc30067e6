//! The vocabulary shared by every step: what kind of hit, through which
//! interface, and the closed set of reasons to drop one.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Declares a ClickHouse `Enum8` mirrored by a Rust enum, serialised as its `i8`.
macro_rules! enum8 {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $value:literal => $text:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant = $value),* }

        impl $name {
            pub const ALL: &[$name] = &[$($name::$variant),*];

            /// The `Enum8` value, as `RowBinary` writes it.
            pub fn code(self) -> u8 {
                self as u8
            }

            /// The name ClickHouse knows this value by.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }

            pub fn from_name(name: &str) -> Option<Self> {
                match name { $($text => Some($name::$variant),)* _ => None }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_i8(*self as i8)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = i8::deserialize(deserializer)?;
                match value {
                    $($value => Ok($name::$variant),)*
                    _ => Err(serde::de::Error::custom(format!(
                        concat!("invalid ", stringify!($name), " {}"), value))),
                }
            }
        }
    };
}

enum8!(
    /// What a hit records.
    Kind {
        Pageview = 1 => "pageview",
        Custom = 2 => "custom",
        Outlink = 3 => "outlink",
        Download = 4 => "download",
    }
);

enum8!(
    /// How the visit arrived, from its entry referrer and campaign.
    Channel {
        Direct = 0 => "direct",
        Search = 1 => "search",
        Social = 2 => "social",
        Email = 3 => "email",
        Other = 4 => "other",
        Campaign = 5 => "campaign",
    }
);

enum8!(
    /// Coarse device class.
    Device {
        Unknown = 0 => "unknown",
        Desktop = 1 => "desktop",
        Mobile = 2 => "mobile",
        Tablet = 3 => "tablet",
    }
);

enum8!(
    /// The interface a hit came through.
    Tracker {
        Pixel = 1 => "pixel",
        Script = 2 => "script",
        Matomo = 3 => "matomo",
        Plausible = 4 => "plausible",
    }
);

/// Why a hit was not stored. Closed: every reason has its own counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Malformed or incomplete hit.
    Invalid,
    /// No registered site has this id or domain.
    UnknownSite,
    /// The origin or page host is not one of the site's.
    WrongOrigin,
    /// `DNT: 1` or `X-Do-Not-Track: 1`.
    DoNotTrack,
    /// `Sec-GPC: 1`.
    GlobalPrivacyControl,
    /// The visitor refused measurement.
    OptOut,
    /// A robot, by its user agent or its headers.
    Bot,
    /// A prefetch or prerender, not a view.
    Prefetch,
    /// Plausible's engagement report (scroll depth, time on page): not a
    /// hit, and not stored.
    Engagement,
    /// A custom event name the site does not allow.
    EventNotAllowed,
    /// A Matomo request that asks nothing recorded: `rec` is not 1, or a
    /// heartbeat (`ping`).
    NotRecorded,
    /// No site registry yet: ClickHouse unreachable since the first start.
    NoRegistry,
    /// No daily salt for today (ClickHouse unreachable for longer than the
    /// salts made in advance last).
    NoSalt,
    /// The delivery queue is full.
    Overloaded,
}

impl DropReason {
    pub const ALL: &[DropReason] = &[
        DropReason::Invalid,
        DropReason::UnknownSite,
        DropReason::WrongOrigin,
        DropReason::DoNotTrack,
        DropReason::GlobalPrivacyControl,
        DropReason::OptOut,
        DropReason::Bot,
        DropReason::Prefetch,
        DropReason::Engagement,
        DropReason::EventNotAllowed,
        DropReason::NotRecorded,
        DropReason::NoRegistry,
        DropReason::NoSalt,
        DropReason::Overloaded,
    ];

    /// Whether the same hit sent again shortly may be accepted: the client
    /// is asked to retry (`503`, `Retry-After`).
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            DropReason::NoRegistry | DropReason::NoSalt | DropReason::Overloaded
        )
    }

    /// The metric label and log field.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Invalid => "invalid",
            DropReason::UnknownSite => "unknown_site",
            DropReason::WrongOrigin => "wrong_origin",
            DropReason::DoNotTrack => "dnt",
            DropReason::GlobalPrivacyControl => "gpc",
            DropReason::OptOut => "opt_out",
            DropReason::Bot => "bot",
            DropReason::Prefetch => "prefetch",
            DropReason::Engagement => "engagement",
            DropReason::EventNotAllowed => "event_not_allowed",
            DropReason::NotRecorded => "not_recorded",
            DropReason::NoRegistry => "no_registry",
            DropReason::NoSalt => "no_salt",
            DropReason::Overloaded => "overloaded",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_names_match_the_schema() {
        // The Enum8 definitions of schema/migrations/0001_events.sql.
        let schema = include_str!("../../schema/migrations/0001_events.sql");
        for (name, values) in [
            (
                "kind",
                Kind::ALL
                    .iter()
                    .map(|k| (k.as_str(), *k as i8))
                    .collect::<Vec<_>>(),
            ),
            (
                "channel",
                Channel::ALL
                    .iter()
                    .map(|k| (k.as_str(), *k as i8))
                    .collect(),
            ),
            (
                "device",
                Device::ALL.iter().map(|k| (k.as_str(), *k as i8)).collect(),
            ),
            (
                "tracker",
                Tracker::ALL
                    .iter()
                    .map(|k| (k.as_str(), *k as i8))
                    .collect(),
            ),
        ] {
            let line = schema
                .lines()
                .find(|l| l.trim_start().starts_with(&format!("{name} Enum8(")))
                .unwrap_or_else(|| panic!("no {name} column"));
            let rendered: Vec<String> =
                values.iter().map(|(n, v)| format!("'{n}' = {v}")).collect();
            assert!(line.contains(&rendered.join(", ")), "{name}: {line}");
        }
    }

    #[test]
    fn drop_reason_labels_are_unique() {
        let mut labels: Vec<_> = DropReason::ALL.iter().map(|r| r.as_str()).collect();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), DropReason::ALL.len());
    }
}
