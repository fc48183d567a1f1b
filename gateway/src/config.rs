//! The gateway's configuration: the organisation's options, never the
//! request's.
//!
//! Two environment variables, as every WASI HTTP host can set them
//! (`wasmtime serve --env NAME`, the environment of `jco serve`):
//!
//! - `HCAL_GATEWAY_CONFIG`: JSON, every field optional:
//!   `{"options": {...}, "profiles": [...], "provided": [...], "max_body_bytes": N}`.
//!   `options` is the core's options as `fixtures/core/*/request.json`
//!   writes them (`hcal_core::model::Options`), `profiles` the organizers'
//!   Personal Rooms.
//! - `HCAL_GATEWAY_KEY`: the organisation key that seals the output,
//!   `{"key_url": "kms://...", "key": BASE64}` as `hcal keys` writes a
//!   key file. Without it nothing is sealed.
//!
//! A configuration that cannot be read makes every request answer 500
//! (`configuration`) and writes what to fix to standard error, the host's
//! log; neither ever repeats a value of it (it holds links and a key).

use base64::Engine as _;
use hcal_core::model::{Options, OrgKey, Profile, ProvidedMeeting};
use serde::Deserialize;

pub const CONFIG_VAR: &str = "HCAL_GATEWAY_CONFIG";
pub const KEY_VAR: &str = "HCAL_GATEWAY_KEY";

/// The largest request body by default: 8 MiB, four times Google's largest
/// `events.list` page of 2,500 events with ordinary descriptions.
pub const DEFAULT_MAX_BODY_BYTES: usize = 8 << 20;

/// `HCAL_GATEWAY_CONFIG` as read, and the key of `HCAL_GATEWAY_KEY`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub options: Options,
    pub profiles: Vec<Profile>,
    pub provided: Vec<ProvidedMeeting>,
    /// From its own variable, never from the JSON.
    #[serde(skip)]
    pub key: Option<OrgKey>,
    pub max_body_bytes: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            options: Options::default(),
            profiles: Vec::new(),
            provided: Vec::new(),
            key: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    key_url: String,
    key: String,
}

impl Config {
    /// The configuration of the two variables' values (`None`: not set).
    ///
    /// ```
    /// use hcal_gateway::config::Config;
    /// let config = Config::from_values(Some(r#"{"options": {"lead_time_seconds": 60}}"#), None).unwrap();
    /// assert_eq!(config.options.lead_time_seconds, 60);
    /// let error = Config::from_values(Some(r#"{"option": {}}"#), None).unwrap_err();
    /// assert!(error.starts_with("HCAL_GATEWAY_CONFIG: unknown field `option`"), "{error}");
    /// ```
    pub fn from_values(config: Option<&str>, key: Option<&str>) -> Result<Config, String> {
        let mut out = match config.filter(|t| !t.trim().is_empty()) {
            Some(text) => serde_json::from_str(text)
                .map_err(|e| format!("{CONFIG_VAR}: {}", redact(&e.to_string())))?,
            None => Config::default(),
        };
        if out.max_body_bytes == 0 {
            return Err(format!("{CONFIG_VAR}: max_body_bytes must be at least 1"));
        }
        if let Some(text) = key.filter(|t| !t.trim().is_empty()) {
            // Never the value in a message: it is a key.
            let file: KeyFile = serde_json::from_str(text).map_err(|e| {
                format!(
                    "{KEY_VAR} is not {{\"key_url\", \"key\"}} JSON (line {}, column {})",
                    e.line(),
                    e.column()
                )
            })?;
            let key = base64::engine::general_purpose::STANDARD
                .decode(file.key.trim())
                .map_err(|_| format!("{KEY_VAR}: `key` is not base64"))?;
            // Its length and URL are the core's to judge, in its own words.
            out.key = Some(OrgKey {
                key_url: file.key_url,
                key,
            });
        }
        Ok(out)
    }

    /// The configuration of this process's environment.
    pub fn from_env() -> Result<Config, String> {
        let var = |name: &str| match std::env::var(name) {
            Ok(v) => Ok(Some(v)),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(format!("{name} is not UTF-8")),
        };
        Config::from_values(var(CONFIG_VAR)?.as_deref(), var(KEY_VAR)?.as_deref())
    }
}

/// serde's message with every quoted value left out: a configuration holds
/// Personal Room links, which are not for a log.
fn redact(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut quoted = false;
    for c in message.chars() {
        if c == '"' {
            if !quoted {
                out.push_str("\"…\"");
            }
            quoted = !quoted;
        } else if !quoted {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_never_repeated_in_its_error() {
        let secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=";
        for text in [
            format!(r#"{{"key_url": "kms://k", "key": "{secret}", "x": 1}}"#),
            format!(r#"{{"key_url": "kms://k", "key": "{secret}!"}}"#),
            format!(r#"{{"key": "{secret}""#),
        ] {
            let error = Config::from_values(None, Some(&text)).unwrap_err();
            assert!(!error.contains("c2Vj"), "{error}");
            assert!(error.starts_with(KEY_VAR), "{error}");
        }
        let config = Config::from_values(
            None,
            Some(&format!(r#"{{"key_url": "kms://k", "key": "{secret}"}}"#)),
        )
        .unwrap();
        assert_eq!(config.key.unwrap().key.len(), 32);
    }

    #[test]
    fn values_are_left_out_of_configuration_errors() {
        let error = Config::from_values(
            Some(r#"{"profiles": [{"email": "a@example.com", "personal_room": {"url": 7}}]}"#),
            None,
        )
        .unwrap_err();
        assert!(error.contains("at line 1 column"), "{error}");
        let error = Config::from_values(
            Some(r#"{"options": {"lead_time_seconds": "https://secret.example/j/123"}}"#),
            None,
        )
        .unwrap_err();
        assert!(!error.contains("secret.example"), "{error}");
        assert!(error.contains("invalid type: string"), "{error}");
    }

    #[test]
    fn empty_values_are_the_defaults() {
        assert_eq!(
            Config::from_values(Some(" "), Some("")),
            Ok(Config::default())
        );
        assert!(Config::from_values(Some(r#"{"max_body_bytes": 0}"#), None).is_err());
    }
}
