//! A realistic mix of hits: pixel GETs and beacon POSTs, over many pages,
//! referrers, client addresses (through a trusted-proxy header) and real
//! user agents. Deterministic for a given seed.

use http::Method;
use std::path::Path;
use std::sync::Arc;

/// Site and host the benchmarks register.
pub const SITE: &str = "bench";
pub const HOST: &str = "www.bench.gouv.fr";

const REFERRERS: &[&str] = &[
    "",
    "",
    "",
    "https://www.google.fr/",
    "https://www.google.com/",
    "https://www.qwant.com/?q=demarches",
    "https://www.bing.com/search?q=carte+grise",
    "https://m.facebook.com/",
    "https://t.co/abc",
    "https://www.linkedin.com/feed/",
    "https://mail.google.com/mail/u/0/",
    "https://www.service-public.fr/particuliers/vosdroits/F1234",
    "https://www.bench.gouv.fr/accueil",
];

/// Real user-agent strings.
#[derive(Debug)]
pub struct Corpus {
    pub user_agents: Vec<String>,
}

impl Corpus {
    /// From the `user-agents` npm package's `user-agents.json`.
    pub fn load(path: &Path) -> anyhow::Result<Corpus> {
        let text = std::fs::read_to_string(path)?;
        let entries: Vec<serde_json::Value> = serde_json::from_str(&text)?;
        let user_agents: Vec<String> = entries
            .iter()
            .filter_map(|e| e["userAgent"].as_str().map(str::to_owned))
            .collect();
        anyhow::ensure!(
            !user_agents.is_empty(),
            "no user agents in {}",
            path.display()
        );
        Ok(Corpus { user_agents })
    }

    /// The corpus installed by `scripts/setup.sh`.
    pub fn default_path(repo: &Path) -> std::path::PathBuf {
        repo.join("node_modules/user-agents/dist/user-agents.json")
    }
}

/// xorshift64*: fast, deterministic, good enough to spread a workload.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next_u64() % n.max(1) as u64).unwrap_or(0)
    }
}

#[derive(Debug, Clone)]
pub struct Mix {
    corpus: Arc<Corpus>,
    /// Percentage of hits sent as beacons; the rest are pixels.
    beacon_percent: u8,
    rng: Rng,
    /// Each request from a visitor of its own: the next address to use.
    distinct: Option<u64>,
}

impl Mix {
    pub fn new(corpus: Arc<Corpus>, beacon_percent: u8, seed: u64) -> Mix {
        Mix {
            corpus,
            beacon_percent: beacon_percent.min(100),
            rng: Rng::new(seed),
            distinct: None,
        }
    }

    /// Pixels each from a new visitor (its own public IPv4 address, from
    /// number `first` on): what fills the collector's table of visits.
    pub fn new_visitors(corpus: Arc<Corpus>, seed: u64, first: u64) -> Mix {
        Mix {
            distinct: Some(first),
            ..Mix::new(corpus, 0, seed)
        }
    }

    /// A client address: visitors come back, so addresses repeat.
    fn client_ip(&mut self) -> String {
        if let Some(next) = &mut self.distinct {
            let n = *next;
            *next += 1;
            return format!(
                "{}.{}.{}.{}",
                11 + (n >> 24) % 100,
                (n >> 16) & 255,
                (n >> 8) & 255,
                n & 255
            );
        }
        let n = self.rng.below(50_000);
        match n % 5 {
            0 => format!("2a01:cb00:{:x}:{:x}::1", n / 256, n % 256),
            1 => format!("86.246.{}.{}", (n / 250) % 250, n % 250),
            2 => format!("193.50.{}.{}", (n / 250) % 250, n % 250),
            3 => format!("78.192.{}.{}", (n / 250) % 250, n % 250),
            _ => format!("90.84.{}.{}", (n / 250) % 250, n % 250),
        }
    }

    /// A page: a few are popular, most are rare.
    fn page(&mut self) -> String {
        let popular = self.rng.below(10) < 7;
        let n = if popular {
            self.rng.below(20)
        } else {
            self.rng.below(5000)
        };
        format!("https://{HOST}/rubrique-{}/page-{n}", n % 12)
    }

