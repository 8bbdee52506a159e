//! The lettre notifier: a queue drained by one background thread.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lettre::message::header::ContentType;
use lettre::message::{Body, Mailbox};
use lettre::transport::smtp::SmtpTransport;
use lettre::{FileTransport, Message, Transport};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use shiyun_core::tenancy::Channel;

use crate::mail::{Notice, Notifier};

/// Where and how notices go.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailSettings {
    /// Folder for `.eml` files (without SMTP) and `.sms.txt` files (always).
    pub outbox_dir: PathBuf,
    /// `smtp://user:pass@host:587?tls=required` or `smtps://…`: send email
    /// by SMTP instead of writing it to the outbox.
    pub smtp_url: Option<SecretString>,
    /// The sender, `Name <address>`.
    pub from: String,
}

impl Default for MailSettings {
    fn default() -> Self {
        MailSettings {
            outbox_dir: PathBuf::from("data/outbox"),
            smtp_url: None,
            from: "Shiyun <no-reply@shiyun.localhost>".to_owned(),
        }
    }
}

/// The notifier could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The outbox folder cannot be created.
    #[error("outbox folder {path}: {source}")]
    Outbox {
        /// The folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The sender address does not parse.
    #[error("mail sender `{0}` is not an address")]
    From(String),
    /// The SMTP URL does not parse (the URL itself is not repeated: it may
    /// hold a password).
    #[error("mail SMTP URL: {0}")]
    Smtp(String),
    /// The sending thread could not start.
    #[error("mail thread: {0}")]
    Thread(std::io::Error),
}

enum Job {
    Send(Notice),
    Flush(mpsc::Sender<()>),
}

enum EmailTransport {
    /// lettre writes `<uuid>.eml` into the staging folder; the worker then
    /// moves it into the outbox under a name that sorts by time.
    File {
        transport: FileTransport,
        staging: PathBuf,
    },
    Smtp(Box<SmtpTransport>),
}

/// Where lettre writes a message before it is moved into the outbox, so a
/// reader never sees half a file.
const STAGING: &str = ".sending";

struct Worker {
    outbox: PathBuf,
    from: Mailbox,
    email: EmailTransport,
    /// The last time stamp given to a file name: names strictly increase,
    /// so the newest message is the last name even within one millisecond
    /// (file modification times are coarser than that).
    last_millis: u128,
}

/// A [`Notifier`] that hands notices to a background thread, which writes
/// email with lettre (outbox files or SMTP) and SMS as text files. A
/// request never waits on delivery; a failed delivery is logged.
#[derive(Debug)]
pub struct LettreNotifier {
    queue: mpsc::Sender<Job>,
    outbox: PathBuf,
}

impl LettreNotifier {
    /// Starts the sending thread with these settings (creating the outbox folder).
    pub fn new(settings: &MailSettings) -> Result<Self, MailError> {
        let outbox = settings.outbox_dir.clone();
        std::fs::create_dir_all(&outbox).map_err(|source| MailError::Outbox {
            path: outbox.clone(),
            source,
        })?;
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|_| MailError::From(settings.from.clone()))?;
        let email = match &settings.smtp_url {
            Some(url) => EmailTransport::Smtp(Box::new(
                SmtpTransport::from_url(url.expose_secret())
                    .map_err(|e| MailError::Smtp(e.to_string()))?
                    .build(),
            )),
            None => {
                let staging = outbox.join(STAGING);
                std::fs::create_dir_all(&staging).map_err(|source| MailError::Outbox {
                    path: staging.clone(),
                    source,
                })?;
                EmailTransport::File {
                    transport: FileTransport::new(&staging),
                    staging,
                }
            }
        };
        let worker = Worker {
            outbox: outbox.clone(),
            from,
            email,
            last_millis: 0,
        };
        let (queue, jobs) = mpsc::channel();
        std::thread::Builder::new()
            .name("shiyun-mail".into())
            .spawn(move || worker.run(jobs))
            .map_err(MailError::Thread)?;
        Ok(LettreNotifier { queue, outbox })
    }

    /// The same as [`LettreNotifier::new`].
    pub fn from_settings(settings: &MailSettings) -> Result<Self, MailError> {
        LettreNotifier::new(settings)
    }

    /// Writes into `dir` (no SMTP), from the default sender.
    pub fn outbox(dir: impl Into<PathBuf>) -> Result<Self, MailError> {
        LettreNotifier::new(&MailSettings {
            outbox_dir: dir.into(),
            ..MailSettings::default()
        })
    }

    /// The outbox folder.
    pub fn outbox_dir(&self) -> &Path {
        &self.outbox
    }

    /// Waits until every notice queued before this call is delivered (or
    /// failed); `false` if that took longer than `timeout`.
    pub fn flush(&self, timeout: Duration) -> bool {
        let (done, wait) = mpsc::channel();
        if self.queue.send(Job::Flush(done)).is_err() {
            return false;
        }
        wait.recv_timeout(timeout).is_ok()
    }
}

