//! Demo traffic at scale (`mesure demo-data`): visits that look real, made
//! inside ClickHouse by `INSERT ... SELECT` over `numbers()`, into `events`
//! itself, so that every materialized view fills as it does for real hits.
//!
//! Each visit has a site, a day (week-ends quieter), an hour (a daily cycle
//! in French time), a visitor (a person of the site's audience, hashed with
//! the UTC day as the daily salt would), a source (direct, search engines,
//! social networks, e-mail, other public sites), a place, a browser, a
//! system and a device class, and one hit (a bounce, 45 %) or several:
//! pages drawn from a long tail, a few custom events, outbound links and
//! downloads, seconds to minutes apart.

use clickhouse::Client;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    pub sites: Vec<String>,
    /// Days before today (today excluded).
    pub days: u32,
    /// Hits in all, about.
    pub events: u64,
    pub seed: u64,
}

/// Visits one `INSERT` generates at most: bounds a batch's memory.
const BATCH_VISITS: u64 = 1_500_000;
/// Hits a visit has on average, with the distribution below, and the share
/// of visits the weekly cycle keeps.
const HITS_PER_VISIT: f64 = 2.18;
const KEPT: f64 = 0.836;
/// Distinct pages of a site (the long tail).
const PAGES: u64 = 400;

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("give at least one site, one day and one event")]
    Empty,
    #[error("at most 400 days of demo traffic: older events would expire at once")]
    TooLong,
    #[error("clickhouse: {0}")]
    ClickHouse(#[from] clickhouse::error::Error),
}

/// Parameters, in order: sites, first day, days, seed, visits a site a day,
/// pages, then the visits' numbers (offset, count).
const GENERATE: &str = "
INSERT INTO events (site_id, ts, kind, name, visitor_id, session_id, session_start,
    hostname, path, referrer_host, referrer_source, channel, country_code, region, city,
    browser, browser_version, os, os_version, device, tracker, hit, gap_s)
WITH ? AS sites, toDate(?) AS first_day, ? AS days, ? AS seed,
     ? AS per_site_day, ? AS pages,
     -- Visits by hour of the day, in French time.
     [0.6, 0.3, 0.2, 0.2, 0.3, 0.7, 1.5, 3, 5, 6.5, 7, 7, 6, 6.5, 7, 6.8,
      6.2, 5.5, 5, 4.6, 4.2, 3.6, 2.8, 1.9] AS hour_weights,
     [40, 24, 5, 3, 2, 1.5, 1, 4, 1.5, 1, 1, 7, 4, 2, 3] AS source_weights,
     [16, 3, 6, 2, 5, 2, 4, 2.5, 5, 5, 3.5, 4, 3, 2.5, 2, 2, 0.5, 1.5,
      0.7, 0.3, 2, 1.2, 2, 1.2, 1, 0.6, 1, 2.5] AS place_weights,
     [30, 17, 14, 5, 6, 9, 4, 5, 4, 3, 3] AS agent_weights
SELECT site, fromUnixTimestamp64Milli(toInt64(ts_ms), 'UTC'), kind, name, visitor, session,
    toDateTime(start_s, 'UTC'), concat('www.', site, '.fr'), path, source.1, source.2, source.3,
    place.1, place.2, place.3, agent.1, agent.2, agent.3, agent.4, agent.5, tracker,
    n + 1, toUInt32(if(n = 0, 0, intDiv(ts_ms, 1000) - intDiv(previous_ms, 1000)))
