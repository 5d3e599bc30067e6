//! How long raw events and everything derived from them are kept.

use std::fmt;

/// A validated retention period in months.
///
/// The CNIL's consent exemption for audience measurement caps how long the
/// collected data may be kept at 25 months; Mesure refuses more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    months: u32,
}

impl Retention {
    /// The longest retention Mesure accepts.
    pub const MAX_MONTHS: u32 = 25;
    /// Six months, as the privacy policies of our users promise.
    pub const DEFAULT: Retention = Retention { months: 6 };

    pub fn months(months: u32) -> Result<Self, RetentionError> {
        if months == 0 || months > Self::MAX_MONTHS {
            return Err(RetentionError { months });
        }
        Ok(Retention { months })
    }

    pub fn as_months(self) -> u32 {
        self.months
    }
}

impl Default for Retention {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl fmt::Display for Retention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} months", self.months)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "retention of {months} months refused: it must be between 1 and {max} months \
     (the CNIL's limit for consent-exempt audience measurement)",
    max = Retention::MAX_MONTHS
)]
pub struct RetentionError {
    pub months: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_one_to_twenty_five_months() {
        for months in [1, 6, 13, 25] {
            assert_eq!(
                Retention::months(months).map(Retention::as_months),
                Ok(months)
            );
        }
    }

    #[test]
    fn refuses_zero_and_more_than_twenty_five_months() {
        for months in [0, 26, 120] {
            assert_eq!(Retention::months(months), Err(RetentionError { months }));
        }
        let message = RetentionError { months: 26 }.to_string();
        assert!(message.contains("26 months refused"), "{message}");
        assert!(message.contains("25 months"), "{message}");
    }

    #[test]
    fn default_is_six_months() {
        assert_eq!(Retention::default().as_months(), 6);
    }
}
