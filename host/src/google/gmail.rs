//! Gmail settings: the vacation responder (out-of-office presence).

use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::request::{Api, ApiRequest};
use super::{Google, GoogleError};

/// Gmail's `VacationSettings` (times are epoch milliseconds as strings).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VacationSettings {
    #[serde(default)]
    pub enable_auto_reply: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_body_plain_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_body_html: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restrict_to_contacts: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restrict_to_domain: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
}

impl VacationSettings {
    /// Is the responder on at `now_ms` (Unix milliseconds)? Outside
    /// `startTime`..`endTime` it is not, even when enabled.
    pub fn active_at(&self, now_ms: i64) -> bool {
        let bound = |t: &Option<String>| t.as_deref().and_then(|t| t.parse::<i64>().ok());
        self.enable_auto_reply
            && bound(&self.start_time).is_none_or(|start| now_ms >= start)
            && bound(&self.end_time).is_none_or(|end| now_ms < end)
    }
}

pub fn vacation_request(user: &str) -> ApiRequest {
    ApiRequest::new(
        "gmail.users.settings.getVacation",
        Api::Gmail,
        Method::GET,
        &["users", user, "settings", "vacation"],
    )
}

pub fn update_vacation_request(user: &str, settings: &VacationSettings) -> ApiRequest {
    let body = serde_json::to_value(settings).unwrap_or_default();
    ApiRequest::new(
        "gmail.users.settings.updateVacation",
        Api::Gmail,
        Method::PUT,
        &["users", user, "settings", "vacation"],
    )
    .body(body)
}

impl Google {
    /// The user's vacation responder.
    pub async fn vacation(&self, user: &str) -> Result<VacationSettings, GoogleError> {
        self.execute_json(user, &vacation_request(user)).await
    }

    /// Replace the user's vacation responder (tests and the demo; needs
    /// `gmail.settings.basic`).
    pub async fn set_vacation(
        &self,
        user: &str,
        settings: &VacationSettings,
    ) -> Result<VacationSettings, GoogleError> {
        self.execute_json(user, &update_vacation_request(user, settings))
            .await
    }
}