FROM (
    SELECT *, i AS n,
        -- Seconds to minutes between hits.
        arrayMap(j -> (5 + cityHash64(v, seed, 20, j) % 240) * 1000
            + cityHash64(v, seed, 21, j) % 1000, range(i)) AS gaps_ms,
        toUInt64(start_s) * 1000 + arraySum(gaps_ms) AS ts_ms,
        ts_ms - if(i = 0, 0, gaps_ms[i]) AS previous_ms,
        multiIf(i = 0, 'pageview',
                cityHash64(v, seed, 22, i) % 100 < 6, 'custom',
                cityHash64(v, seed, 22, i) % 100 < 9, 'outlink',
                cityHash64(v, seed, 22, i) % 100 < 11, 'download', 'pageview') AS kind,
        -- Pages: a long tail, the home page read most.
        toUInt64(floor(exp((cityHash64(v, seed, 23, i) % 10000) / 10000 * log(pages + 1)))) AS rank,
        if(rank <= 1, '/',
           concat('/', ['demarches', 'actualites', 'services', 'aide', 'publications', 'agenda',
                        'contact', 'presse', 'recrutement', 'politiques-publiques'][1 + rank % 10],
                  if(rank < 11, '',
                     concat('/', ['carte-grise', 'permis-de-conduire', 'passeport',
                                  'carte-nationale-identite', 'titre-de-sejour', 'associations',
                                  'elections', 'enquetes-publiques', 'arretes', 'subventions',
                                  'securite-routiere', 'environnement', 'logement', 'emploi',
                                  'sante', 'education', 'transports', 'culture'][1 + intDiv(rank, 10) % 18],
                            if(rank < 190, '', concat('-', toString(intDiv(rank, 180)))))))) AS path,
        multiIf(kind = 'custom', ['Inscription', 'Formulaire / Envoi', 'Recherche'][1 + cityHash64(v, seed, 24, i) % 3],
                kind = 'outlink', ['www.service-public.fr/particuliers', 'www.legifrance.gouv.fr/loda',
                                   'ants.gouv.fr/demarches', 'www.impots.gouv.fr/accueil'][1 + cityHash64(v, seed, 25, i) % 4],
                kind = 'download', concat('www.', site, '.fr/media/',
                    ['formulaire-cerfa', 'rapport-annuel', 'guide-demarches', 'arrete-prefectoral'][1 + cityHash64(v, seed, 26, i) % 4], '.pdf'),
                '') AS name
    FROM (
        SELECT *,
            -- The daily cycle, in French time (UTC+1).
            arrayFirstIndex(c -> c > (cityHash64(v, seed, 4) % 1000) / 1000 * arraySum(hour_weights),
                arrayCumSum(hour_weights)) - 1 AS hour,
            toUInt32(toDateTime(day, 'UTC')) + ((hour + 23) % 24) * 3600
                + cityHash64(v, seed, 5) % 3600 AS start_s,
            -- A site's audience: about one person for 1.4 visits a day.
            cityHash64(v, seed, 6) % greatest(1, toUInt64(per_site_day / 1.4)) AS person,
            cityHash64(site, person, day, seed) AS visitor,
            cityHash64(v, seed, 7) AS session,
            -- One hit (a bounce), or 2 and more.
            if(cityHash64(v, seed, 8) % 100 < 45, 1,
               least(20, 2 + toUInt32(-log((cityHash64(v, seed, 9) % 10000 + 1) / 10001) * 1.6))) AS hits,
            [('', '', 'direct'), ('google.fr', 'Google', 'search'), ('google.com', 'Google', 'search'),
             ('bing.com', 'Bing', 'search'), ('qwant.com', 'Qwant', 'search'),
             ('duckduckgo.com', 'DuckDuckGo', 'search'), ('ecosia.org', 'Ecosia', 'search'),
             ('facebook.com', 'Facebook', 'social'), ('linkedin.com', 'LinkedIn', 'social'),
             ('x.com', 'X', 'social'), ('mail.google.com', 'Gmail', 'email'),
             ('service-public.fr', '', 'other'), ('ants.gouv.fr', '', 'other'),
             ('legifrance.gouv.fr', '', 'other'), ('interieur.gouv.fr', '', 'other')][
                arrayFirstIndex(c -> c > (cityHash64(v, seed, 10) % 1000) / 1000 * arraySum(source_weights),
                    arrayCumSum(source_weights))] AS source,
            [('FR', 'Île-de-France', 'Paris'), ('FR', 'Île-de-France', 'Versailles'),
             ('FR', 'Auvergne-Rhône-Alpes', 'Lyon'), ('FR', 'Auvergne-Rhône-Alpes', 'Grenoble'),
             ('FR', 'Provence-Alpes-Côte d''Azur', 'Marseille'), ('FR', 'Provence-Alpes-Côte d''Azur', 'Nice'),
             ('FR', 'Occitanie', 'Toulouse'), ('FR', 'Occitanie', 'Montpellier'),
             ('FR', 'Hauts-de-France', 'Lille'), ('FR', 'Nouvelle-Aquitaine', 'Bordeaux'),
             ('FR', 'Grand Est', 'Strasbourg'), ('FR', 'Pays de la Loire', 'Nantes'),
             ('FR', 'Bretagne', 'Rennes'), ('FR', 'Normandie', 'Rouen'),
             ('FR', 'Bourgogne-Franche-Comté', 'Dijon'), ('FR', 'Centre-Val de Loire', 'Tours'),
             ('FR', 'Corse', 'Ajaccio'), ('RE', 'Réunion', 'Saint-Denis'),
             ('GP', 'Guadeloupe', 'Pointe-à-Pitre'), ('GF', 'Guyane', 'Cayenne'),
             ('BE', 'Brussels Capital', 'Brussels'), ('CH', 'Geneva', 'Geneva'),
             ('CA', 'Quebec', 'Montreal'), ('MA', 'Casablanca-Settat', 'Casablanca'),
             ('DZ', 'Algiers', 'Algiers'), ('SN', 'Dakar', 'Dakar'),
             ('US', 'California', 'San Francisco'), ('DE', 'Land Berlin', 'Berlin')][
                arrayFirstIndex(c -> c > (cityHash64(site, person, seed, 11) % 1000) / 1000 * arraySum(place_weights),
                    arrayCumSum(place_weights))] AS place,
            [('Chrome', '131', 'Windows', '10', 'desktop'), ('Chrome Mobile', '131', 'Android', '14', 'mobile'),
             ('Mobile Safari', '18', 'iOS', '18', 'mobile'), ('Safari', '18', 'Mac OS X', '10', 'desktop'),
             ('Firefox', '133', 'Windows', '10', 'desktop'), ('Edge', '131', 'Windows', '10', 'desktop'),
             ('Samsung Internet', '26', 'Android', '14', 'mobile'), ('Chrome', '131', 'Mac OS X', '10', 'desktop'),
             ('Mobile Safari', '18', 'iOS', '18', 'tablet'), ('Firefox', '133', 'Ubuntu', '', 'desktop'),
             ('Chrome', '131', 'Chrome OS', '', 'desktop')][
                arrayFirstIndex(c -> c > (cityHash64(site, person, seed, 12) % 1000) / 1000 * arraySum(agent_weights),
                    arrayCumSum(agent_weights))] AS agent,
            ['script', 'script', 'script', 'pixel', 'matomo', 'plausible'][1 + cityHash64(site, seed, 13) % 6] AS tracker
        FROM (
            SELECT number AS v,
                sites[1 + cityHash64(v, seed, 1) % length(sites)] AS site,
                first_day + toUInt32(cityHash64(v, seed, 2) % days) AS day
            FROM numbers(?, ?)
            -- The weekly cycle: week-ends see half the visits.
            WHERE (cityHash64(v, seed, 3) % 1000) / 1000
                < [1.0, 1.0, 0.97, 0.95, 0.9, 0.55, 0.5][toDayOfWeek(day)]
        )
    )
    ARRAY JOIN range(hits) AS i
)
-- A visit ends with its UTC day, as visitor ids do.
WHERE ts_ms < (intDiv(start_s, 86400) + 1) * 86400000";

