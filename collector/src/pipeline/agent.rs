//! User agents: the coarse facts kept (browser and OS families with major
//! versions, device class) and whether it is a robot. Parsing costs
//! microseconds, so results are cached by user-agent string; the full string
//! itself is never stored.

use crate::event::Device;
use crate::row::Text;
use quick_cache::sync::Cache;
use regex::Regex;
use std::sync::Arc;

const UAP_REGEXES: &str = include_str!("../../data/uap-regexes.json");
const BOT_PATTERNS: &str = include_str!("../../data/bot-patterns.txt");

/// Longest user agent looked at; longer ones are cut before parsing.
pub const MAX_USER_AGENT: usize = 512;

/// What is kept of a user agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentFacts {
    pub bot: bool,
    pub browser: Text,
    pub browser_version: Text,
    pub os: Text,
    pub os_version: Text,
    pub device: Device,
}

pub struct Agents {
    parser: ua_parser::Extractor<'static>,
    bots: Regex,
    cache: Cache<Box<str>, Arc<AgentFacts>>,
}

impl std::fmt::Debug for Agents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agents")
            .field("cached", &self.cache.len())
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AgentsError {
    #[error("user-agent rules: {0}")]
    Rules(String),
    #[error("bot patterns: {0}")]
    Bots(#[from] regex::Error),
}

impl Agents {
    pub fn new(cache_entries: usize) -> Result<Agents, AgentsError> {
        let regexes: ua_parser::Regexes<'static> =
            serde_json::from_str(UAP_REGEXES).map_err(|e| AgentsError::Rules(e.to_string()))?;
        let parser = ua_parser::Extractor::try_from(regexes)
            .map_err(|e| AgentsError::Rules(format!("{e:?}")))?;
        let alternation: Vec<String> = BOT_PATTERNS
            .lines()
            .filter(|l| !l.is_empty())
            .map(|p| format!("(?:{p})"))
            .collect();
        let bots = regex::RegexBuilder::new(&alternation.join("|"))
            .size_limit(64 << 20)
            .build()?;
        Ok(Agents {
            parser,
            bots,
            cache: Cache::new(cache_entries.max(1)),
        })
    }

    /// The facts of a user agent, from the cache when seen before.
    pub fn facts(&self, user_agent: &str) -> Arc<AgentFacts> {
        let user_agent = cut(user_agent);
        if let Some(facts) = self.cache.get(user_agent) {
            return facts;
        }
        let facts = Arc::new(self.parse(user_agent));
        self.cache.insert(user_agent.into(), Arc::clone(&facts));
        facts
    }

    fn parse(&self, ua: &str) -> AgentFacts {
        let (browser, os, device) = self.parser.extract(ua);
        let device_family = device
            .as_ref()
            .map(|d| d.device.as_ref())
            .unwrap_or_default();
        let bot = ua.trim().len() < 8 || device_family == "Spider" || self.bots.is_match(ua);
        let (browser, browser_version) = browser.map_or_else(
            || (String::new(), String::new()),
            |b| (family(&b.family), b.major.unwrap_or_default().to_owned()),
        );
        let (os, os_version) = os.map_or_else(
            || (String::new(), String::new()),
            |o| {
                (
                    family(&o.os),
                    o.major.as_deref().unwrap_or_default().to_owned(),
                )
            },
        );
        let device = device_class(ua, &os, device_family);
        AgentFacts {
            bot,
            browser: browser.into(),
            browser_version: browser_version.into(),
            os: os.into(),
            os_version: os_version.into(),
            device,
        }
    }
}

/// uap-core says "Other" when it does not know.
fn family(name: &str) -> String {
    if name == "Other" {
        String::new()
    } else {
        name.to_owned()
    }
}

fn cut(ua: &str) -> &str {
    if ua.len() <= MAX_USER_AGENT {
        return ua;
    }
    let mut end = MAX_USER_AGENT;
    while !ua.is_char_boundary(end) {
        end -= 1;
    }
    &ua[..end]
}

fn device_class(ua: &str, os: &str, device_family: &str) -> Device {
    let tablet_words = [
        "iPad", "Tablet", "Kindle", "Silk/", "PlayBook", "Nexus 7", "Nexus 10",
    ];
    if tablet_words
        .iter()
        .any(|w| ua.contains(w) || device_family.contains(w))
        || (os == "Android" && !ua.contains("Mobile"))
    {
        return Device::Tablet;
    }
    if ua.contains("Mobi")
        || matches!(
            os,
            "iOS" | "Android" | "Windows Phone" | "BlackBerry OS" | "KaiOS"
        )
        || device_family.starts_with("iPhone")
    {
        return Device::Mobile;
    }
    if matches!(
        os,
        "Windows"
            | "Mac OS X"
            | "Linux"
            | "Ubuntu"
            | "Fedora"
            | "Debian"
            | "Chrome OS"
            | "FreeBSD"
            | "OpenBSD"
            | "NetBSD"
    ) {
        return Device::Desktop;
    }
    Device::Unknown
}

/// The device class from the screen width, for agents that do not tell.
pub fn device_from_width(width: u32) -> Device {
    match width {
        0 => Device::Unknown,
        1..=767 => Device::Mobile,
        768..=1023 => Device::Tablet,
        _ => Device::Desktop,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_driven() {
        let agents = Agents::new(100).expect("rules load");
        let check = |ua: &str, expected: (bool, &str, &str, &str, &str, Device)| {
            let f = agents.facts(ua);
            let got = (
                f.bot,
                &*f.browser,
                &*f.browser_version,
                &*f.os,
                &*f.os_version,
                f.device,
            );
            assert_eq!(got, expected, "{ua}");
        };
        use Device::*;
        check(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
            (false, "Chrome", "131", "Windows", "10", Desktop),
        );
        check(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/26.6.1 Mobile/15E148 Safari/604.1",
            (false, "Mobile Safari", "26", "iOS", "18", Mobile),
        );
        check(
            "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
            (false, "Mobile Safari", "17", "iOS", "17", Tablet),
        );
        check(
            "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
            (false, "Chrome", "131", "Android", "14", Tablet),
        );
        check(
            "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
            (false, "Firefox", "133", "Ubuntu", "", Desktop),
        );
        check(
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            (true, "Googlebot", "2", "", "", Unknown),
        );
        check("curl/8.5.0", (true, "curl", "8", "", "", Unknown));
        check("", (true, "", "", "", "", Unknown));
        check(
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36",
            (true, "HeadlessChrome", "131", "Linux", "", Desktop),
        );
    }

    #[test]
    fn cached_and_cut() {
        let agents = Agents::new(10).expect("rules load");
        let long = format!("Mozilla/5.0 {}", "é".repeat(600));
        let first = agents.facts(&long);
        assert!(Arc::ptr_eq(&first, &agents.facts(&long)));
    }

    #[test]
    fn width_classes() {
        assert_eq!(device_from_width(390), Device::Mobile);
        assert_eq!(device_from_width(820), Device::Tablet);
        assert_eq!(device_from_width(1440), Device::Desktop);
        assert_eq!(device_from_width(0), Device::Unknown);
    }
}
