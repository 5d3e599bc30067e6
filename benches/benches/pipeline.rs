//! CPU per event: each enrichment step and the whole pipeline, over hits
//! from the realistic mix (10,000 real user agents), with warm caches (the
//! steady state) and cold ones (every user agent and address new).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http::HeaderMap;
use mesure_bench::mix::{Corpus, HOST, Mix, SITE};
use mesure_collector::clock::FixedClock;
use mesure_collector::event::Tracker;
use mesure_collector::pipeline::agent::Agents;
use mesure_collector::pipeline::geo::{Geo, LiveGeo};
use mesure_collector::pipeline::network::Network;
use mesure_collector::pipeline::referrer::Referrers;
use mesure_collector::pipeline::session::Sessions;
use mesure_collector::pipeline::visitor::visitor_id;
use mesure_collector::pipeline::{Pipeline, Request, page};
use mesure_collector::salt::FixedSalt;
use mesure_collector::sites::{Registry, Site, SiteIndex, SiteRow};
use mesure_collector::wire::{self, Hit};
use mesure_testkit::{geoip_dir, repo_root};
use std::hint::black_box;
use std::net::IpAddr;
use std::sync::Arc;

struct Sample {
    hit: Hit,
    headers: HeaderMap,
    query: String,
}

fn samples(n: usize) -> Vec<Sample> {
    let corpus = Arc::new(Corpus::load(&Corpus::default_path(&repo_root())).expect("user agents"));
    let mut mix = Mix::new(corpus, 0, 42);
    (0..n)
        .map(|_| {
            let request = mix.next_raw();
            let query = request
                .uri
                .split_once('?')
                .map_or("", |(_, q)| q)
                .to_owned();
            let hit = wire::parse_pixel(&query).expect("a valid hit");
            let headers = request
                .headers
                .iter()
                .map(|(name, value)| {
                    let value = http::HeaderValue::from_str(value).expect("a header value");
                    (http::HeaderName::from_static(name), value)
                })
                .collect();
            Sample {
                hit,
                headers,
                query,
            }
        })
        .collect()
}

fn pipeline(agent_cache: usize, geo_cache: usize) -> Pipeline {
    let site = Site::from_row(&SiteRow::new(SITE, &[HOST])).expect("site");
    Pipeline {
        registry: Arc::new(Registry::new(SiteIndex::new([site]))),
        agents: Arc::new(Agents::new(agent_cache).expect("agents")),
        geo: Arc::new(LiveGeo::fixed(
            Geo::open(&[geoip_dir().join("GeoLite2-City.mmdb")], geo_cache).expect("geo"),
        )),
        referrers: Arc::new(Referrers::new().expect("referrers")),
        salts: Arc::new(FixedSalt([7; 16])),
        sessions: Arc::new(Sessions::new(30, 900_000)),
        network: Network::new(
            vec!["127.0.0.0/8".parse().expect("net")],
            Default::default(),
            24,
            48,
        )
        .expect("network"),
        clock: Arc::new(FixedClock::new(1_795_428_000_000)),
        honor_signals: true,
    }
}

