//! OAuth 2.0 as Google does it for service accounts with domain-wide
//! delegation: the jwt-bearer grant at `/token`, and bearer tokens bound to a
//! user and scopes on every API call. (`/token`'s other grant, the
//! authorization code of OpenID Connect sign-in, is in `oidc`.)

use std::collections::BTreeSet;

use axum::extract::State as AxumState;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RsaKeyPair, UnparsedPublicKey};
use serde_json::{Value, json};
use std::sync::Arc;

use crate::errors::{ApiError, OAuthError};
use crate::state::State;
use crate::{GOOGLE_TOKEN_URL, Shared};

/// How long access and ID tokens live (Google: one hour).
pub(crate) const TOKEN_LIFETIME: i64 = 3600;
/// Clock skew tolerated on `iat`.
const SKEW: i64 = 300;

const JWT_TIME_MESSAGE: &str = "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.";

/// The PKCS#1 public key of a PKCS#8 RSA private key in PEM.
pub fn public_key_of(pem: &str) -> Result<Vec<u8>, String> {
    let der = pem_body(pem, "PRIVATE KEY").ok_or("expected a PKCS#8 \"PRIVATE KEY\" PEM block")?;
    let pair =
        RsaKeyPair::from_pkcs8(&der).map_err(|e| format!("not an RSA key ring accepts: {e}"))?;
    Ok(ring::signature::KeyPair::public_key(&pair)
        .as_ref()
        .to_vec())
}

/// The base64 body of the first `-----BEGIN {label}-----` block.
pub(crate) fn pem_body(pem: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)? + begin.len();
    let stop = start + pem[start..].find(&end)?;
    let text: String = pem[start..stop]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    STANDARD.decode(text).ok()
}

/// `POST /token` (form-encoded): `grant_type` jwt-bearer with `assertion`,
/// or `authorization_code` (see [`crate::oidc::exchange_code`]).
pub async fn token(
    AxumState(shared): AxumState<Arc<Shared>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let form: Vec<(String, String)> = match serde_urlencoded_pairs(&body) {
        Some(form) => form,
        None => {
            return OAuthError {
                code: 400,
                error: "invalid_request",
                description: "The request body is not application/x-www-form-urlencoded.".into(),
            }
            .into_response();
        }
    };
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let grant = field("grant_type").unwrap_or("");
    if grant == "authorization_code" {
        return crate::oidc::exchange_code(&shared, &headers, &form);
    }
    if grant != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
        return OAuthError {
            code: 400,
            error: "unsupported_grant_type",
            description: format!("Invalid grant_type: {grant}"),
        }
        .into_response();
    }
    let Some(assertion) = field("assertion") else {
        return OAuthError {
            code: 400,
            error: "invalid_request",
            description: "Missing required parameter: assertion".into(),
        }
        .into_response();
    };
    let mut state = shared.lock();
    let token_url = format!("{}/token", shared.base_url);
    match grant_token(&mut state, assertion, &token_url) {
        Ok(answer) => axum::Json(answer).into_response(),
        Err(error) => error.into_response(),
    }
}

/// Decode `a=b&c=d` (the only body shape the token endpoint takes).
pub(crate) fn serde_urlencoded_pairs(body: &str) -> Option<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    for part in body.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=').unwrap_or((part, ""));
        pairs.push((percent_decode(key)?, percent_decode(value)?));
    }
    Some(pairs)
}

