//! The privacy notice a site pastes into its privacy policy, in French or
//! English, as Markdown or HTML, built from the live configuration: the
//! site's mode, places and events, the retention, the address truncation,
//! the privacy signals honoured, and what the operator names in
//! `[notice]` (the controller, the host, the opt-out page). Anything the
//! operator has not named is left as a bracketed placeholder to fill in.

use crate::pages::i18n::Lang;
use mesure_sites::{Mode, Site};
use serde::{Deserialize, Serialize};

/// The `[notice]` section: what only the operator knows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NoticeConfig {
    /// Who decides the measurement ("Mairie de Trifouillis, 1 place de la
    /// Mairie"). Empty: a placeholder.
    pub controller: String,
    /// Where the data is hosted ("serveurs de la ville, en France").
    /// Empty: a placeholder.
    pub hosting: String,
    /// The collector's opt-out page as visitors reach it
    /// (`https://stats.example.fr/optout`). Empty: a placeholder.
    pub optout_url: String,
}

/// What the notice says, from the live configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub retention_months: u32,
    pub ipv4_prefix: u8,
    pub ipv6_prefix: u8,
    /// Do Not Track and Global Privacy Control are honoured.
    pub honors_signals: bool,
    pub config: NoticeConfig,
}

impl Default for Facts {
    fn default() -> Self {
        Facts {
            retention_months: 6,
            ipv4_prefix: 24,
            ipv6_prefix: 48,
            honors_signals: true,
            config: NoticeConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Html,
}

impl Format {
    pub fn parse(text: &str) -> Option<Format> {
        match text {
            "md" | "markdown" => Some(Format::Markdown),
            "html" => Some(Format::Html),
            _ => None,
        }
    }
}

/// One block of the notice.
enum Block {
    Heading(String),
    Paragraph(String),
    List(Vec<String>),
}

/// `value`, or a placeholder to fill in.
fn or_placeholder(value: &str, placeholder: &str) -> String {
    if value.trim().is_empty() {
        format!("[{placeholder}]")
    } else {
        value.trim().to_owned()
    }
}

fn months(lang: Lang, n: u32) -> String {
    match (lang, n) {
        (Lang::Fr, n) => format!("{n} mois"),
        (Lang::En, 1) => "1 month".to_owned(),
        (Lang::En, n) => format!("{n} months"),
    }
}

/// A value written in Markdown as text: its marks escaped.
fn markdown_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '`' | '|'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The notice's blocks; `value` writes a configured value as text.
fn blocks(facts: &Facts, site: &Site, lang: Lang, value: fn(&str) -> String) -> Vec<Block> {
    use Block::{Heading, List, Paragraph};
    let fr = lang == Lang::Fr;
    let pick = |f: &str, e: &str| if fr { f.to_owned() } else { e.to_owned() };
    let controller = or_placeholder(
        &value(&facts.config.controller),
        &pick(
            "nom et adresse du responsable du traitement",
            "name and address of the controller",
        ),
    );
    let hosting = or_placeholder(
        &value(&facts.config.hosting),
        &pick(
            "hébergeur et pays d'hébergement",
            "host and country of hosting",
        ),
    );
    let optout = or_placeholder(
        &value(&facts.config.optout_url),
        &pick(
            "adresse de la page d'opposition",
            "address of the opt-out page",
        ),
    );
    let kept = months(lang, facts.retention_months);
    let hosts = value(&site.host_patterns().join(", "));
    let places = match (site.city, fr) {
        (true, true) => "le pays, la région et la ville",
        (false, true) => "le pays et la région",
        (true, false) => "the country, region and city",
        (false, false) => "the country and region",
    };
    let events = if site.allowed_events.is_empty() {
        pick("aucun", "none")
    } else {
        value(&site.allowed_events.join(", "))
    };
    let mut collected = vec![
        pick(
            "les pages consultées (leur adresse, sans paramètre autre que ceux utiles au site, ni fragment ; adresses e-mail et jetons masqués) ;",
            "the pages read (their address, without any parameter but those the site needs, nor fragment; e-mail addresses and tokens masked);",
        ),
        pick(
            "le site d'où vient la visite (son nom de domaine seulement) et le type de provenance (moteur de recherche, réseau social, lien direct…) ;",
            "the site a visit comes from (its domain name only) and the kind of source (search engine, social network, direct link…);",
        ),
        if fr {
            format!("{places}, déduits de l'adresse IP tronquée ;")
        } else {
            format!("{places}, derived from the truncated IP address;")
        },
        pick(
            "la famille et la version majeure du navigateur et du système, et le type d'appareil (ordinateur, mobile, tablette) ;",
            "the family and major version of the browser and the system, and the kind of device (desktop, mobile, tablet);",
        ),
        if fr {
            format!("les événements que le site mesure : {events} ;")
        } else {
            format!("the events the site measures: {events};")
        },
    ];
    match site.mode {
        Mode::Exempt => collected.push(pick(
            "la durée des visites et le nombre de pages vues. Aucun paramètre de campagne (utm_*, gclid…) et aucune propriété d'événement ne sont conservés.",
            "the length of visits and the number of pages read. No campaign parameter (utm_*, gclid…) and no event property is kept.",
        )),
        Mode::Consent => collected.push(pick(
            "la durée des visites, le nombre de pages vues, les paramètres de campagne (utm_*) et les propriétés des événements, avec votre consentement recueilli par le site.",
            "the length of visits, the number of pages read, campaign parameters (utm_*) and event properties, with the consent the site collects from you.",
        )),
    }
    let mut not_collected = vec![
        pick(
            "aucun cookie n'est déposé et rien n'est lu sur votre appareil, hormis, si vous le choisissez, votre refus d'être mesuré, gardé par votre navigateur pour ce site ;",
            "no cookie is set and nothing is read from your device, except, if you choose it, your refusal to be measured, kept by your browser for this site;",
        ),
        if fr {
            format!(
                "votre adresse IP n'est jamais enregistrée : elle est tronquée (/{} en IPv4, /{} en IPv6) avant tout usage ;",
                facts.ipv4_prefix, facts.ipv6_prefix
            )
        } else {
            format!(
                "your IP address is never stored: it is truncated (/{} for IPv4, /{} for IPv6) before any use;",
                facts.ipv4_prefix, facts.ipv6_prefix
            )
        },
        pick(
            "aucun identifiant durable : une visite est reconnue le temps d'une journée par une empreinte calculée avec un secret renouvelé chaque jour puis détruit, qui diffère d'un site à l'autre ; aucun suivi d'un jour à l'autre ni d'un site à l'autre n'est possible ;",
            "no lasting identifier: a visit is recognised for one day by a fingerprint computed with a secret renewed every day and then destroyed, different from one site to another; no tracking from one day or one site to the next is possible;",
        ),
        pick(
            "les données ne sont ni croisées avec d'autres traitements, ni cédées, ni transmises à des tiers.",
            "the data is neither combined with other processing, nor sold, nor passed to third parties.",
        ),
    ];
    if facts.honors_signals {
        not_collected.insert(
            3,
            pick(
                "si votre navigateur envoie « Do Not Track » ou « Global Privacy Control », votre visite n'est pas mesurée ;",
                "if your browser sends “Do Not Track” or “Global Privacy Control”, your visit is not measured;",
            ),
        );
    }
    if fr {
        vec![
            Heading("Mesure d'audience".into()),
            Paragraph(format!(
                "Le site ({hosts}) mesure sa fréquentation avec Mesure, pour le seul usage de {controller} : \
                 savoir quelles pages sont lues et comment on y arrive, afin d'améliorer le site. \
                 Seules des statistiques anonymes en sont tirées ; elles ne servent à aucune autre fin."
            )),
            Paragraph("Sont mesurés :".into()),
            List(collected),
            Paragraph("Ce qui protège votre vie privée :".into()),
            List(not_collected),
            Paragraph(format!(
                "Les données sont conservées {kept} puis effacées automatiquement. Elles sont hébergées par {hosting}."
            )),
            Paragraph(format!(
                "Vous pouvez refuser cette mesure à tout moment, sans conséquence sur votre navigation : {optout}."
            )),
            Paragraph(
                "Aucune donnée ne permettant de vous reconnaître n'est conservée : une demande d'accès, \
                 de rectification ou d'effacement ne peut donc être rattachée à aucune donnée. Pour toute \
                 question, adressez-vous au responsable du traitement ci-dessus ; vous pouvez aussi saisir \
                 la CNIL (www.cnil.fr)."
                    .into(),
            ),
        ]
    } else {
        vec![
            Heading("Audience measurement".into()),
            Paragraph(format!(
                "This site ({hosts}) measures its audience with Mesure, for the sole use of {controller}: \
                 knowing which pages are read and how people reach them, to improve the site. Only \
                 anonymous statistics are drawn from it; they serve no other purpose."
            )),
            Paragraph("What is measured:".into()),
            List(collected),
            Paragraph("What protects your privacy:".into()),
            List(not_collected),
            Paragraph(format!(
                "The data is kept {kept}, then deleted automatically. It is hosted by {hosting}."
            )),
            Paragraph(format!(
                "You may refuse this measurement at any time, with no effect on your browsing: {optout}."
            )),
            Paragraph(
                "No data that could recognise you is kept: a request for access, correction or erasure \
                 therefore cannot be matched to any data. For any question, write to the controller \
                 above; you may also refer to the CNIL (www.cnil.fr)."
                    .into(),
            ),
        ]
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The notice of `site`, in `lang`, as `format`.
pub fn notice(facts: &Facts, site: &Site, lang: Lang, format: Format) -> String {
    let mut out = String::new();
    let value = match format {
        Format::Markdown => markdown_text,
        Format::Html => str::to_owned,
    };
    for block in blocks(facts, site, lang, value) {
        match (format, block) {
            (Format::Markdown, Block::Heading(text)) => out.push_str(&format!("## {text}\n\n")),
            (Format::Markdown, Block::Paragraph(text)) => out.push_str(&format!("{text}\n\n")),
            (Format::Markdown, Block::List(items)) => {
                for item in items {
                    out.push_str(&format!("- {item}\n"));
                }
                out.push('\n');
            }
            (Format::Html, Block::Heading(text)) => {
                out.push_str(&format!("<h2>{}</h2>\n", escape(&text)));
            }
            (Format::Html, Block::Paragraph(text)) => {
                out.push_str(&format!("<p>{}</p>\n", escape(&text)));
            }
            (Format::Html, Block::List(items)) => {
                out.push_str("<ul>\n");
                for item in items {
                    out.push_str(&format!("<li>{}</li>\n", escape(&item)));
                }
                out.push_str("</ul>\n");
            }
        }
    }
    out.trim_end().to_owned() + "\n"
}
