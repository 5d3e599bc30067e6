//! The ceiling: a bare hyper server answering the same GIF with no work,
//! served the way the collector serves (HTTP/1.1, keep-alive, no delay).

use bytes::Bytes;
use http::{Response, header};
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use mesure_collector::server::GIF;
use std::convert::Infallible;
use tokio::net::TcpListener;

pub async fn serve(listener: TcpListener) {
    while let Ok((stream, _)) = listener.accept().await {
        let _ = stream.set_nodelay(true);
        let service = service_fn(|_request| async {
            let mut response = Response::new(Full::new(Bytes::from_static(GIF)));
            let h = response.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("image/gif"),
            );
            h.insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("no-store"),
            );
            Ok::<_, Infallible>(response)
        });
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