pub fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Check an assertion as Google does and issue a token bound to its subject
/// and scopes.
fn grant_token(state: &mut State, assertion: &str, token_url: &str) -> Result<Value, OAuthError> {
    let parts: Vec<&str> = assertion.split('.').collect();
    let [header, claims, signature] = parts[..] else {
        return Err(OAuthError::invalid_grant(
            "Invalid JWT: the assertion must have three parts.",
        ));
    };
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok();
    let header: Value = decode(header)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| {
            OAuthError::invalid_grant("Invalid JWT: the header is not base64url JSON.")
        })?;
    let claims: Value = decode(claims)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| {
            OAuthError::invalid_grant("Invalid JWT: the claim set is not base64url JSON.")
        })?;
    let signature =
        decode(signature).ok_or_else(|| OAuthError::invalid_grant("Invalid JWT Signature."))?;
    if header["alg"] != "RS256" {
        return Err(OAuthError::invalid_grant("Invalid JWT Signature."));
    }
    let account = &state.service_account;
    let issuer = claims["iss"].as_str().unwrap_or("");
    if issuer != account.client_email {
        return Err(OAuthError::invalid_grant(
            "Invalid grant: account not found",
        ));
    }
    let signed = &assertion[..assertion.rfind('.').unwrap_or(0)];
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &account.public_key)
        .verify(signed.as_bytes(), &signature)
        .map_err(|_| OAuthError::invalid_grant("Invalid JWT Signature."))?;
    let audience = claims["aud"].as_str().unwrap_or("");
    if audience != GOOGLE_TOKEN_URL && audience != token_url {
        return Err(OAuthError::invalid_grant(format!(
            "Invalid JWT: Failed audience check. The right audience is {GOOGLE_TOKEN_URL}"
        )));
    }
    let now = state.now().as_second();
    let (Some(iat), Some(exp)) = (claims["iat"].as_i64(), claims["exp"].as_i64()) else {
        return Err(OAuthError::invalid_grant(JWT_TIME_MESSAGE));
    };
    if exp <= iat || exp - iat > TOKEN_LIFETIME || iat > now + SKEW || exp <= now {
        return Err(OAuthError::invalid_grant(JWT_TIME_MESSAGE));
    }
    let scopes: BTreeSet<String> = claims["scope"]
        .as_str()
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if scopes.is_empty() {
        return Err(OAuthError {
            code: 400,
            error: "invalid_scope",
            description: "Invalid OAuth scope or ID token audience provided.".into(),
        });
    }
    let user = match claims["sub"].as_str() {
        Some(sub) => {
            let sub = sub.to_ascii_lowercase();
            if !state.users.contains_key(&sub) {
                return Err(OAuthError::invalid_grant("Invalid email or User ID"));
            }
            let delegated = state.users.get(&sub).is_some_and(|u| u.delegation);
            if !delegated || !scopes.is_subset(&state.delegated_scopes) {
                return Err(OAuthError {
                    code: 401,
                    error: "unauthorized_client",
                    description: "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.".into(),
                });
            }
            sub
        }
        // The service account acting as itself: it has no calendar of its own.
        None => account.client_email.clone(),
    };
    let expires_at = state
        .now()
        .checked_add(jiff::SignedDuration::from_secs(TOKEN_LIFETIME))
        .map_err(|_| OAuthError::invalid_grant(JWT_TIME_MESSAGE))?;
    let access_token = state.issue_access_token(user, scopes, expires_at);
    Ok(json!({
        "access_token": access_token,
        "expires_in": TOKEN_LIFETIME - 1,
        "token_type": "Bearer",
    }))
}

/// Which scopes allow a call.
#[derive(Debug, Clone, Copy)]
pub enum Need {
    CalendarRead,
    CalendarWrite,
    CalendarSettings,
    GmailSettingsRead,
    GmailSettingsWrite,
}

impl Need {
    fn accepts(self, scope: &str) -> bool {
        let Some(name) = scope.strip_prefix("https://www.googleapis.com/auth/") else {
            return scope == "https://mail.google.com/"
                && matches!(self, Need::GmailSettingsRead | Need::GmailSettingsWrite);
        };
        match self {
            Need::CalendarRead => matches!(
                name,
                "calendar" | "calendar.readonly" | "calendar.events" | "calendar.events.readonly"
            ),
            Need::CalendarWrite => matches!(name, "calendar" | "calendar.events"),
            Need::CalendarSettings => {
                matches!(
                    name,
                    "calendar" | "calendar.readonly" | "calendar.settings.readonly"
                )
            }
            Need::GmailSettingsRead => matches!(
                name,
                "gmail.settings.basic" | "gmail.readonly" | "gmail.modify"
            ),
            Need::GmailSettingsWrite => name == "gmail.settings.basic",
        }
    }
}

/// The trimmed credentials of the `Authorization` header if it uses
/// `scheme`, spelt as given or all lowercase.
pub(crate) fn authorization<'h>(headers: &'h HeaderMap, scheme: &str) -> Option<&'h str> {
    let header = headers.get("authorization")?.to_str().ok()?;
    let lowercase = scheme.to_ascii_lowercase();
    let rest = header
        .strip_prefix(scheme)
        .or_else(|| header.strip_prefix(lowercase.as_str()))?;
    Some(rest.strip_prefix(' ')?.trim())
}

/// The user behind the request's bearer token, if it is valid and carries
/// a scope that allows `need`.
pub fn authenticate(state: &State, headers: &HeaderMap, need: Need) -> Result<String, ApiError> {
    let Some(token) = authorization(headers, "Bearer") else {
        return Err(ApiError::new(
            401,
            "required",
            "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
        ));
    };
    let invalid = || ApiError::new(401, "authError", "Invalid Credentials");
    let grant = state.tokens.get(token).ok_or_else(invalid)?;
    if grant.expires_at <= state.now() {
        return Err(invalid());
    }
    if !grant.scopes.iter().any(|s| need.accepts(s)) {
        return Err(ApiError::new(
            403,
            "insufficientPermissions",
            "Request had insufficient authentication scopes.",
        ));
    }
    Ok(grant.user.clone())
}
