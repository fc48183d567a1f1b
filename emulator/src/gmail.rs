//! Gmail `users.settings.getVacation` / `updateVacation`: the vacation
//! responder hcal turns into out-of-office presence.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State as AxumState};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::Shared;
use crate::auth::Need;
use crate::errors::ApiError;
use crate::events::Changed;
use crate::server::call;

/// The fields Gmail's `VacationSettings` has; others are refused.
const FIELDS: [&str; 8] = [
    "enableAutoReply",
    "responseSubject",
    "responseBodyPlainText",
    "responseBodyHtml",
    "restrictToContacts",
    "restrictToDomain",
    "startTime",
    "endTime",
];

/// `me` or the token's own address; Gmail refuses anyone else's mailbox.
fn mailbox(user_id: &str, user: &str) -> Result<String, ApiError> {
    if user_id == "me" || user_id.eq_ignore_ascii_case(user) {
        Ok(user.to_string())
    } else {
        Err(ApiError::forbidden(format!("Delegation denied for {user}")))
    }
}

pub async fn get_vacation(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(user_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    call(&shared, &headers, Need::GmailSettingsRead, |state, user| {
        let mailbox = mailbox(&user_id, user)?;
        let settings = state.users.get(&mailbox).ok_or_else(ApiError::not_found)?;
        Ok((
            Json(settings.vacation.clone()).into_response(),
            Changed::new(),
        ))
    })
}

pub async fn update_vacation(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(user_id): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    call(
        &shared,
        &headers,
        Need::GmailSettingsWrite,
        |state, user| {
            let mailbox = mailbox(&user_id, user)?;
            let settings: Value = serde_json::from_str(&body)
                .map_err(|e| ApiError::new(400, "parseError", format!("Parse Error: {e}")))?;
            let Some(object) = settings.as_object() else {
                return Err(ApiError::new(
                    400,
                    "parseError",
                    "Parse Error: expected a JSON object.",
                ));
            };
            if let Some(unknown) = object.keys().find(|k| !FIELDS.contains(&k.as_str())) {
                return Err(ApiError::invalid(format!(
                    "Invalid JSON payload received. Unknown name \"{unknown}\""
                )));
            }
            for key in ["startTime", "endTime"] {
                if let Some(value) = object.get(key)
                    && value.as_str().is_none_or(|s| s.parse::<i64>().is_err())
                {
                    return Err(ApiError::invalid(format!(
                        "Invalid value at '{key}': epoch milliseconds as a string."
                    )));
                }
            }
            let stored = state
                .users
                .get_mut(&mailbox)
                .ok_or_else(ApiError::not_found)?;
            stored.vacation = settings.clone();
            Ok((Json(settings).into_response(), Changed::new()))
        },
    )
}