/// Inserts the demo traffic; returns the hits inserted. `today` is the UTC
/// day (days since the epoch) the traffic ends before; `progress` hears
/// each batch's end.
pub async fn generate(
    client: &Client,
    spec: &Spec,
    today: i64,
    mut progress: impl FnMut(u64, u64),
) -> Result<u64, DemoError> {
    if spec.sites.is_empty() || spec.days == 0 || spec.events == 0 {
        return Err(DemoError::Empty);
    }
    if spec.days > 400 {
        return Err(DemoError::TooLong);
    }
    let first_day = chrono::DateTime::from_timestamp((today - i64::from(spec.days)) * 86_400, 0)
        .unwrap_or_default()
        .date_naive()
        .to_string();
    let visits = (spec.events as f64 / HITS_PER_VISIT / KEPT).ceil() as u64;
    let per_site_day = visits as f64 * KEPT / spec.sites.len() as f64 / f64::from(spec.days);
    let before: u64 = client
        .query("SELECT count() FROM events")
        .fetch_one()
        .await?;
    let mut offset = 0;
    while offset < visits {
        let count = BATCH_VISITS.min(visits - offset);
        client
            .query(GENERATE)
            // The rollups' four views fill side by side: twice as fast.
            .with_setting("parallel_view_processing", "1")
            .with_setting("max_insert_threads", "2")
            .bind(spec.sites.as_slice())
            .bind(first_day.as_str())
            .bind(spec.days)
            .bind(spec.seed)
            .bind(per_site_day)
            .bind(PAGES)
            .bind(offset)
            .bind(count)
            .execute()
            .await?;
        offset += count;
        progress(offset, visits);
    }
    let after: u64 = client
        .query("SELECT count() FROM events")
        .fetch_one()
        .await?;
    Ok(after.saturating_sub(before))
}
