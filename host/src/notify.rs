//! Push notifications from Google: one `events.watch` channel per activated
//! user, renewed before it expires (Google never renews channels), stopped
//! on deactivation; and the check every notification must pass before it
//! triggers a sync: a known channel id, its token, its resource id, not
//! expired. The token is random per channel and only its SHA-256 is stored.

use ring::rand::{SecureRandom, SystemRandom};

use crate::google::calendar::WatchRequest;
use crate::google::{Google, GoogleError};
use crate::store::{Store, StoreError, StoredChannel, sha256_hex};
use crate::sync::CALENDAR;

/// Channels are renewed when they have less than this left (seconds).
pub const RENEW_MARGIN: i64 = 3600;
/// How long hcal asks a channel to live (Google may shorten it).
pub const CHANNEL_LIFETIME: i64 = 7 * 24 * 3600;

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Google(#[from] GoogleError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the system random generator failed")]
    Random,
}

/// Why a notification was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    MissingHeaders,
    UnknownChannel,
    WrongToken,
    WrongResource,
    Expired,
    /// A message number not above the highest seen on the channel: a
    /// replay, or a number going backwards (a late duplicate).
    Stale,
}

impl Rejection {
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::MissingHeaders => "missing headers",
            Rejection::UnknownChannel => "unknown channel",
            Rejection::WrongToken => "wrong token",
            Rejection::WrongResource => "wrong resource id",
            Rejection::Expired => "expired channel",
            Rejection::Stale => "message number not advancing",
        }
    }
}

/// A notification that passed the checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub user: String,
    /// `sync`, `exists` or `not_exists`.
    pub state: String,
    pub message_number: i64,
}

fn random_hex(bytes: usize) -> Result<String, NotifyError> {
    let mut buffer = vec![0u8; bytes];
    SystemRandom::new()
        .fill(&mut buffer)
        .map_err(|_| NotifyError::Random)?;
    Ok(buffer.iter().map(|b| format!("{b:02x}")).collect())
}

/// Make sure `user` has a live channel to `address`; renew one about to
/// expire (the old one is stopped after the new one works). Returns the
/// live channel.
pub async fn ensure_channel<S: Store + ?Sized>(
    google: &Google,
    store: &S,
    user: &str,
    address: &str,
    now: i64,
) -> Result<StoredChannel, NotifyError> {
    let existing = store.channels(Some(user))?;
    if let Some(live) = existing
        .iter()
        .find(|c| c.expires_at.is_none_or(|at| at > now + RENEW_MARGIN))
    {
        return Ok(live.clone());
    }
    let token = random_hex(32)?;
    let request = WatchRequest {
        channel_id: format!("hcal-{}", random_hex(16)?),
        address: address.to_string(),
        token: Some(token.clone()),
        expiration_ms: Some((now + CHANNEL_LIFETIME) * 1000),
    };
    let channel = google.watch(user, CALENDAR, &request).await?;
    let stored = StoredChannel {
        id: channel.id,
        email: user.to_ascii_lowercase(),
        resource_id: channel.resource_id,
        token_sha256: sha256_hex(&token),
        expires_at: channel
            .expiration
            .and_then(|ms| ms.parse::<i64>().ok())
            .map(|ms| ms / 1000),
    };
    store.put_channel(&stored)?;
    for old in existing {
        stop(google, store, &old).await;
    }
    Ok(stored)
}

/// Stop a channel at Google (gone already is fine) and forget it.
async fn stop<S: Store + ?Sized>(google: &Google, store: &S, channel: &StoredChannel) {
    // A channel Google no longer knows is as good as stopped.
    let _ = google
        .stop_channel(&channel.email, &channel.id, &channel.resource_id)
        .await;
    let _ = store.delete_channel(&channel.id);
}

/// Stop every channel of `user` (deactivation).
pub async fn stop_channels<S: Store + ?Sized>(
    google: &Google,
    store: &S,
    user: &str,
) -> Result<usize, StoreError> {
    let channels = store.channels(Some(user))?;
    for channel in &channels {
        stop(google, store, channel).await;
    }
    Ok(channels.len())
}

/// Check a notification's headers (`header(name)` reads one) against the
/// stored channels, and keep the highest message number per channel: Google
/// numbers a channel's notifications upwards (1 is `sync`), so one whose
/// number does not advance is a replay or a late duplicate, and the sync
/// the higher one asked for covers it.
pub fn verify<S: Store + ?Sized>(
    store: &S,
    header: impl Fn(&str) -> Option<String>,
    now: i64,
) -> Result<Result<Notification, Rejection>, StoreError> {
    let (Some(id), Some(state), Some(number)) = (
        header("x-goog-channel-id"),
        header("x-goog-resource-state"),
        header("x-goog-message-number").and_then(|n| n.parse::<i64>().ok()),
    ) else {
        return Ok(Err(Rejection::MissingHeaders));
    };
    let Some(channel) = store.channel(&id)? else {
        return Ok(Err(Rejection::UnknownChannel));
    };
    let token = header("x-goog-channel-token").unwrap_or_default();
    // Both sides are hashes of the same length: comparing them leaks nothing useful.
    if sha256_hex(&token) != channel.token_sha256 {
        return Ok(Err(Rejection::WrongToken));
    }
    if header("x-goog-resource-id").as_deref() != Some(channel.resource_id.as_str()) {
        return Ok(Err(Rejection::WrongResource));
    }
    if channel.expires_at.is_some_and(|at| at <= now) {
        return Ok(Err(Rejection::Expired));
    }
    if !store.advance_channel(&id, number)? {
        return Ok(Err(Rejection::Stale));
    }
    Ok(Ok(Notification {
        user: channel.email,
        state,
        message_number: number,
    }))
}
