//! Slow clients: a connection that does not finish its request headers is closed after
//! the header read timeout, and one address cannot hold more than the configured number
//! of connections — while the others keep working. Through real TCP sockets.

use std::time::{Duration, Instant};

use renkei_http::ServeOptions;
use renkei_testkit::TestApp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest any wait in these tests may take: far above the timeouts under test, so only
/// a server that never closes fails it.
const PATIENCE: Duration = Duration::from_secs(30);

async fn start(options: ServeOptions) -> Option<TestApp> {
    TestApp::spawn_with_options(options).await
}

fn addr(app: &TestApp) -> String {
    app.base_url.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection (EOF or reset) and returns what came
/// and how long it took; panics if it is still open after [`PATIENCE`].
async fn read_until_closed(stream: &mut TcpStream) -> (Vec<u8>, Duration) {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(PATIENCE, stream.read(&mut buf)).await {
            Err(_) => panic!("the server kept the connection open for {PATIENCE:?}"),
            Ok(Ok(0)) | Ok(Err(_)) => return (got, start.elapsed()),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// Sends a whole request on `stream` and returns the status line of the answer.
async fn healthz(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: renkei\r\nConnection: close\r\n\r\n")
        .await
        .expect("write request");
    let (got, _) = read_until_closed(stream).await;
    String::from_utf8_lossy(&got)
        .lines()
        .next()
        .unwrap_or("")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn unfinished_request_headers_are_cut_off_after_the_timeout() {
    let timeout = Duration::from_secs(1);
    let Some(app) = start(ServeOptions {
        header_read_timeout: timeout,
        ..ServeOptions::default()
    })
    .await
    else {
        return;
    };
    // Half a request line and one header, then nothing.
    let mut partial = TcpStream::connect(addr(&app)).await.expect("connect");
    partial
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: renkei\r\n")
        .await
        .expect("write");
    // Connected, and not a byte sent.
    let mut silent = TcpStream::connect(addr(&app)).await.expect("connect");
    // A complete request on a third connection is answered meanwhile.
    let mut whole = TcpStream::connect(addr(&app)).await.expect("connect");
    assert!(healthz(&mut whole).await.starts_with("HTTP/1.1 200"));

    for (what, stream) in [("partial headers", &mut partial), ("no bytes", &mut silent)] {
        let (got, waited) = read_until_closed(stream).await;
        assert!(
            !String::from_utf8_lossy(&got).contains("200 OK"),
            "{what}: answered as if complete"
        );
        assert!(
            waited < timeout + Duration::from_secs(10),
            "{what}: closed only after {waited:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_address_holds_at_most_the_configured_connections() {
    let limit = 3;
    let Some(app) = start(ServeOptions {
        header_read_timeout: Duration::from_secs(60),
        max_connections_per_address: limit,
    })
    .await
    else {
        return;
    };
    let mut open = Vec::new();
    for _ in 0..limit {
        open.push(TcpStream::connect(addr(&app)).await.expect("connect"));
    }
    // One more from the same address is closed at once, without an answer.
    let mut extra = TcpStream::connect(addr(&app)).await.expect("connect");
    let _ = extra
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: renkei\r\n\r\n")
        .await;
    let (got, _) = read_until_closed(&mut extra).await;
    assert!(
        got.is_empty(),
        "the extra connection was served: {:?}",
        String::from_utf8_lossy(&got)
    );

    // The connections within the limit work.
    let mut first = open.remove(0);
    assert!(healthz(&mut first).await.starts_with("HTTP/1.1 200"));

    // A finished connection frees its place: a new one is served (the server notices the
    // close asynchronously, so try until it has, within the patience).
    drop(first);
    let deadline = Instant::now() + PATIENCE;
    loop {
        let mut again = TcpStream::connect(addr(&app)).await.expect("connect");
        let status = healthz(&mut again).await;
        if status.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "no place freed: {status:?}");
        tokio::task::yield_now().await;
    }
    drop(open);
}
