//! A tiny SMTP sink on loopback for the notification tests: accepts every message,
//! keeps it, and lets a test wait for a condition with a deadline (no fixed sleeps).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// One message as the sink received it.
#[derive(Debug, Clone, Default)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// Headers and body as sent (dot-unstuffed).
    pub data: String,
}

impl Mail {
    /// The message with quoted-printable and base64 bodies and encoded-word headers
    /// left as sent: search [`Mail::decoded`] for text.
    pub fn decoded(&self) -> String {
        decode(&self.data)
    }
}

/// Decodes what `lettre` may encode: base64 or quoted-printable bodies and RFC 2047
/// encoded words, so a test can search the text a reader sees.
fn decode(data: &str) -> String {
    let (head, body) = data.split_once("\r\n\r\n").unwrap_or((data, ""));
    let lower = head.to_ascii_lowercase();
    let body = if lower.contains("content-transfer-encoding: base64") {
        let joined: String = body.split_whitespace().collect();
        base64_decode(&joined)
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_else(|| body.to_owned())
    } else if lower.contains("content-transfer-encoding: quoted-printable") {
        quoted_printable(body)
    } else {
        body.to_owned()
    };
    let mut head_text = String::new();
    for word in head.split(|c: char| c.is_whitespace()) {
        let w = word.trim_matches('"');
        if let Some(inner) = w
            .strip_prefix("=?utf-8?b?")
            .or_else(|| w.strip_prefix("=?UTF-8?B?"))
            && let Some(b64) = inner.strip_suffix("?=")
            && let Some(bytes) = base64_decode(b64)
        {
            head_text.push_str(&String::from_utf8_lossy(&bytes));
        } else {
            head_text.push_str(word);
        }
        head_text.push(' ');
    }
    format!("{head_text}\n\n{body}")
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

fn quoted_printable(s: &str) -> String {
    let mut out = Vec::new();
    let bytes = s.replace("=\r\n", "").into_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&String::from_utf8_lossy(&bytes[i + 1..i + 3]), 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The sink: its port and what it received.
#[derive(Clone)]
pub struct SmtpSink {
    pub port: u16,
    mails: Arc<Mutex<Vec<Mail>>>,
    arrived: Arc<Notify>,
}

impl SmtpSink {
    /// Listens on `127.0.0.1:0` and serves every connection in a task.
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind SMTP sink");
        let port = listener.local_addr().expect("sink address").port();
        let sink = SmtpSink {
            port,
            mails: Arc::default(),
            arrived: Arc::new(Notify::new()),
        };
        let s = sink.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let s = s.clone();
                tokio::spawn(async move {
                    let _ = s.session(stream).await;
                });
            }
        });
        sink
    }

    async fn session(&self, stream: tokio::net::TcpStream) -> std::io::Result<()> {
        let (r, mut w) = stream.into_split();
        let mut lines = BufReader::new(r);
        w.write_all(b"220 sink ESMTP\r\n").await?;
        let mut mail = Mail::default();
        let mut line = String::new();
        loop {
            line.clear();
            if lines.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let cmd = line.trim_end().to_owned();
            let upper = cmd.to_ascii_uppercase();
            if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                w.write_all(b"250 sink\r\n").await?;
            } else if let Some(from) = upper.strip_prefix("MAIL FROM:").map(|_| &cmd[10..]) {
                mail = Mail {
                    from: from.trim().trim_matches(['<', '>']).to_owned(),
                    ..Default::default()
                };
                w.write_all(b"250 ok\r\n").await?;
            } else if upper.starts_with("RCPT TO:") {
                mail.to
                    .push(cmd[8..].trim().trim_matches(['<', '>']).to_owned());
                w.write_all(b"250 ok\r\n").await?;
            } else if upper == "DATA" {
                w.write_all(b"354 end with .\r\n").await?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                    let l = line.strip_prefix('.').unwrap_or(&line);
                    data.push_str(l);
                }
                mail.data = data;
                self.mails
                    .lock()
                    .expect("sink")
                    .push(std::mem::take(&mut mail));
                self.arrived.notify_waiters();
                w.write_all(b"250 queued\r\n").await?;
            } else if upper == "QUIT" {
                w.write_all(b"221 bye\r\n").await?;
                return Ok(());
            } else {
                w.write_all(b"250 ok\r\n").await?;
            }
        }
    }

    /// Every message received so far.
    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().expect("sink").clone()
    }

    /// Waits until `done` holds for the messages received, at most `deadline`; returns
    /// them either way (the caller asserts).
    pub async fn wait_for(&self, deadline: Duration, done: impl Fn(&[Mail]) -> bool) -> Vec<Mail> {
        let end = tokio::time::Instant::now() + deadline;
        loop {
            let arrived = self.arrived.notified();
            let mails = self.mails();
            if done(&mails) || tokio::time::Instant::now() >= end {
                return mails;
            }
            // Woken by the next message, or at the deadline.
            let _ = tokio::time::timeout_at(end, arrived).await;
        }
    }
}
