//! The texts of the notices the user centre sends. Secrets stand on their
//! own ASCII lines (`code: 123456`, `token: syp_…`) so people and scripts
//! can find them.

use chrono::{DateTime, Duration, Utc};
use shiyun_core::tenancy::{Channel, LoginIdentifier};

use crate::mail::Notice;

fn minutes(d: Duration) -> i64 {
    d.num_minutes().max(1)
}

fn to(login: &LoginIdentifier) -> (Channel, String) {
    (login.channel(), login.as_str().to_owned())
}

/// The code that confirms an address or number (after registering, or
/// for a security binding).
pub fn confirmation_code(channel: Channel, target: &str, code: &str, ttl: Duration) -> Notice {
    Notice {
        channel,
        to: target.to_owned(),
        subject: "Your Shiyun confirmation code".to_owned(),
        body: format!(
            "Use this code to confirm this {what} for your Shiyun account.\n\
             It works once and expires in {m} minutes.\n\
             \n\
             code: {code}\n\
             \n\
             If you did not ask for it, ignore this message.\n",
            what = match channel {
                Channel::Email => "address",
                Channel::Phone => "number",
            },
            m = minutes(ttl),
        ),
    }
}

/// Someone registered with a login that already has an account.
pub fn already_registered(login: &LoginIdentifier) -> Notice {
    let (channel, to) = to(login);
    Notice {
        channel,
        to,
        subject: "Someone tried to register with your Shiyun login".to_owned(),
        body: "Someone (perhaps you) tried to register a Shiyun account\n\
               with this login, which already has one. Nothing was changed.\n\
               \n\
               If you forgot your password, ask for a reset on the sign-in page.\n"
            .to_owned(),
    }
}

/// A password reset token.
pub fn password_reset(login: &LoginIdentifier, token: &str, ttl: Duration) -> Notice {
    let (channel, to) = to(login);
    Notice {
        channel,
        to,
        subject: "Reset your Shiyun password".to_owned(),
        body: format!(
            "Someone (perhaps you) asked to reset the password of your Shiyun account.\n\
             Use this token to set a new password.\n\
             It works once and expires in {m} minutes.\n\
             \n\
             token: {token}\n\
             \n\
             If you did not ask for it, ignore this message;\n\
             your password stays as it is.\n",
            m = minutes(ttl),
        ),
    }
}

/// The password of an account was changed or reset.
pub fn password_changed(login: &LoginIdentifier) -> Notice {
    let (channel, to) = to(login);
    Notice {
        channel,
        to,
        subject: "Your Shiyun password was changed".to_owned(),
        body: "The password of your Shiyun account was just changed, and other\n\
               sessions were signed out. If this was not you, reset your password now.\n"
            .to_owned(),
    }
}

/// An invitation to join an enterprise.
pub fn invitation(
    email: &str,
    enterprise: &str,
    template: &str,
    token: &str,
    expires_at: DateTime<Utc>,
) -> Notice {
    Notice {
        channel: Channel::Email,
        to: email.to_owned(),
        subject: "You are invited to an enterprise on Shiyun".to_owned(),
        body: format!(
            "The enterprise \"{enterprise}\" invites you to join it on Shiyun\n\
             as {template}. Sign in with this address (confirm it first),\n\
             then accept with this token:\n\
             \n\
             token: {token}\n\
             expires: {expires}\n",
            expires = expires_at.format("%Y-%m-%dT%H:%M:%SZ"),
        ),
    }
}

/// A debit took a prepaid wallet's balance below the threshold its
/// owner set.
pub fn low_balance(
    channel: Channel,
    target: &str,
    currency: &str,
    balance: &str,
    threshold: &str,
) -> Notice {
    Notice {
        channel,
        to: target.to_owned(),
        subject: format!("Your Shiyun {currency} wallet is running low"),
        body: format!(
            "The balance of your Shiyun {currency} wallet fell below\n\
             the {threshold} {currency} you asked to be told about.\n\
             \n\
             balance: {balance} {currency}\n\
             \n\
             Top it up so prepaid usage keeps running.\n"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Lines of at most 76 ASCII characters go out as 7bit, so a code or
    // token can be read from the outbox file with grep.
    #[test]
    fn notices_in_english_fit_seven_bit_lines() {
        let email = LoginIdentifier::parse("li.lei@example.com").unwrap();
        let token = format!("syp_{}", "A".repeat(43));
        let notices = [
            confirmation_code(
                Channel::Email,
                "li.lei@example.com",
                "123456",
                Duration::minutes(15),
            ),
            already_registered(&email),
            password_reset(&email, &token, Duration::minutes(30)),
            password_changed(&email),
            invitation(
                "li.lei@example.com",
                "Acme Cloud",
                "developer",
                &token,
                Utc::now(),
            ),
            low_balance(Channel::Email, "li.lei@example.com", "CNY", "12.50", "20"),
        ];
        for notice in notices {
            for line in notice.body.lines() {
                assert!(
                    line.is_ascii() && line.len() <= 76,
                    "{line:?} ({})",
                    line.len()
                );
            }
        }
    }
}
