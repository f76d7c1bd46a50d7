//! Mail the tests receive: the loopback SMTP server `scripts/test` starts
//! (`QUESTPATH_TEST_SMTP_ADDR`, its Maildir in `QUESTPATH_TEST_SMTP_MAILDIR`) and the
//! outbox folder of a server without SMTP. A small MIME reader gives each mail's
//! headers and its decoded plain-text and HTML parts.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use questpath::config::{SmtpSettings, SmtpTls};

use crate::services::required_env;

/// The test SMTP server as `host:port`.
pub fn smtp_addr() -> String {
    required_env("QUESTPATH_TEST_SMTP_ADDR")
}

/// The Maildir where the test SMTP server keeps what it accepted.
pub fn smtp_maildir() -> PathBuf {
    PathBuf::from(required_env("QUESTPATH_TEST_SMTP_MAILDIR"))
}

/// Settings that send to the test SMTP server (plain text on loopback).
pub fn smtp_settings() -> SmtpSettings {
    let addr = smtp_addr();
    let (host, port) = addr
        .rsplit_once(':')
        .expect("QUESTPATH_TEST_SMTP_ADDR is host:port");
    SmtpSettings {
        host: host.to_string(),
        port: port.parse().expect("QUESTPATH_TEST_SMTP_ADDR port"),
        tls: SmtpTls::None,
        credentials: None,
        timeout: Duration::from_secs(10),
    }
}

/// One received mail.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub raw: String,
    headers: Vec<(String, String)>,
    /// The decoded `text/plain` part.
    pub text: String,
    /// The decoded `text/html` part.
    pub html: String,
}

impl ReceivedMail {
    /// The first header of that name (case-insensitive), unfolded.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first URL in the plain-text part that starts with `prefix`.
    pub fn link(&self, prefix: &str) -> Option<String> {
        let start = self.text.find(prefix)?;
        let rest = &self.text[start..];
        let end = rest
            .find(|c: char| c.is_whitespace() || c == '"' || c == '<' || c == '>')
            .unwrap_or(rest.len());
        Some(rest[..end].to_string())
    }
}

fn split_head(raw: &str) -> (&str, &str) {
    raw.split_once("\r\n\r\n")
        .or_else(|| raw.split_once("\n\n"))
        .unwrap_or((raw, ""))
}

fn parse_headers(head: &str) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    headers
}

fn decode_quoted_printable(body: &str) -> String {
    let mut out = Vec::new();
    let bytes = body.replace("=\r\n", "").replace("=\n", "").into_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let hex = (bytes[i] == b'=' && i + 2 < bytes.len())
            .then(|| u8::from_str_radix(&String::from_utf8_lossy(&bytes[i + 1..i + 3]), 16).ok())
            .flatten();
        if let Some(b) = hex {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn decode_part(headers: &[(String, String)], body: &str) -> String {
    let encoding = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("Content-Transfer-Encoding"))
        .map(|(_, v)| v.to_ascii_lowercase())
        .unwrap_or_default();
    match encoding.as_str() {
        "quoted-printable" => decode_quoted_printable(body),
        "base64" => {
            let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(compact)
                .expect("base64 part");
            String::from_utf8_lossy(&bytes).into_owned()
        }
        _ => body.to_string(),
    }
}

/// Parses a `multipart/alternative` mail (or a single part).
pub fn parse(raw: &str) -> ReceivedMail {
    let (head, body) = split_head(raw);
    let headers = parse_headers(head);
    let content_type = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("Content-Type"))
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let (mut text, mut html) = (String::new(), String::new());
    let boundary = content_type
        .split(';')
        .filter_map(|p| p.trim().strip_prefix("boundary="))
        .map(|b| b.trim_matches('"').to_string())
        .next();
    let mut parts = Vec::new();
    match boundary {
        Some(boundary) => {
            let marker = format!("--{boundary}");
            for part in body.split(marker.as_str()).skip(1) {
                if part.starts_with("--") {
                    break;
                }
                let part = part.trim_start_matches(['\r', '\n']);
                let (part_head, part_body) = split_head(part);
                parts.push((parse_headers(part_head), part_body.to_string()));
            }
        }
        None => parts.push((headers.clone(), body.to_string())),
    }
    for (part_headers, part_body) in parts {
        let kind = part_headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("Content-Type"))
            .map(|(_, v)| v.to_ascii_lowercase())
            .unwrap_or_default();
        let decoded = decode_part(&part_headers, &part_body);
        if kind.starts_with("text/html") {
            html = decoded;
        } else if kind.starts_with("text/plain") {
            text = decoded;
        }
    }
    ReceivedMail {
        raw: raw.to_string(),
        headers,
        text,
        html,
    }
}

/// Every mail file under `dir`: `.eml` files of an outbox, or `new/` of a Maildir.
pub fn mails_in(dir: &Path) -> Vec<ReceivedMail> {
    let maildir_new = dir.join("new");
    let folder = if maildir_new.is_dir() {
        maildir_new
    } else {
        dir.to_path_buf()
    };
    let Ok(entries) = std::fs::read_dir(&folder) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && !p.to_string_lossy().ends_with(".partial"))
        .collect();
    paths.sort();
    paths
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|raw| parse(&raw))
        .collect()
}

/// The mails under `dir` addressed to `to`.
pub fn mails_to(dir: &Path, to: &str) -> Vec<ReceivedMail> {
    mails_in(dir)
        .into_iter()
        .filter(|m| m.header("To").is_some_and(|t| t.contains(to)))
        .collect()
}

/// Waits (up to `timeout`) until `count` mails to `to` are under `dir`; returns them.
pub async fn wait_for_mails(
    dir: &Path,
    to: &str,
    count: usize,
    timeout: Duration,
) -> Vec<ReceivedMail> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let mails = mails_to(dir, to);
        if mails.len() >= count {
            return mails;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!(
                "{} mail(s) to {to} under {} after {timeout:?}, expected {count}",
                mails.len(),
                dir.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_printable_and_multipart_are_decoded() {
        let raw = "To: a@b.test\r\nSubject: Hi\r\nContent-Type: multipart/alternative;\r\n boundary=\"XYZ\"\r\n\r\n--XYZ\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nopen http://x/#/reset?token=3Dab=\r\ncd now\r\n--XYZ\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n<p>hi</p>\r\n--XYZ--\r\n";
        let mail = parse(raw);
        assert_eq!(mail.header("subject"), Some("Hi"));
        assert_eq!(
            mail.link("http://x/#/reset").as_deref(),
            Some("http://x/#/reset?token=abcd")
        );
        assert!(mail.html.contains("<p>hi</p>"));
    }
}