fn bench(c: &mut Criterion) {
    let samples = samples(10_000);
    let peer: IpAddr = [127, 0, 0, 1].into();
    let warm = pipeline(50_000, 100_000);
    let mut i = 0;

    let mut group = c.benchmark_group("pipeline");
    group.throughput(Throughput::Elements(1));
    // Warm the caches once, as a running collector has them.
    for s in &samples {
        let _ = warm.process(
            &s.hit,
            &Request {
                peer,
                headers: &s.headers,
            },
        );
    }
    group.bench_function("whole, warm caches", |b| {
        b.iter(|| {
            let s = &samples[i % samples.len()];
            i += 1;
            black_box(warm.process(
                &s.hit,
                &Request {
                    peer,
                    headers: &s.headers,
                },
            ))
        })
    });
    group.bench_function("parse + whole, warm caches", |b| {
        b.iter(|| {
            let s = &samples[i % samples.len()];
            i += 1;
            let hit = wire::parse_pixel(&s.query).expect("hit");
            black_box(warm.process(
                &hit,
                &Request {
                    peer,
                    headers: &s.headers,
                },
            ))
        })
    });
    // Caches of one entry: every user agent and address is parsed anew.
    let cold = pipeline(1, 1);
    group.bench_function("whole, cold caches", |b| {
        b.iter(|| {
            let s = &samples[i % samples.len()];
            i += 1;
            black_box(cold.process(
                &s.hit,
                &Request {
                    peer,
                    headers: &s.headers,
                },
            ))
        })
    });
    group.finish();

    let mut steps = c.benchmark_group("steps");
    steps.throughput(Throughput::Elements(1));
    steps.bench_function("wire: parse pixel query", |b| {
        b.iter(|| {
            i += 1;
            black_box(wire::parse_pixel(&samples[i % samples.len()].query))
        })
    });
    let beacon = br#"{"s":"bench","u":"https://www.bench.gouv.fr/rubrique-3/page-15","r":"https://www.google.fr/","w":1280}"#;
    steps.bench_function("wire: parse beacon", |b| {
        b.iter(|| black_box(wire::parse_beacon(beacon, Tracker::Script)))
    });
    let agents = &warm.agents;
    let ua = |s: &Sample| {
        s.headers
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let uas: Vec<String> = samples.iter().map(ua).collect();
    steps.bench_function("user agent + bot, warm", |b| {
        b.iter(|| {
            i += 1;
            black_box(agents.facts(&uas[i % uas.len()]))
        })
    });
    let cold_agents = Agents::new(1).expect("agents");
    steps.bench_function("user agent + bot, cold", |b| {
        b.iter(|| {
            i += 1;
            black_box(cold_agents.facts(&uas[i % uas.len()]))
        })
    });
    let ips: Vec<IpAddr> = samples
        .iter()
        .map(|s| warm.network.client_ip(peer, &s.headers))
        .collect();
    steps.bench_function("client address + truncation", |b| {
        b.iter(|| {
            i += 1;
            let s = &samples[i % samples.len()];
            black_box(
                warm.network
                    .truncate(warm.network.client_ip(peer, &s.headers)),
            )
        })
    });
    let truncated: Vec<IpAddr> = ips.iter().map(|ip| warm.network.truncate(*ip)).collect();
    steps.bench_function("geolocation, warm", |b| {
        b.iter(|| {
            i += 1;
            black_box(warm.geo.current().lookup(truncated[i % truncated.len()]))
        })
    });
    let cold_geo = Geo::open(&[geoip_dir().join("GeoLite2-City.mmdb")], 1).expect("geo");
    steps.bench_function("geolocation, cold", |b| {
        b.iter(|| {
            i += 1;
            black_box(cold_geo.lookup(truncated[i % truncated.len()]))
        })
    });
    steps.bench_function("visitor hash", |b| {
        b.iter(|| {
            i += 1;
            black_box(visitor_id(
                &[7; 16],
                SITE,
                ips[i % ips.len()],
                &uas[i % uas.len()],
            ))
        })
    });
    let site = Site::from_row(&SiteRow::new(SITE, &[HOST])).expect("site");
    let urls: Vec<String> = samples.iter().filter_map(|s| s.hit.url.clone()).collect();
    steps.bench_function("page URL sanitising", |b| {
        b.iter(|| {
            i += 1;
            black_box(page::sanitise(&urls[i % urls.len()], &site, false))
        })
    });
    let referrers: Vec<Option<String>> = samples.iter().map(|s| s.hit.referrer.clone()).collect();
    steps.bench_function("referrer and channel", |b| {
        b.iter(|| {
            i += 1;
            black_box(warm.referrers.classify(
                referrers[i % referrers.len()].as_deref(),
                page::Campaign::default(),
                &site,
            ))
        })
    });
    // Past the bound, new visitors are not tracked; they must not cost a
    // scan of their shard each.
    let full = Sessions::new(30, 900_000);
    for visitor in 0..1_000_000_u64 {
        full.assign(visitor, 0, Default::default);
    }
    let mut visitor = 1_000_000_u64;
    steps.bench_function("session, new visitor, table full", |b| {
        b.iter(|| {
            visitor += 1;
            black_box(full.assign(visitor, 60_000, Default::default))
        })
    });
    steps.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
