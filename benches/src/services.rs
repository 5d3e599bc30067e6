//! The services a benchmark runs: the local ClickHouse and the `mesure`
//! binary, as child processes killed when dropped, and the small probes the
//! reports need (an HTTP/1.0 exchange, a process's CPU and memory, the
//! machine's description).

use anyhow::Context;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// A child process killed when dropped.
#[derive(Debug)]
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Process {
    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Reads the first stdout line, where servers print their address.
    pub fn first_line(&mut self) -> anyhow::Result<String> {
        let stdout = self.0.stdout.take().context("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        Ok(line)
    }
}

pub fn address_in(line: &str) -> anyhow::Result<SocketAddr> {
    let word = line
        .split_whitespace()
        .find(|w| w.contains("127.0.0.1:"))
        .with_context(|| format!("no address in {line:?}"))?;
    Ok(word.trim_start_matches("http://").parse()?)
}

/// Peak resident memory (kB) and CPU time (s) of a process.
pub fn usage(pid: u32) -> (u64, f64) {
    let peak = status_kb(pid, "VmHWM:");
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|i| fields.get(*i)?.parse::<f64>().ok())
        .sum();
    (peak, ticks / 100.0)
}

/// Resident memory (kB) of a process now.
pub fn rss_kb(pid: u32) -> u64 {
    status_kb(pid, "VmRSS:")
}

/// A field of `/proc/<pid>/status` given in kB, 0 when unreadable.
fn status_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// A tiny HTTP/1.0 exchange, for metrics and ClickHouse queries.
pub fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> anyhow::Result<String> {
    Ok(http_with(addr, method, path, &[], body)?.1)
}

/// The same with more headers (`Host: dashboard` unless given); the
/// answer's head and body.
pub fn http_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> anyhow::Result<(String, String)> {
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head = format!("{method} {path} HTTP/1.0\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        head.push_str("Host: dashboard\r\n");
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    write!(stream, "{head}Content-Length: {}\r\n\r\n{body}", body.len())?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Ok((head.to_owned(), body.to_owned()))
}

/// Signs in to the dashboard at `addr` (as `Host: dashboard`) and returns
/// the session cookie, as the `Cookie` header sends it.
pub fn sign_in(addr: SocketAddr, email: &str, password: &str) -> anyhow::Result<String> {
    let body = format!(
        "email={}&password={}",
        percent_encoding::utf8_percent_encode(email, percent_encoding::NON_ALPHANUMERIC),
        percent_encoding::utf8_percent_encode(password, percent_encoding::NON_ALPHANUMERIC)
    );
    let (head, _) = http_with(
        addr,
        "POST",
        "/sign-in",
        &[
            ("Origin", "http://dashboard"),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        &body,
    )?;
    head.lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("set-cookie")
                .then(|| value.trim().split(';').next().map(str::to_owned))
                .flatten()
        })
        .filter(|cookie| !cookie.ends_with('='))
        .ok_or_else(|| anyhow::anyhow!("signing in to the dashboard failed: {head}"))
}

/// The bench's dashboard user.
pub const BENCH_EMAIL: &str = "bench@mesure.test";

/// Adds the bench's superuser with a random password (in `dir`); returns the password.
pub fn add_bench_user(dir: &Path, env: &[(String, String)]) -> anyhow::Result<String> {
    let mut random = [0u8; 16];
    Read::read_exact(&mut std::fs::File::open("/dev/urandom")?, &mut random)?;
    let password: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let file = dir.join("password");
    std::fs::write(&file, format!("{password}\n"))?;
    let status = mesure(
        &[
            "user",
            "add",
            BENCH_EMAIL,
            "--superuser",
            "--password-file",
            &file.display().to_string(),
        ],
        env,
    )?
    .status()?;
    anyhow::ensure!(status.success(), "mesure user add: {status}");
    Ok(password)
}

pub fn start_clickhouse(dir: &Path, port: u16) -> anyhow::Result<(Process, SocketAddr)> {
    let root = repo();
    let mut process = Process(
        Command::new(root.join(".venv/bin/python"))
            .arg(root.join("deploy/local/chlocal.py"))
            .args(["--port", &port.to_string(), "--data-dir"])
            .arg(dir.join("clickhouse"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("the local ClickHouse (run make setup)")?,
    );
    let addr = address_in(&process.first_line()?)?;
    Ok((process, addr))
}

pub fn mesure(args: &[&str], env: &[(String, String)]) -> anyhow::Result<Command> {
    let binary = repo().join("target/release/mesure");
    anyhow::ensure!(
        binary.exists(),
        "{} is missing: build it with cargo build --release",
        binary.display()
    );
    let mut command = Command::new(binary);
    command
        .args(args)
        .envs(env.iter().cloned())
        .env("MESURE_LOG", "warn");
    Ok(command)
}

pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()?
                .split_whitespace()
                .nth(1)?
                .parse::<f64>()
                .ok()
        })
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{cores} cores ({model}), {mem:.0} GiB, Linux {}",
        kernel.trim()
    )
}

/// The time now, for the reports' "measured on".
pub fn now_utc() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map_or_else(
            |_| String::new(),
            |o| String::from_utf8_lossy(&o.stdout).trim().to_owned(),
        )
}
