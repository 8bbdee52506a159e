//! Messages to people: confirmation codes, reset tokens, invitations.
//!
//! [`LettreNotifier`] delivers them from a background thread: email through
//! lettre (`.eml` files in an outbox folder by default, SMTP when a URL is
//! set), SMS as text files in the same folder. [`outbox`] reads that folder
//! back, for tests and the demo.

mod delivery;
pub mod outbox;

pub use delivery::{LettreNotifier, MailError, MailSettings};

use shiyun_core::tenancy::Channel;

/// One message to one address or number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// Email or SMS.
    pub channel: Channel,
    /// The address or number.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
}

/// Sends notices. Implementations must not block the caller on delivery
/// (a queue, a background sender), so a request that sends mail takes as
/// long as one that does not.
pub trait Notifier: Send + Sync {
    /// Queues a notice.
    fn send(&self, notice: Notice);
}
