//! Reads the outbox folder back: the messages [`super::LettreNotifier`]
//! wrote (`<millis>-<uuid>.eml` email, `<millis>-<random>.sms.txt` SMS),
//! for tests and the demo.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use base64::Engine as _;

/// One message found in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    /// Its file.
    pub path: PathBuf,
    /// The recipient's address or number (without a display name).
    pub to: String,
    /// The subject line as written (non-ASCII subjects stay RFC 2047 encoded).
    pub subject: String,
    /// The body text, decoded, with `\n` line ends.
    pub body: String,
    /// When the file was written.
    pub modified: SystemTime,
}

/// Every message in `dir`, oldest first. Unreadable files are skipped.
pub fn messages(dir: &Path) -> Vec<OutboxMessage> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<OutboxMessage> = entries
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            !name.starts_with('.') && (name.ends_with(".eml") || name.ends_with(".sms.txt"))
        })
        .filter_map(|e| read(&e.path()))
        .collect();
    found.sort_by_cached_key(|m| (order(m), m.modified, m.path.clone()));
    found
}

/// Milliseconds since 1970: the notifier's names start with them (and
/// strictly increase, where modification times are coarser); for other
/// files, the modification time.
fn order(message: &OutboxMessage) -> u128 {
    let stamp = message
        .path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.split_once('-'))
        .and_then(|(digits, _)| digits.parse::<u128>().ok());
    stamp.unwrap_or_else(|| {
        message
            .modified
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0)
    })
}

/// The messages in `dir` to `to` (compared ignoring case), oldest first.
pub fn messages_to(dir: &Path, to: &str) -> Vec<OutboxMessage> {
    let to = to.trim().to_lowercase();
    messages(dir)
        .into_iter()
        .filter(|m| m.to.to_lowercase() == to)
        .collect()
}

/// The body of the newest message in `dir` to `to`.
pub fn latest_to(dir: impl AsRef<Path>, to: &str) -> Option<String> {
    messages_to(dir.as_ref(), to).pop().map(|m| m.body)
}

/// The value of a `name: value` line in a body (`code`, `token`).
pub fn field(body: &str, name: &str) -> Option<String> {
    body.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == name).then(|| value.trim().to_owned())
    })
}

/// Reads one message file.
pub fn read(path: &Path) -> Option<OutboxMessage> {
    let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok()?;
    let raw = std::fs::read_to_string(path).ok()?.replace("\r\n", "\n");
    let (head, body) = raw.split_once("\n\n").unwrap_or((raw.as_str(), ""));
    // Unfold continued header lines.
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_lowercase(), value.trim().to_owned()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let to = header("to")?;
    let to = match (to.rfind('<'), to.rfind('>')) {
        (Some(open), Some(close)) if open < close => to[open + 1..close].to_owned(),
        _ => to,
    };
    let encoding = header("content-transfer-encoding")
        .unwrap_or_default()
        .to_lowercase();
    let body = match encoding.as_str() {
        "base64" => {
            let compact: String = body.split_whitespace().collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(compact)
                .ok()?;
            String::from_utf8_lossy(&bytes).replace("\r\n", "\n")
        }
        "quoted-printable" => {
            let bytes =
                quoted_printable::decode(body.as_bytes(), quoted_printable::ParseMode::Robust)
                    .ok()?;
            String::from_utf8_lossy(&bytes).replace("\r\n", "\n")
        }
        _ => body.to_owned(),
    };
    Some(OutboxMessage {
        path: path.to_owned(),
        to: to.trim().to_owned(),
        subject: header("subject").unwrap_or_default(),
        body,
        modified,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
        // Distinct modification times, in order of writing.
        std::thread::sleep(std::time::Duration::from_millis(15));
    }

    #[test]
    fn the_newest_message_to_an_address_wins() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "b.eml",
            "From: Shiyun <no-reply@shiyun.localhost>\r\nTo: \"Li Lei\"\r\n <li@example.com>\r\nSubject: first\r\nContent-Transfer-Encoding: 7bit\r\n\r\ncode: 111111\r\n",
        );
        write(
            dir.path(),
            "a.eml",
            "To: han@example.com\r\nSubject: other\r\n\r\ncode: 222222\r\n",
        );
        write(
            dir.path(),
            "c.eml",
            "To: li@example.com\r\nSubject: =?utf-8?b?5L2g5aW9?=\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=E4=BD=A0=E5=A5=BD\r\ntoken: syp_abc=\r\ndef\r\n",
        );
        write(
            dir.path(),
            "ignored.txt",
            "To: li@example.com\n\ncode: 333333\n",
        );
        write(
            dir.path(),
            ".x.sms.txt.part",
            "To: li@example.com\n\ncode: 444444\n",
        );

        let all = messages(dir.path());
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].to, "li@example.com");
        assert_eq!(all[0].subject, "first");

        let latest = latest_to(dir.path(), "LI@example.com").unwrap();
        assert!(latest.starts_with("你好\n"), "{latest:?}");
        assert_eq!(field(&latest, "token").as_deref(), Some("syp_abcdef"));
        assert_eq!(messages_to(dir.path(), "li@example.com").len(), 2);
        assert_eq!(
            field(&latest_to(dir.path(), "han@example.com").unwrap(), "code").as_deref(),
            Some("222222")
        );
        assert_eq!(latest_to(dir.path(), "nobody@example.com"), None);
        assert_eq!(
            latest_to(dir.path().join("missing"), "li@example.com"),
            None
        );
    }

    #[test]
    fn time_stamped_names_order_messages_written_within_one_tick() {
        let dir = tempfile::tempdir().unwrap();
        // Written in reverse, at once: the names, not the times, decide.
        std::fs::write(
            dir.path().join("1700000000002-b.sms.txt"),
            "To: +861\n\ncode: 2\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("1700000000001-a.eml"),
            "To: +861\n\ncode: 1\n",
        )
        .unwrap();
        let latest = latest_to(dir.path(), "+861").unwrap();
        assert_eq!(field(&latest, "code").as_deref(), Some("2"));
    }

    #[test]
    fn base64_bodies_are_decoded() {
        let dir = tempfile::tempdir().unwrap();
        let body = base64::engine::general_purpose::STANDARD.encode("code: 987654\r\n");
        write(
            dir.path(),
            "m.eml",
            &format!("To: a@example.com\r\nContent-Transfer-Encoding: base64\r\n\r\n{body}\r\n"),
        );
        let latest = latest_to(dir.path(), "a@example.com").unwrap();
        assert_eq!(field(&latest, "code").as_deref(), Some("987654"));
    }
}
