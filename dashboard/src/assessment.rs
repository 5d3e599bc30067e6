//! A site's self-assessment against the conditions under which the CNIL
//! exempts audience measurement from consent, each marked met or not met
//! from the live configuration, with the reason and the setting to change.
//! It is a self-assessment for the site's data protection officer, never a
//! certification, and it names the texts it follows.

use crate::notice::Facts;
use crate::pages::i18n::Lang;
use mesure_sites::{Mode, SHORT_EXEMPT_EVENTS, Site};

/// What the collector's opt-out page answered when the assessment asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// No opt-out page is named.
    NotAsked,
    /// It answered, stating the retention as configured.
    Answered,
    /// It did not answer as it should: why.
    Failed(String),
}

/// Asks the running collector's opt-out page at `url`: it must answer and
/// state the configured retention.
pub async fn probe_optout(url: &str, retention_months: u32) -> Probe {
    if url.trim().is_empty() {
        return Probe::NotAsked;
    }
    let client = match openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::limited(3))
        .timeout(std::time::Duration::from_secs(5))
        .build()
    {
        Ok(client) => client,
        Err(error) => return Probe::Failed(error.to_string()),
    };
    let answer = match client.get(url.trim()).send().await {
        Ok(answer) => answer,
        Err(error) => return Probe::Failed(error.without_url().to_string()),
    };
    let status = answer.status();
    let text = answer.text().await.unwrap_or_default();
    let states = |words: &str| text.contains(&format!("{retention_months} {words}"));
    if !status.is_success() {
        Probe::Failed(format!("HTTP {status}"))
    } else if states("mois") || states("month") {
        Probe::Answered
    } else {
        Probe::Failed(format!(
            "it does not state {retention_months} months of retention"
        ))
    }
}

/// The longest retention the exemption allows, in months.
pub const MAX_RETENTION_MONTHS: u32 = 25;

/// One condition and how the site stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// A stable name: `purpose`, `anonymous`, ...
    pub id: &'static str,
    pub met: bool,
    /// The condition, in words.
    pub condition: String,
    /// Why it is met or not, from the configuration.
    pub reason: String,
    /// What to change when not met.
    pub remedy: Option<String>,
}

/// The texts the assessment follows, in `lang`.
pub fn sources(lang: Lang) -> [&'static str; 3] {
    match lang {
        Lang::Fr => [
            "Article 82 de la loi n° 78-17 du 6 janvier 1978 relative à l'informatique, aux fichiers et aux libertés.",
            "CNIL, délibération n° 2020-091 du 17 septembre 2020 portant adoption de lignes directrices relatives aux « cookies et autres traceurs » : les traceurs de mesure d'audience exemptés de consentement.",
            "CNIL, « Cookies : solutions pour les outils de mesure d'audience », conditions de l'exemption.",
        ],
        Lang::En => [
            "Article 82 of French law no. 78-17 of 6 January 1978 on information technology, data files and civil liberties.",
            "CNIL, deliberation no. 2020-091 of 17 September 2020 adopting guidelines on “cookies and other trackers”: audience measurement trackers exempt from consent.",
            "CNIL, “Cookies: solutions for audience measurement tools”, conditions of the exemption.",
        ],
    }
}

/// What the assessment says of itself, in `lang`.
pub fn disclaimer(lang: Lang) -> &'static str {
    match lang {
        Lang::Fr => {
            "Cette auto-évaluation est établie à partir de la configuration en vigueur au moment où elle est produite. \
             Elle n'est ni une certification ni un avis de la CNIL : elle aide le délégué à la protection des données \
             à vérifier les conditions de l'exemption, qui restent de la responsabilité du responsable du traitement."
        }
        Lang::En => {
            "This self-assessment is drawn from the configuration in force when it is produced. It is neither a \
             certification nor an opinion of the CNIL: it helps the data protection officer check the conditions \
             of the exemption, which remain the controller's responsibility."
        }
    }
}

