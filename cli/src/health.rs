//! `mesure health`: asks a service on this host for `/healthz` or
//! `/readyz`, for container health checks where no HTTP client is installed.

use anyhow::{Context, bail};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

/// Longest answer read: a status line and a few headers.
const MAX_ANSWER: u64 = 4096;

/// Succeeds when `GET path` on the service listening on `listen` answers 200.
pub fn check(listen: SocketAddr, path: &str, timeout: Duration) -> anyhow::Result<()> {
    let addr = local(listen);
    let mut stream = TcpStream::connect_timeout(&addr, timeout)
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = Vec::new();
    stream
        .take(MAX_ANSWER)
        .read_to_end(&mut answer)
        .with_context(|| format!("reading the answer of {addr}{path}"))?;
    let answer = String::from_utf8_lossy(&answer);
    let status = answer.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("200") {
        bail!("{addr}{path} answered {status:?}");
    }
    Ok(())
}

/// A wildcard listen address is reached on loopback.
fn local(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_addresses_are_reached_on_loopback() {
        let v4: SocketAddr = "0.0.0.0:8080".parse().expect("address");
        assert_eq!(local(v4).to_string(), "127.0.0.1:8080");
        let v6: SocketAddr = "[::]:8081".parse().expect("address");
        assert_eq!(local(v6).to_string(), "[::1]:8081");
        let given: SocketAddr = "10.0.0.5:80".parse().expect("address");
        assert_eq!(local(given), given);
    }
}