impl Notifier for LettreNotifier {
    fn send(&self, notice: Notice) {
        if self.queue.send(Job::Send(notice)).is_err() {
            tracing::error!("the mail thread has stopped; a notice was dropped");
        }
    }
}

impl Worker {
    fn run(mut self, jobs: mpsc::Receiver<Job>) {
        // Ends when every sender (the notifier) is dropped and the queue is drained.
        for job in jobs {
            match job {
                Job::Send(notice) => {
                    let result = match notice.channel {
                        Channel::Email => self.email(&notice),
                        Channel::Phone => self.sms(&notice),
                    };
                    match result {
                        Ok(()) => tracing::debug!(channel = ?notice.channel, "notice delivered"),
                        Err(error) => {
                            tracing::warn!(channel = ?notice.channel, %error, "notice not delivered")
                        }
                    }
                }
                Job::Flush(done) => {
                    let _ = done.send(());
                }
            }
        }
    }

    /// Milliseconds since 1970 for the next file name, later than the last.
    fn stamp(&mut self) -> u128 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        self.last_millis = now.max(self.last_millis + 1);
        self.last_millis
    }

    fn email(&mut self, notice: &Notice) -> Result<(), String> {
        let to: Mailbox = notice
            .to
            .parse()
            .map_err(|e| format!("recipient is not an address: {e}"))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(notice.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(readable_body(&notice.body))
            .map_err(|e| format!("building the message: {e}"))?;
        let written = match &self.email {
            EmailTransport::Smtp(t) => {
                return t.send(&message).map(|_| ()).map_err(|e| e.to_string());
            }
            EmailTransport::File { transport, staging } => {
                let id = transport.send(&message).map_err(|e| e.to_string())?;
                staging.join(format!("{id}.eml"))
            }
        };
        let name = format!("{}-{}", self.stamp(), file_name(&written));
        std::fs::rename(&written, self.outbox.join(name)).map_err(|e| e.to_string())
    }

    /// `<millis>-<random>.sms.txt` with `To:` and `Subject:` lines, a blank
    /// line and the text; written under a temporary name, then renamed, so
    /// a reader never sees half a file.
    fn sms(&mut self, notice: &Notice) -> Result<(), String> {
        let millis = self.stamp();
        let random: [u8; 4] = crate::tokens::random_bytes().map_err(|e| e.to_string())?;
        let name = format!("{millis}-{}.sms.txt", hex::encode(random));
        let text = format!(
            "To: {}\nSubject: {}\n\n{}\n",
            notice.to.trim(),
            notice.subject.replace(['\r', '\n'], " "),
            notice.body
        );
        let partial = self.outbox.join(format!(".{name}.part"));
        std::fs::write(&partial, text).map_err(|e| e.to_string())?;
        std::fs::rename(&partial, self.outbox.join(name)).map_err(|e| e.to_string())
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A body whose codes and tokens stay verbatim in the file: 7bit for
/// ASCII, 8bit (raw UTF-8) otherwise, rather than base64 or quoted-printable.
fn readable_body(text: &str) -> Body {
    if text.is_ascii() && text.lines().all(|l| l.len() <= 76) {
        return Body::new(text.to_owned());
    }
    Body::new_with_encoding(
        text.to_owned(),
        lettre::message::header::ContentTransferEncoding::EightBit,
    )
    .unwrap_or_else(Body::new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::outbox;

    #[test]
    fn email_and_sms_land_in_the_outbox_verbatim() {
        let dir = tempfile::tempdir().unwrap();
        let notifier = LettreNotifier::outbox(dir.path()).unwrap();
        notifier.send(Notice {
            channel: Channel::Email,
            to: "li.lei@example.com".into(),
            subject: "Your code".into(),
            body: "Your code is below.\n\ncode: 012345\n".into(),
        });
        let token = format!("syp_{}", "A-b_".repeat(10) + "xyz");
        notifier.send(Notice {
            channel: Channel::Email,
            to: "li.lei@example.com".into(),
            subject: "重置密码".into(),
            body: format!("企业「云栖」邀请你加入。\n\ntoken: {token}\n"),
        });
        notifier.send(Notice {
            channel: Channel::Phone,
            to: "+8613800138000".into(),
            subject: "Shiyun code".into(),
            body: "code: 654321".into(),
        });
        assert!(notifier.flush(Duration::from_secs(10)));

        let eml: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n != STAGING)
            .collect();
        // Nothing is left half-written in the staging folder.
        assert_eq!(
            std::fs::read_dir(dir.path().join(STAGING)).unwrap().count(),
            0
        );
        // Names start with strictly increasing milliseconds.
        let mut stamps: Vec<u128> = eml
            .iter()
            .map(|n| n.split_once('-').unwrap().0.parse().unwrap())
            .collect();
        stamps.sort_unstable();
        stamps.dedup();
        assert_eq!(stamps.len(), 3, "{eml:?}");
        assert_eq!(
            eml.iter().filter(|n| n.ends_with(".eml")).count(),
            2,
            "{eml:?}"
        );
        let sms: Vec<_> = eml.iter().filter(|n| n.ends_with(".sms.txt")).collect();
        assert_eq!(sms.len(), 1, "{eml:?}");
        let (millis, rest) = sms[0].split_once('-').unwrap();
        assert!(millis.parse::<u128>().is_ok() && rest.len() == "01234567.sms.txt".len());

        // The raw files carry the secrets as plain lines.
        let raw: String = eml
            .iter()
            .map(|n| std::fs::read_to_string(dir.path().join(n)).unwrap())
            .collect();
        assert!(raw.contains("code: 012345"));
        assert!(raw.contains(&format!("token: {token}")));
        assert!(raw.contains("code: 654321"));

        let latest = outbox::latest_to(dir.path(), "LI.LEI@example.com").unwrap();
        assert!(latest.contains("企业「云栖」邀请你加入。"), "{latest}");
        assert_eq!(
            outbox::field(&latest, "token").as_deref(),
            Some(token.as_str())
        );
        let sms = outbox::latest_to(dir.path(), "+8613800138000").unwrap();
        assert_eq!(outbox::field(&sms, "code").as_deref(), Some("654321"));
        assert_eq!(outbox::latest_to(dir.path(), "nobody@example.com"), None);
    }

    #[test]
    fn bad_settings_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let bad_from = MailSettings {
            outbox_dir: dir.path().into(),
            from: "not an address".into(),
            smtp_url: None,
        };
        assert!(matches!(
            LettreNotifier::new(&bad_from),
            Err(MailError::From(_))
        ));
        let bad_url = MailSettings {
            outbox_dir: dir.path().into(),
            smtp_url: Some("ftp://user:secret@host".into()),
            ..MailSettings::default()
        };
        let err = LettreNotifier::new(&bad_url).unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
        for url in [
            "smtp://127.0.0.1:2525",
            "smtps://u:p@127.0.0.1:2465",
            "smtp://127.0.0.1?tls=required",
        ] {
            let smtp = MailSettings {
                outbox_dir: dir.path().into(),
                smtp_url: Some(url.into()),
                ..MailSettings::default()
            };
            assert!(LettreNotifier::new(&smtp).is_ok(), "{url}");
        }
    }

    /// A one-connection SMTP server on loopback that keeps what it is sent.
    fn smtp_server() -> (u16, std::thread::JoinHandle<String>) {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut out = stream.try_clone().unwrap();
            let mut lines = BufReader::new(stream);
            let mut said = String::new();
            out.write_all(b"220 loopback ESMTP\r\n").unwrap();
            let mut in_data = false;
            loop {
                let mut line = String::new();
                if lines.read_line(&mut line).unwrap() == 0 {
                    break;
                }
                said.push_str(&line);
                let command = line.trim_end().to_ascii_uppercase();
                let reply: &[u8] = if in_data {
                    if command == "." {
                        in_data = false;
                        b"250 queued\r\n"
                    } else {
                        continue;
                    }
                } else if command.starts_with("EHLO") {
                    b"250-loopback\r\n250 8BITMIME\r\n"
                } else if command == "DATA" {
                    in_data = true;
                    b"354 go on\r\n"
                } else if command == "QUIT" {
                    out.write_all(b"221 bye\r\n").unwrap();
                    break;
                } else {
                    b"250 ok\r\n"
                };
                out.write_all(reply).unwrap();
            }
            said
        });
        (port, handle)
    }

    #[test]
    fn email_goes_by_smtp_when_a_url_is_set_and_sms_still_to_the_outbox() {
        let (port, server) = smtp_server();
        let dir = tempfile::tempdir().unwrap();
        let notifier = LettreNotifier::new(&MailSettings {
            outbox_dir: dir.path().into(),
            smtp_url: Some(format!("smtp://127.0.0.1:{port}").into()),
            ..MailSettings::default()
        })
        .unwrap();
        notifier.send(Notice {
            channel: Channel::Email,
            to: "han.meimei@example.com".into(),
            subject: "Your code".into(),
            body: "code: 246810\n".into(),
        });
        notifier.send(Notice {
            channel: Channel::Phone,
            to: "+8613900139000".into(),
            subject: "Your code".into(),
            body: "code: 135791\n".into(),
        });
        assert!(notifier.flush(Duration::from_secs(20)));
        drop(notifier);
        let said = server.join().unwrap();
        assert!(said.contains("RCPT TO:<han.meimei@example.com>"), "{said}");
        assert!(said.contains("code: 246810"), "{said}");
        // No .eml in the outbox: the mail went by SMTP; the SMS is there.
        assert_eq!(
            outbox::latest_to(dir.path(), "han.meimei@example.com"),
            None
        );
        let sms = outbox::latest_to(dir.path(), "+8613900139000").unwrap();
        assert_eq!(outbox::field(&sms, "code").as_deref(), Some("135791"));
    }
}