/// Every condition for `site`, in `lang`; `probe` is what the opt-out page
/// answered.
pub fn assess(facts: &Facts, site: &Site, lang: Lang, probe: &Probe) -> Vec<Check> {
    let fr = lang == Lang::Fr;
    let t = |f: &str, e: &str| if fr { f.to_owned() } else { e.to_owned() };
    let exempt = site.mode == Mode::Exempt;
    let short_list = site.allowed_events.len() <= SHORT_EXEMPT_EVENTS;
    let mut checks = vec![
        Check {
            id: "purpose",
            met: true,
            condition: t(
                "Finalité strictement limitée à la mesure de l'audience du site, pour le compte exclusif de l'éditeur.",
                "A purpose strictly limited to measuring the site's audience, for the publisher alone.",
            ),
            reason: t(
                "Mesure ne fait que compter les visites du site et ne sert aucune autre fin (ni publicité, ni profilage).",
                "Mesure only counts the site's visits and serves no other purpose (no advertising, no profiling).",
            ),
            remedy: None,
        },
        Check {
            id: "anonymous",
            met: exempt,
            condition: t(
                "Production de statistiques anonymes uniquement.",
                "Anonymous statistics only.",
            ),
            reason: if exempt {
                t(
                    "Mode exempté : le tableau de bord n'affiche que des agrégats et masque les lignes de moins de 5 visites ; le temps réel est arrondi.",
                    "Exempt mode: the dashboard shows aggregates only and hides rows under 5 visits; realtime is rounded.",
                )
            } else {
                t(
                    "Mode consentement : campagnes et propriétés d'événements sont conservées, ce qui suppose le consentement des visiteurs.",
                    "Consent mode: campaigns and event properties are kept, which requires the visitors' consent.",
                )
            },
            remedy: (!exempt).then(|| {
                t(
                    "Passer le site en mode exempté (réglages du site, « Mode »).",
                    "Switch the site to exempt mode (site settings, “Mode”).",
                )
            }),
        },
        Check {
            id: "cross_site",
            met: true,
            condition: t(
                "Aucun suivi de la navigation sur d'autres sites ni d'un jour à l'autre.",
                "No tracking across other sites or from one day to the next.",
            ),
            reason: t(
                "L'identifiant de visite est une empreinte propre au site, calculée avec un secret renouvelé chaque jour puis détruit.",
                "The visit identifier is a fingerprint of its own for each site, computed with a secret renewed every day and then destroyed.",
            ),
            remedy: None,
        },
        Check {
            id: "combination",
            met: true,
            condition: t(
                "Aucun recoupement avec d'autres traitements ni transmission des données à des tiers.",
                "No combination with other processing, no transmission of the data to third parties.",
            ),
            reason: t(
                "Les exports et l'API ne donnent que des agrégats ; Mesure n'appelle aucun service tiers.",
                "Exports and the API give aggregates only; Mesure calls no third-party service.",
            ),
            remedy: None,
        },
        Check {
            id: "hosting",
            met: !facts.config.hosting.trim().is_empty(),
            condition: t(
                "Pas de transfert hors de l'Union européenne ; lieu d'hébergement connu.",
                "No transfer outside the European Union; the place of hosting known.",
            ),
            reason: if facts.config.hosting.trim().is_empty() {
                t(
                    "Le lieu d'hébergement n'est pas renseigné.",
                    "The place of hosting is not given.",
                )
            } else if fr {
                format!("Hébergement déclaré : {}.", facts.config.hosting.trim())
            } else {
                format!("Hosting declared: {}.", facts.config.hosting.trim())
            },
            remedy: facts.config.hosting.trim().is_empty().then(|| {
                t(
                    "Renseigner [notice] hosting dans la configuration.",
                    "Set [notice] hosting in the configuration.",
                )
            }),
        },
        Check {
            id: "ip",
            met: facts.ipv4_prefix <= 24 && facts.ipv6_prefix <= 48,
            condition: t(
                "Adresse IP tronquée avant tout traitement.",
                "IP address truncated before any processing.",
            ),
            reason: if fr {
                format!(
                    "Les adresses sont tronquées à /{} (IPv4) et /{} (IPv6) avant la géolocalisation ; l'adresse complète n'est jamais enregistrée.",
                    facts.ipv4_prefix, facts.ipv6_prefix
                )
            } else {
                format!(
                    "Addresses are truncated to /{} (IPv4) and /{} (IPv6) before geolocation; the full address is never stored.",
                    facts.ipv4_prefix, facts.ipv6_prefix
                )
            },
            remedy: None,
        },
        Check {
            id: "location",
            met: true,
            condition: t(
                "Localisation pas plus précise que la ville.",
                "Location no finer than the city.",
            ),
            reason: if site.city {
                t(
                    "Pays, région et ville seulement (ni coordonnées, ni code postal).",
                    "Country, region and city only (no coordinates, no postcode).",
                )
            } else {
                t("Pays et région seulement.", "Country and region only.")
            },
            remedy: None,
        },
        Check {
            id: "lifetime",
            met: true,
            condition: t(
                "Durée de vie des traceurs limitée (13 mois au plus).",
                "A limited lifetime for trackers (13 months at most).",
            ),
            reason: t(
                "Aucun cookie ; l'identifiant de visite vit une journée.",
                "No cookie; the visit identifier lives one day.",
            ),
            remedy: None,
        },
        Check {
            id: "retention",
            met: facts.retention_months <= MAX_RETENTION_MONTHS,
            condition: t(
                "Conservation des données collectées 25 mois au plus.",
                "Collected data kept 25 months at most.",
            ),
            reason: if fr {
                format!(
                    "Conservation configurée : {} mois, effacement quotidien au-delà.",
                    facts.retention_months
                )
            } else {
                format!(
                    "Retention set: {} months, deleted daily beyond.",
                    facts.retention_months
                )
            },
            remedy: (facts.retention_months > MAX_RETENTION_MONTHS).then(|| {
                t(
                    "Réduire retention.months puis lancer mesure migrate.",
                    "Lower retention.months, then run mesure migrate.",
                )
            }),
        },
        Check {
            id: "campaigns",
            met: exempt && short_list,
            condition: t(
                "Pas de suivi des campagnes ni de propriétés d'événements ; une liste courte d'événements.",
                "No campaign tracking, no event properties; a short list of events.",
            ),
            reason: if exempt {
                if fr {
                    format!(
                        "Paramètres de campagne retirés, propriétés ignorées ; {} événement(s) autorisé(s) sur {} au plus.",
                        site.allowed_events.len(),
                        SHORT_EXEMPT_EVENTS
                    )
                } else {
                    format!(
                        "Campaign parameters removed, properties ignored; {} event name(s) allowed out of {} at most.",
                        site.allowed_events.len(),
                        SHORT_EXEMPT_EVENTS
                    )
                }
            } else {
                t(
                    "Mode consentement : les paramètres utm_* et les propriétés des événements sont conservés.",
                    "Consent mode: utm_* parameters and event properties are kept.",
                )
            },
            remedy: if !exempt {
                Some(t(
                    "Passer le site en mode exempté (réglages du site, « Mode »).",
                    "Switch the site to exempt mode (site settings, “Mode”).",
                ))
            } else if !short_list {
                Some(t(
                    "Réduire la liste des événements acceptés à 3 noms (réglages du site).",
                    "Shorten the list of accepted events to 3 names (site settings).",
                ))
            } else {
                None
            },
        },
        Check {
            id: "opt_out",
            met: *probe == Probe::Answered && facts.honors_signals,
            condition: t(
                "Possibilité de s'opposer à la mesure, simplement, et information des visiteurs.",
                "A simple way to refuse the measurement, and visitors informed.",
            ),
            reason: {
                let url = facts.config.optout_url.trim();
                let page = match (probe, fr) {
                    (Probe::NotAsked, true) => "L'adresse de la page d'opposition n'est pas renseignée.".to_owned(),
                    (Probe::NotAsked, false) => "The opt-out page's address is not given.".to_owned(),
                    (Probe::Answered, true) => format!("La page d'opposition {url} répond et indique la durée de conservation."),
                    (Probe::Answered, false) => format!("The opt-out page {url} answers and states the retention."),
                    (Probe::Failed(why), true) => format!("La page d'opposition {url} ne répond pas comme il faut : {why}."),
                    (Probe::Failed(why), false) => format!("The opt-out page {url} does not answer as it should: {why}."),
                };
                let signals = match (facts.honors_signals, fr) {
                    (true, true) => "« Do Not Track » et « Global Privacy Control » sont respectés.",
                    (true, false) => "“Do Not Track” and “Global Privacy Control” are honoured.",
                    (false, true) => "« Do Not Track » et « Global Privacy Control » ne sont pas respectés.",
                    (false, false) => "“Do Not Track” and “Global Privacy Control” are not honoured.",
                };
                format!("{page} {signals}")
            },
            remedy: (*probe != Probe::Answered || !facts.honors_signals).then(|| {
                t(
                    "Renseigner [notice] optout_url (la page /optout du collecteur telle que les visiteurs l'atteignent), la lier depuis la politique de confidentialité, et laisser collector.honor_dnt_and_gpc à true.",
                    "Set [notice] optout_url (the collector's /optout page as visitors reach it), link it from the privacy policy, and keep collector.honor_dnt_and_gpc true.",
                )
            }),
        },
        Check {
            id: "no_per_visitor_view",
            met: true,
            condition: t(
                "Aucune vue individuelle des visiteurs.",
                "No view of individual visitors.",
            ),
            reason: t(
                "Ni le tableau de bord, ni l'API, ni les exports ne montrent un visiteur ou une visite isolés.",
                "Neither the dashboard, nor the API, nor the exports show one visitor or one visit.",
            ),
            remedy: None,
        },
    ];
    // Those not met first: what the reader has to act on.
    checks.sort_by_key(|c| c.met);
    checks
}

