//! Messages to people: confirmation codes, reset links, invitations.

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
