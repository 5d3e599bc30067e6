//! Where a visit came from: the referrer's host only, its known name (search
//! engine, social network, webmail) and the channel.

use super::page::{Campaign, web_host};
use crate::event::Channel;
use crate::row::Text;
use crate::sites::Site;
use std::collections::HashMap;

const KNOWN: &str = include_str!("../../data/referrers.json");

/// How a visit arrived, decided on its first hit and kept for the whole visit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Acquisition {
    pub referrer_host: Text,
    pub referrer_source: Text,
    pub channel: Channel,
    pub campaign: Campaign,
}

impl Default for Acquisition {
    fn default() -> Self {
        Acquisition {
            referrer_host: Text::default(),
            referrer_source: Text::default(),
            channel: Channel::Direct,
            campaign: Campaign::default(),
        }
    }
}

#[derive(Debug)]
pub struct Referrers {
    known: HashMap<String, (Text, Channel)>,
}

#[derive(Debug, thiserror::Error)]
#[error("referrer list: {0}")]
pub struct ReferrersError(String);

impl Referrers {
    pub fn new() -> Result<Referrers, ReferrersError> {
        let raw: HashMap<String, (String, String)> =
            serde_json::from_str(KNOWN).map_err(|e| ReferrersError(e.to_string()))?;
        let known = raw
            .into_iter()
            .map(|(host, (source, medium))| {
                let channel = match medium.as_str() {
                    "search" => Channel::Search,
                    "social" => Channel::Social,
                    "email" => Channel::Email,
                    "paid" => Channel::Campaign,
                    _ => Channel::Other,
                };
                (host, (source.into(), channel))
            })
            .collect();
        Ok(Referrers { known })
    }

    /// The acquisition of a visit whose first hit has this referrer and campaign.
    pub fn classify(&self, referrer: Option<&str>, campaign: Campaign, site: &Site) -> Acquisition {
        let host = referrer
            .and_then(web_host)
            .filter(|host| !site.has_host(host));
        let mut acquisition = Acquisition {
            campaign,
            ..Acquisition::default()
        };
        if let Some(host) = host {
            let (source, channel) = self.lookup(&host);
            acquisition.referrer_host = host.strip_prefix("www.").unwrap_or(&host).into();
            acquisition.referrer_source = source;
            acquisition.channel = channel;
        }
        if !acquisition.campaign.is_empty() {
            acquisition.channel =
                campaign_channel(&acquisition.campaign.medium, acquisition.channel);
            if acquisition.referrer_source.is_empty() {
                acquisition
                    .referrer_source
                    .clone_from(&acquisition.campaign.source);
            }
        }
        acquisition
    }

    /// The host, then its parent domains: `m.facebook.com` is Facebook.
    fn lookup(&self, host: &str) -> (Text, Channel) {
        let mut candidate = host;
        loop {
            if let Some((source, channel)) = self.known.get(candidate) {
                return (source.clone(), *channel);
            }
            match candidate.split_once('.') {
                Some((_, parent)) if parent.contains('.') => candidate = parent,
                _ => return (Text::default(), Channel::Other),
            }
        }
    }
}

fn campaign_channel(medium: &str, from_referrer: Channel) -> Channel {
    match medium.to_ascii_lowercase().as_str() {
        "email" | "e-mail" | "newsletter" | "mail" => Channel::Email,
        "social" | "social-network" | "social-media" | "sm" => Channel::Social,
        "organic" if from_referrer == Channel::Search => Channel::Search,
        _ => Channel::Campaign,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sites::SiteRow;

    #[test]
    fn data_driven() {
        let referrers = Referrers::new().expect("list loads");
        let site = Site::from_row(&SiteRow::new("s", &["example.fr", "*.gouv.fr"])).expect("site");
        let check = |referrer: Option<&str>, expected: (&str, &str, Channel)| {
            let a = referrers.classify(referrer, Campaign::default(), &site);
            assert_eq!(
                (&*a.referrer_host, &*a.referrer_source, a.channel),
                expected,
                "{referrer:?}"
            );
        };
        check(None, ("", "", Channel::Direct));
        check(Some(""), ("", "", Channel::Direct));
        check(Some("not a url"), ("", "", Channel::Direct));
        check(Some("https://example.fr/other"), ("", "", Channel::Direct));
        check(
            Some("https://www.service-public.gouv.fr/x?q=secret"),
            ("", "", Channel::Direct),
        );
        check(
            Some("https://www.google.fr/"),
            ("google.fr", "Google", Channel::Search),
        );
        check(
            Some("https://www.qwant.com/?q=impots"),
            ("qwant.com", "Qwant", Channel::Search),
        );
        check(
            Some("https://m.facebook.com/"),
            ("m.facebook.com", "Facebook", Channel::Social),
        );
        check(
            Some("https://mail.google.com/mail/u/0/"),
            ("mail.google.com", "Gmail", Channel::Email),
        );
        check(
            Some("https://blog.example.com/post?id=3"),
            ("blog.example.com", "", Channel::Other),
        );
    }

    #[test]
    fn campaigns_set_the_channel() {
        let referrers = Referrers::new().expect("list loads");
        let site = Site::from_row(&SiteRow::new("s", &["example.fr"])).expect("site");
        let campaign = |medium: &str| Campaign {
            source: "lettre".into(),
            medium: medium.into(),
            campaign: "noel".into(),
            ..Campaign::default()
        };
        let a = referrers.classify(None, campaign("email"), &site);
        assert_eq!((a.channel, &*a.referrer_source), (Channel::Email, "lettre"));
        assert_eq!(
            referrers.classify(None, campaign("cpc"), &site).channel,
            Channel::Campaign
        );
        assert_eq!(
            referrers
                .classify(Some("https://www.facebook.com/"), campaign("social"), &site)
                .channel,
            Channel::Social
        );
    }
}
