//! Users: adding, activating (PRODUCT.md's checks), retrying those in error
//! with backoff, deactivating (data purged). Only activated users are ever
//! synced or enriched.
//!
//! Activation checks, in order, with the reason a failure is recorded under:
//! a token for the user (`no such Google user`, `delegation not granted`),
//! `settings.get` (`calendar unreachable`), and a test event created and
//! deleted in their calendar (`calendar unreachable`).

use serde_json::json;

use crate::google::{Google, GoogleError};
use crate::store::{Store, StoreError, User, UserState};

/// A plain `local@domain` address as Google Workspace has them: ASCII
/// letters, digits and `. _ + - '` before the `@` (no dot first, last or
/// twice), a domain of dot-separated labels. No spaces, controls or markup:
/// an address is written into logs, pages and SQL parameters.
///
/// ```
/// use hcal::users::is_address;
/// assert!(is_address("o'brien+cal@mail.example.com"));
/// assert!(!is_address("ceo@example.com\n... info join button delivered"));
/// assert!(!is_address("a\0@example.com"));
/// assert!(!is_address("a..b@example.com"));
/// ```
pub fn is_address(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    let local_fine = |c: char| c.is_ascii_alphanumeric() || "._+-'".contains(c);
    let label_fine = |label: &str| {
        (1..=63).contains(&label.len())
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    (1..=64).contains(&local.len())
        && text.len() <= 254
        && local.chars().all(local_fine)
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && domain.contains('.')
        && domain.split('.').all(label_fine)
}

/// Seconds before retrying a user in error: 1 minute, doubling, at most 6 hours.
pub fn retry_delay(attempts: u32) -> i64 {
    let exponent = attempts.saturating_sub(1).min(20);
    (60i64 << exponent).min(6 * 3600)
}

/// Why activation failed, in an admin's words.
fn reason(google: &Google, error: &GoogleError) -> String {
    match error {
        GoogleError::Auth {
            error, description, ..
        } if error == "unauthorized_client" => format!(
            "delegation not granted: in the Google Admin console (Security > API controls > Domain-wide delegation), allow {} ({description})",
            google.delegation()
        ),
        GoogleError::Auth { description, .. } if description.contains("Invalid email") => {
            "no such Google user in the domain".to_string()
        }
        GoogleError::Auth {
            error, description, ..
        } => format!("no token: {error}: {description}"),
        other => format!("calendar unreachable: {other}"),
    }
}

/// Run the activation checks for `email` (added if new) and record the outcome.
pub async fn activate<S: Store + ?Sized>(
    store: &S,
    google: &Google,
    email: &str,
) -> Result<User, StoreError> {
    let user = store.add_user(email)?;
    let email = user.email.clone();
    match check(google, &email).await {
        Ok(()) => {
            tracing::info!(user = %email, "activated");
            store.set_user_state(&email, UserState::Activated, None, None)
        }
        Err(why) => {
            tracing::warn!(user = %email, reason = %why, "activation failed; retried with backoff");
            let next = jiff::Timestamp::now().as_second() + retry_delay(user.attempts + 1);
            store.set_user_state(&email, UserState::Error, Some(&why), Some(next))
        }
    }
}

async fn check(google: &Google, email: &str) -> Result<(), String> {
    google.token(email).await.map_err(|e| reason(google, &e))?;
    google
        .setting(email, "timezone")
        .await
        .map_err(|e| reason(google, &e))?;
    let now = jiff::Timestamp::now();
    let start = now + jiff::SignedDuration::from_hours(24 * 365);
    let end = start + jiff::SignedDuration::from_mins(15);
    let probe = json!({
        "summary": "hcal connection test",
        "description": "Created and deleted by hcal when activating this user.",
        "transparency": "transparent",
        "start": { "dateTime": start.to_string() },
        "end": { "dateTime": end.to_string() },
    });
    let created = google
        .insert_event(email, "primary", &probe)
        .await
        .map_err(|e| format!("{} (creating a test event)", reason(google, &e)))?;
    let id = created["id"].as_str().unwrap_or_default();
    google
        .delete_event(email, "primary", id, None)
        .await
        .map_err(|e| format!("{} (deleting the test event {id})", reason(google, &e)))?;
    Ok(())
}

/// Activate again every user in error whose retry time has come; returns them.
pub async fn retry_due<S: Store + ?Sized>(
    store: &S,
    google: &Google,
    now: i64,
) -> Result<Vec<User>, StoreError> {
    let mut retried = Vec::new();
    for user in store.users()? {
        if user.state == UserState::Error && user.next_attempt_at.is_none_or(|at| at <= now) {
            retried.push(activate(store, google, &user.email).await?);
        }
    }
    Ok(retried)
}

/// Deactivate: stored data purged, the user kept as `deactivated`.
pub fn deactivate<S: Store + ?Sized>(store: &S, email: &str) -> Result<User, StoreError> {
    if store.user(email)?.is_none() {
        return Err(StoreError::NoUser(email.to_string()));
    }
    store.purge_user_data(email)?;
    store.set_user_state(email, UserState::Deactivated, None, None)
}
