//! Presence: a Gmail vacation responder that is on, with `now` inside
//! `[startTime, endTime)`, makes the user out of office.

use serde::Serialize;

use crate::google::{Google, GoogleError};

/// A user's presence as the API and the stream show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Presence {
    pub user: String,
    pub out_of_office: bool,
    /// RFC 3339, when the responder has bounds.
    pub since: Option<String>,
    pub until: Option<String>,
    /// The responder's subject.
    pub message: Option<String>,
}

fn rfc3339(ms: Option<&str>) -> Option<String> {
    let ms: i64 = ms?.parse().ok()?;
    jiff::Timestamp::from_millisecond(ms)
        .ok()
        .map(|t| t.to_string())
}

/// Read `user`'s vacation responder and say whether they are away at `now_ms`.
pub async fn presence(google: &Google, user: &str, now_ms: i64) -> Result<Presence, GoogleError> {
    let vacation = google.vacation(user).await?;
    let away = vacation.active_at(now_ms);
    Ok(Presence {
        user: user.to_string(),
        out_of_office: away,
        since: away
            .then(|| rfc3339(vacation.start_time.as_deref()))
            .flatten(),
        until: away
            .then(|| rfc3339(vacation.end_time.as_deref()))
            .flatten(),
        message: away.then_some(vacation.response_subject).flatten(),
    })
}