    /// The next request of the mix, as its parts.
    pub fn next_raw(&mut self) -> RawRequest {
        let ua_index = self.rng.below(self.corpus.user_agents.len());
        let ip = self.client_ip();
        let page = self.page();
        let referrer = REFERRERS[self.rng.below(REFERRERS.len())];
        let width = [390, 414, 768, 1280, 1440, 1920][self.rng.below(6)];
        let beacon = self.rng.below(100) < usize::from(self.beacon_percent);
        let mut headers = vec![
            ("host", "collector.bench".to_owned()),
            ("user-agent", self.corpus.user_agents[ua_index].clone()),
            ("accept-language", "fr-FR,fr;q=0.9,en;q=0.8".to_owned()),
            ("x-forwarded-for", ip),
        ];
        if beacon {
            headers.push(("content-type", "text/plain;charset=UTF-8".to_owned()));
            headers.push(("origin", format!("https://{HOST}")));
            RawRequest {
                method: Method::POST,
                uri: "/api/event".to_owned(),
                headers,
                body: serde_json::json!({"s": SITE, "u": page, "r": referrer, "w": width})
                    .to_string(),
            }
        } else {
            let query: String = [("s", SITE), ("u", page.as_str()), ("r", referrer)]
                .iter()
                .map(|(k, v)| format!("{k}={}&", encode(v)))
                .collect();
            RawRequest {
                method: Method::GET,
                uri: format!("/p.gif?{query}w={width}"),
                headers,
                body: String::new(),
            }
        }
    }
}

/// A request of the mix before it is built.
#[derive(Debug, Clone)]
pub struct RawRequest {
    pub method: Method,
    pub uri: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl RawRequest {
    /// The request as it goes on the wire.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        use std::io::Write;
        let _ = write!(out, "{} {} HTTP/1.1\r\n", self.method, self.uri);
        for (name, value) in &self.headers {
            let _ = write!(out, "{name}: {value}\r\n");
        }
        if self.method == Method::POST || !self.body.is_empty() {
            let _ = write!(out, "content-length: {}\r\n", self.body.len());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(self.body.as_bytes());
    }
}

fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus() -> Arc<Corpus> {
        Arc::new(Corpus {
            user_agents: vec!["Mozilla/5.0 A".into(), "Mozilla/5.0 B".into()],
        })
    }

    fn header<'a>(request: &'a RawRequest, name: &str) -> &'a str {
        request
            .headers
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("", |(_, value)| value.as_str())
    }

    #[test]
    fn the_mix_follows_its_ratio_and_seed() {
        let mut mix = Mix::new(corpus(), 20, 7);
        let beacons = (0..10_000)
            .filter(|_| mix.next_raw().method == Method::POST)
            .count();
        assert!((1700..2300).contains(&beacons), "{beacons}");
        let first = |seed| Mix::new(corpus(), 50, seed).next_raw().uri;
        assert_eq!(first(1), first(1));
        assert_ne!(first(1), first(2));
    }

    #[test]
    fn new_visitors_never_share_an_address() {
        let mut mix = Mix::new_visitors(corpus(), 1, 300);
        let addresses: std::collections::HashSet<String> = (0..1000)
            .map(|_| header(&mix.next_raw(), "x-forwarded-for").to_owned())
            .collect();
        assert_eq!(addresses.len(), 1000);
        assert!(addresses.contains("11.0.1.44"), "{addresses:?}");
    }

    #[test]
    fn requests_look_like_browsers() {
        let mut mix = Mix::new(corpus(), 50, 3);
        for _ in 0..100 {
            let request = mix.next_raw();
            for name in ["user-agent", "accept-language", "x-forwarded-for"] {
                assert!(!header(&request, name).is_empty(), "{name}");
            }
            if request.method == Method::GET {
                assert!(request.uri.starts_with("/p.gif?s=bench&u=https%3A%2F%2F"));
            }
        }
    }
}
