//! One keep-alive HTTP/1.1 connection, requests sent one after another:
//! through hyper's client (the dashboard's runs), or written and read by
//! the task that sends them (the load runs).

use crate::mix::RawRequest;
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;

#[derive(Debug)]
pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
}

impl Connection {
    pub async fn open(addr: SocketAddr) -> anyhow::Result<Connection> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Connection { sender })
    }

    /// Sends a request and reads the whole answer.
    pub async fn send(&mut self, request: Request<Full<Bytes>>) -> anyhow::Result<StatusCode> {
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        response.into_body().collect().await?;
        Ok(status)
    }
}

/// The load generator's connection: the task that sends a request writes
/// its bytes and reads the answer itself, with no connection task or
/// channel in between, so the generator takes as little of the machine it
/// shares with the collector as wrk does. Answers carry a Content-Length
/// (the collector never streams one).
#[derive(Debug)]
pub struct RawConnection {
    stream: tokio::net::TcpStream,
    out: Vec<u8>,
    input: Vec<u8>,
}

/// Largest answer head read.
const MAX_HEAD: usize = 16 * 1024;

impl RawConnection {
    pub async fn open(addr: SocketAddr) -> anyhow::Result<RawConnection> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(RawConnection {
            stream,
            out: Vec::with_capacity(1024),
            input: Vec::with_capacity(1024),
        })
    }

    /// Sends a request and reads the whole answer; its status.
    pub async fn send(&mut self, request: &RawRequest) -> anyhow::Result<u16> {
        self.out.clear();
        request.write_to(&mut self.out);
        let mut written = 0;
        while written < self.out.len() {
            match self.stream.try_write(&self.out[written..]) {
                Ok(n) => written += n,
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                    self.stream.writable().await?;
                }
                Err(error) => return Err(error.into()),
            }
        }
        loop {
            if let Some((status, length)) = head(&self.input)? {
                while self.input.len() < length {
                    self.fill().await?;
                }
                self.input.drain(..length);
                return Ok(status);
            }
            anyhow::ensure!(self.input.len() < MAX_HEAD, "answer head too large");
            self.fill().await?;
        }
    }

    async fn fill(&mut self) -> anyhow::Result<()> {
        loop {
            let had = self.input.len();
            self.input.resize(had + 4096, 0);
            let read = self.stream.try_read(&mut self.input[had..]);
            self.input.truncate(had + *read.as_ref().unwrap_or(&0));
            match read {
                Ok(0) => anyhow::bail!("connection closed"),
                Ok(_) => return Ok(()),
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                    self.stream.readable().await?;
                }
                Err(error) => return Err(error.into()),
            }
        }
    }
}

/// The status and whole length (head and body) of the answer at the start
/// of `input`, once its head is complete.
fn head(input: &[u8]) -> anyhow::Result<Option<(u16, usize)>> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    let httparse::Status::Complete(head) = response.parse(input)? else {
        return Ok(None);
    };
    let status = response.code.unwrap_or_default();
    let mut length = None;
    for header in response.headers.iter() {
        if header.name.eq_ignore_ascii_case("content-length") {
            length = std::str::from_utf8(header.value)?
                .trim()
                .parse::<usize>()
                .ok();
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            anyhow::bail!("a streamed answer");
        }
    }
    let length = length.ok_or_else(|| anyhow::anyhow!("an answer without Content-Length"))?;
    Ok(Some((status, head + length)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_whole_once_its_body_is_in() {
        let answer = b"HTTP/1.1 200 OK\r\ncontent-type: image/gif\r\nContent-Length: 3\r\n\r\nGIF";
        assert_eq!(head(&answer[..20]).expect("valid"), None);
        assert_eq!(head(answer).expect("valid"), Some((200, answer.len())));
        assert!(head(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n").is_err());
        assert!(head(b"HTTP/1.1 200 OK\r\n\r\n").is_err());
    }

    #[tokio::test]
    async fn sends_the_mix_to_a_server_and_reads_each_answer() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(crate::bare::serve(listener));
        let corpus = std::sync::Arc::new(crate::mix::Corpus {
            user_agents: vec!["Mozilla/5.0 A".into()],
        });
        let mut mix = crate::mix::Mix::new(corpus, 50, 7);
        let mut connection = RawConnection::open(addr).await.expect("connect");
        for _ in 0..200 {
            assert_eq!(connection.send(&mix.next_raw()).await.expect("answer"), 200);
        }
        assert!(connection.input.is_empty());
    }
}