/// The assessment as text: a title, the date, each condition, the texts.
pub fn markdown(facts: &Facts, site: &Site, lang: Lang, (date, probe): (&str, &Probe)) -> String {
    let checks = assess(facts, site, lang, probe);
    let (title, on, met, not_met, change, texts) = match lang {
        Lang::Fr => (
            "Auto-évaluation de l'exemption de consentement",
            "Établie le",
            "Respectée",
            "Non respectée",
            "À changer :",
            "Textes suivis :",
        ),
        Lang::En => (
            "Self-assessment of the consent exemption",
            "Drawn up on",
            "Met",
            "Not met",
            "To change:",
            "Texts followed:",
        ),
    };
    let mut out = format!("# {title} – {}\n\n{on} {date}.\n\n", site.id);
    for check in &checks {
        let status = if check.met { met } else { not_met };
        out.push_str(&format!(
            "- **{status}** – {} {}",
            check.condition, check.reason
        ));
        if let Some(remedy) = &check.remedy {
            out.push_str(&format!(" {change} {remedy}"));
        }
        out.push('\n');
    }
    out.push_str(&format!("\n{texts}\n\n"));
    for source in sources(lang) {
        out.push_str(&format!("- {source}\n"));
    }
    out.push_str(&format!("\n{}\n", disclaimer(lang)));
    out
}
