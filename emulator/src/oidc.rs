//! Google's OpenID Connect sign-in, as a web app meets it: discovery, the
//! authorization endpoint with its account chooser, the authorization-code
//! grant at `/token` (PKCE, `client_secret_post` and `client_secret_basic`),
//! RS256 ID tokens, the rotating JWKS and the userinfo endpoint.
//!
//! The issuer is the emulator's base URL, and every endpoint sits at
//! Google's path under it, so a client configured from the discovery document
//! works unchanged against `https://accounts.google.com`:
//!
//! | route | Google's |
//! |---|---|
//! | `GET /.well-known/openid-configuration` | `accounts.google.com/.well-known/openid-configuration` |
//! | `GET /o/oauth2/v2/auth` | `accounts.google.com/o/oauth2/v2/auth` |
//! | `GET /o/oauth2/v2/auth/choose` | (the account chooser's choice) |
//! | `POST /token` | `oauth2.googleapis.com/token` |
//! | `GET /oauth2/v3/certs` | `www.googleapis.com/oauth2/v3/certs` |
//! | `GET/POST /v1/userinfo`, `/oauth2/v3/userinfo` | `openidconnect.googleapis.com/v1/userinfo`, `www.googleapis.com/oauth2/v3/userinfo` |
//! | `POST /revoke` | `oauth2.googleapis.com/revoke` |
//!
//! Errors at the authorization endpoint are HTML pages (never redirects, as
//! Google does for a bad client, redirect URI or request); errors at the
//! token endpoint are RFC 6749 JSON worded as Google words them.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{RawQuery, State as AxumState};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jiff::{SignedDuration, Timestamp};
use ring::signature::{KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair, RsaPublicKeyComponents};
use serde_json::{Value, json};

use crate::Shared;
use crate::auth::{
    TOKEN_LIFETIME, authorization, pem_body, percent_decode, serde_urlencoded_pairs,
};
use crate::errors::{EmulatorError, OAuthError};
use crate::server::AuditUser;
use crate::state::State;

/// The emulator's ID-token signing keys. These are test keys of an
/// emulator, generated for it and published here on purpose: they sign
/// nothing but emulated ID tokens and must never be trusted for anything
/// else. The first signs until [`Oidc::rotate`]; the second then signs and
/// both are published; the third is never published (tokens it signs have a
/// valid signature by a key the JWKS does not list).
const SIGNING_KEYS: [&str; 3] = [
    include_str!("../seed/demo/oidc-signing-1.pem"),
    include_str!("../seed/demo/oidc-signing-2.pem"),
    include_str!("../seed/demo/oidc-signing-3.pem"),
];
/// How many of [`SIGNING_KEYS`] may be published and sign.
const PUBLISHED_KEYS: usize = 2;

/// How long an authorization code may be exchanged (Google: 10 minutes).
const CODE_LIFETIME: i64 = 600;

const OPENID: &str = "openid";
const EMAIL_SCOPE: &str = "https://www.googleapis.com/auth/userinfo.email";
const PROFILE_SCOPE: &str = "https://www.googleapis.com/auth/userinfo.profile";

/// A registered OAuth client (a "Web application" client in Google Cloud).
#[derive(Debug, Clone)]
pub struct OAuthClient {
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uris: Vec<String>,
    /// What the account chooser says the user continues to.
    pub name: String,
}

impl OAuthClient {
    /// Exact match, except that a loopback URI registered without a port
    /// matches the same host and path on any port (RFC 8252 §7.3).
    fn allows(&self, redirect_uri: &str) -> bool {
        self.redirect_uris
            .iter()
            .any(|registered| redirect_matches(registered, redirect_uri))
    }
}

pub(crate) fn redirect_matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    let Some((host, None, rest)) = split_loopback(registered) else {
        return false;
    };
    match split_loopback(requested) {
        Some((other_host, _, other_rest)) => other_host == host && other_rest == rest,
        None => false,
    }
}

/// `http://HOST[:PORT]REST` for a loopback host: (host, port, rest), the
/// rest being the path and query (`/` when empty).
fn split_loopback(uri: &str) -> Option<(&str, Option<u16>, &str)> {
    let after = uri.strip_prefix("http://")?;
    let host = ["127.0.0.1", "localhost", "[::1]"]
        .into_iter()
        .find(|host| after.starts_with(host))?;
    let after = &after[host.len()..];
    let (port, rest) = match after.strip_prefix(':') {
        Some(tail) => {
            let end = tail.find(['/', '?', '#']).unwrap_or(tail.len());
            let digits = &tail[..end];
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            (Some(digits.parse().ok()?), &tail[end..])
        }
        None if after.is_empty() || after.starts_with(['/', '?']) => (None, after),
        None => return None,
    };
    Some((host, port, if rest.is_empty() { "/" } else { rest }))
}

struct SigningKey {
    kid: String,
    pair: RsaKeyPair,
}

/// How a PKCE code challenge was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pkce {
    Plain,
    S256,
}

/// An issued authorization code and what it is bound to.
#[derive(Debug, Clone)]
struct Code {
    client_id: String,
    redirect_uri: String,
    challenge: Option<(String, Pkce)>,
    nonce: Option<String>,
    scopes: Vec<String>,
    user: String,
    expires_at: Timestamp,
}

/// OpenID Connect state: clients, outstanding codes, signing keys.
pub struct Oidc {
    pub clients: Vec<OAuthClient>,
    codes: HashMap<String, Code>,
    keys: Vec<SigningKey>,
    /// The index of the key that signs.
    current: usize,
    /// Indices of the keys the JWKS lists.
    published: Vec<usize>,
}

impl Oidc {
    pub fn new(clients: Vec<OAuthClient>) -> Result<Oidc, EmulatorError> {
        let mut keys = Vec::new();
        for (index, pem) in SIGNING_KEYS.iter().enumerate() {
            let path = format!("oidc-signing-{}.pem", index + 1);
            let der = pem_body(pem, "PRIVATE KEY").ok_or_else(|| EmulatorError::Seed {
                path: path.clone(),
                message: "expected a PKCS#8 \"PRIVATE KEY\" PEM block".into(),
            })?;
            let pair = RsaKeyPair::from_pkcs8(&der).map_err(|e| EmulatorError::Seed {
                path,
                message: format!("not an RSA key ring accepts: {e}"),
            })?;
            // Like Google's: 40 hex digits, here the start of the SHA-256 of
            // the public key, so a kid names exactly one key.
            let digest = ring::digest::digest(&ring::digest::SHA256, pair.public_key().as_ref());
            let kid = digest.as_ref()[..20]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            keys.push(SigningKey { kid, pair });
        }
        Ok(Oidc {
            clients,
            codes: HashMap::new(),
            keys,
            current: 0,
            published: vec![0],
        })
    }

    fn client(&self, client_id: &str) -> Option<&OAuthClient> {
        self.clients.iter().find(|c| c.client_id == client_id)
    }

    /// The published key ids, the signing key's first.
    pub fn kids(&self) -> Vec<String> {
        self.published_keys().map(|key| key.kid.clone()).collect()
    }

    fn published_keys(&self) -> impl Iterator<Item = &SigningKey> {
        std::iter::once(self.current)
            .chain(
                self.published
                    .iter()
                    .copied()
                    .filter(|&i| i != self.current),
            )
            .map(|i| &self.keys[i])
    }

    /// The next key signs from now on; the JWKS keeps listing the old one.
    pub fn rotate(&mut self) {
        self.current = (self.current + 1) % PUBLISHED_KEYS;
        if !self.published.contains(&self.current) {
            self.published.push(self.current);
        }
    }

    /// `{"keys": [...]}` as Google serves it.
    pub fn jwks(&self) -> Value {
        let keys: Vec<Value> = self
            .published_keys()
            .map(|key| {
                let components: RsaPublicKeyComponents<Vec<u8>> = key.pair.public().into();
                json!({
                    "kty": "RSA",
                    "alg": "RS256",
                    "use": "sig",
                    "kid": key.kid,
                    "n": URL_SAFE_NO_PAD.encode(&components.n),
                    "e": URL_SAFE_NO_PAD.encode(&components.e),
                })
            })
            .collect();
        json!({ "keys": keys })
    }

    /// `claims` as an RS256 JWT signed with the current key, `kid` (or the
    /// current key's) in the header.
    pub fn mint(&self, claims: &Value, kid: Option<&str>) -> String {
        let key = &self.keys[self.current];
        sign(key, kid.unwrap_or(&key.kid), claims)
    }

    /// `claims` signed with a key the JWKS never lists (its kid in the header).
    pub fn mint_unpublished(&self, claims: &Value) -> String {
        let key = &self.keys[PUBLISHED_KEYS];
        sign(key, &key.kid, claims)
    }
}

fn sign(key: &SigningKey, kid: &str, claims: &Value) -> String {
    let header = json!({ "alg": "RS256", "kid": kid, "typ": "JWT" });
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut signature = vec![0; key.pair.public().modulus_len()];
    key.pair
        .sign(
            &RSA_PKCS1_SHA256,
            &ring::rand::SystemRandom::new(),
            signed.as_bytes(),
            &mut signature,
        )
        .expect("RSA signing with a valid key and a modulus-sized buffer cannot fail");
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// A stable Google-like subject for a user: 21 digits from a hash of the
/// address (the same user gets the same `sub` in every run).
pub fn subject_of(email: &str) -> String {
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        format!("hcal-emulator-sub:{}", email.to_ascii_lowercase()).as_bytes(),
    );
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.as_ref()[..8]);
    // u64::MAX has 20 digits, so this is always "1" and 20 more.
    format!("1{:020}", u64::from_be_bytes(first))
}

/// The claims about a user a token with `scopes` may carry: `sub` and `hd`
/// always, e-mail with the email scope, names with the profile scope.
fn user_claims(state: &State, email: &str, scopes: &[String]) -> Value {
    let mut claims = json!({ "sub": subject_of(email), "hd": state.domain });
    if scopes.iter().any(|s| s == EMAIL_SCOPE) {
        claims["email"] = json!(email);
        claims["email_verified"] = json!(true);
    }
    if scopes.iter().any(|s| s == PROFILE_SCOPE)
        && let Some(name) = state.users.get(email).and_then(|u| u.name.clone())
    {
        let mut words = name.split_whitespace();
        if let Some(given) = words.next() {
            claims["given_name"] = json!(given);
        }
        let family: Vec<&str> = words.collect();
        if !family.is_empty() {
            claims["family_name"] = json!(family.join(" "));
        }
        claims["name"] = json!(name);
    }
    claims
}

// ---------------------------------------------------------------------------
// Discovery and keys

/// `GET /.well-known/openid-configuration`.
pub async fn discovery(AxumState(shared): AxumState<Arc<Shared>>) -> Response {
    let base = &shared.base_url;
    let document = json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/o/oauth2/v2/auth"),
        "token_endpoint": format!("{base}/token"),
        "userinfo_endpoint": format!("{base}/v1/userinfo"),
        "revocation_endpoint": format!("{base}/revoke"),
        "jwks_uri": format!("{base}/oauth2/v3/certs"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "claims_supported": [
            "aud", "azp", "at_hash", "email", "email_verified", "exp", "family_name",
            "given_name", "hd", "iat", "iss", "name", "nonce", "sub"
        ],
        "code_challenge_methods_supported": ["plain", "S256"],
        "grant_types_supported": [
            "authorization_code",
            "urn:ietf:params:oauth:grant-type:jwt-bearer"
        ],
    });
    let mut response = axum::Json(document).into_response();
    response.headers_mut().insert(
        "cache-control",
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}

/// `GET /oauth2/v3/certs`.
pub async fn certs(AxumState(shared): AxumState<Arc<Shared>>) -> Response {
    let jwks = shared.lock().oidc.jwks();
    let mut response = axum::Json(jwks).into_response();
    response.headers_mut().insert(
        "cache-control",
        HeaderValue::from_static("public, max-age=20000, must-revalidate, no-transform"),
    );
    response
}

// ---------------------------------------------------------------------------
// The authorization endpoint

/// A checked authorization request.
struct AuthRequest {
    client_id: String,
    client_name: String,
    redirect_uri: String,
    scopes: Vec<String>,
    state: Option<String>,
    nonce: Option<String>,
    challenge: Option<(String, Pkce)>,
    login_hint: Option<String>,
    prompt: Option<String>,
    /// The request's parameters as sent, for the chooser's links.
    params: Vec<(String, String)>,
}

fn query_pairs(query: Option<&str>) -> Result<Vec<(String, String)>, Box<Response>> {
    serde_urlencoded_pairs(query.unwrap_or("")).ok_or_else(|| {
        Box::new(error_page(
            400,
            "invalid_request",
            "The request's query string is not valid percent-encoding.",
            &[],
        ))
    })
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// Check the request as Google does, in Google's order: the client, then
/// the redirect URI (only then may errors go back to it — and Google shows
/// a page anyway), then the rest.
fn check_request(
    state: &State,
    params: Vec<(String, String)>,
) -> Result<AuthRequest, Box<Response>> {
    let fail =
        |code: u16, error: &str, reason: &str| Box::new(error_page(code, error, reason, &params));
    let Some(client_id) = param(&params, "client_id") else {
        return Err(fail(
            400,
            "invalid_request",
            "Missing required parameter: client_id",
        ));
    };
    let Some(client) = state.oidc.client(client_id) else {
        return Err(fail(
            401,
            "invalid_client",
            "The OAuth client was not found.",
        ));
    };
    let Some(redirect_uri) = param(&params, "redirect_uri") else {
        return Err(fail(
            400,
            "invalid_request",
            "Missing required parameter: redirect_uri",
        ));
    };
    if !client.allows(redirect_uri) {
        return Err(fail(
            400,
            "redirect_uri_mismatch",
            "You can't sign in to this app because it doesn't comply with Google's OAuth 2.0 policy. If you're the app developer, register the redirect URI in the Google Cloud Console.",
        ));
    }
    match param(&params, "response_type") {
        None => {
            return Err(fail(
                400,
                "invalid_request",
                "Required parameter is missing: response_type",
            ));
        }
        Some("code") => {}
        Some(other) => {
            return Err(fail(
                400,
                "invalid_request",
                &format!(
                    "Unsupported response_type: {other} (this emulator answers response_type=code)"
                ),
            ));
        }
    }
    let Some(scope) = param(&params, "scope") else {
        return Err(fail(
            400,
            "invalid_request",
            "Missing required parameter: scope",
        ));
    };
    let mut scopes: Vec<String> = Vec::new();
    let mut invalid: Vec<&str> = Vec::new();
    for requested in scope.split_whitespace() {
        let granted = match requested {
            "openid" => OPENID,
            "email" | EMAIL_SCOPE => EMAIL_SCOPE,
            "profile" | PROFILE_SCOPE => PROFILE_SCOPE,
            other
                if other.starts_with("https://www.googleapis.com/auth/")
                    || other == "https://mail.google.com/" =>
            {
                other
            }
            other => {
                invalid.push(other);
                continue;
            }
        };
        if !scopes.iter().any(|s| s == granted) {
            scopes.push(granted.to_string());
        }
    }
    if !invalid.is_empty() {
        return Err(fail(
            400,
            "invalid_scope",
            &format!(
                "Some requested scopes were invalid. {{invalid=[{}]}}",
                invalid.join(", ")
            ),
        ));
    }
    if !scopes.iter().any(|s| s == OPENID) {
        return Err(fail(
            400,
            "invalid_request",
            "The scope must include openid: this emulator signs people in with OpenID Connect.",
        ));
    }
    let challenge = match (
        param(&params, "code_challenge"),
        param(&params, "code_challenge_method"),
    ) {
        (None, None) => None,
        (None, Some(_)) => {
            return Err(fail(
                400,
                "invalid_request",
                "Missing required parameter: code_challenge",
            ));
        }
        (Some(challenge), method) => {
            let method = match method {
                None | Some("plain") => Pkce::Plain,
                Some("S256") => Pkce::S256,
                Some(other) => {
                    return Err(fail(
                        400,
                        "invalid_request",
                        &format!("Invalid code_challenge_method: {other}"),
                    ));
                }
            };
            Some((challenge.to_string(), method))
        }
    };
    Ok(AuthRequest {
        client_id: client.client_id.clone(),
        client_name: client.name.clone(),
        redirect_uri: redirect_uri.to_string(),
        scopes,
        state: params
            .iter()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.clone()),
        nonce: param(&params, "nonce").map(str::to_string),
        challenge,
        login_hint: param(&params, "login_hint").map(str::to_ascii_lowercase),
        prompt: param(&params, "prompt").map(str::to_string),
        params,
    })
}

/// `GET /o/oauth2/v2/auth`: sign in the `login_hint` user directly, or show
/// the account chooser.
pub async fn authorize(
    AxumState(shared): AxumState<Arc<Shared>>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = match query_pairs(query.as_deref()) {
        Ok(params) => params,
        Err(page) => return *page,
    };
    let mut state = shared.lock();
    let request = match check_request(&state, params) {
        Ok(request) => request,
        Err(page) => return *page,
    };
    if let Some(hint) = &request.login_hint
        && state.users.contains_key(hint)
    {
        let hint = hint.clone();
        return sign_in(&mut state, &request, &hint);
    }
    if request
        .prompt
        .as_deref()
        .is_some_and(|p| p.split_whitespace().any(|p| p == "none"))
    {
        // No session to use and no interaction allowed (OpenID Connect §3.1.2.6).
        let mut pairs = vec![("error", "login_required".to_string())];
        if let Some(value) = &request.state {
            pairs.push(("state", value.clone()));
        }
        return redirect(&with_query(&request.redirect_uri, &pairs));
    }
    chooser_page(&state, &request)
}

/// `GET /o/oauth2/v2/auth/choose?…&email=`: the account chooser's choice.
pub async fn choose(
    AxumState(shared): AxumState<Arc<Shared>>,
    RawQuery(query): RawQuery,
) -> Response {
    let mut params = match query_pairs(query.as_deref()) {
        Ok(params) => params,
        Err(page) => return *page,
    };
    let email = param(&params, "email").map(str::to_ascii_lowercase);
    params.retain(|(k, _)| k != "email");
    let mut state = shared.lock();
    let request = match check_request(&state, params) {
        Ok(request) => request,
        Err(page) => return *page,
    };
    match email.filter(|email| state.users.contains_key(email)) {
        Some(email) => sign_in(&mut state, &request, &email),
        None => error_page(
            400,
            "invalid_request",
            &format!("No such account in {}.", state.domain),
            &request.params,
        ),
    }
}

/// Issue a code for `user` and send the browser back to the client.
fn sign_in(state: &mut State, request: &AuthRequest, user: &str) -> Response {
    let now = state.now();
    let code = format!("4/0Aemu{}", state.random_id(60));
    let expires_at = now
        .checked_add(SignedDuration::from_secs(CODE_LIFETIME))
        .unwrap_or(now);
    state.oidc.codes.retain(|_, code| code.expires_at > now);
    state.oidc.codes.insert(
        code.clone(),
        Code {
            client_id: request.client_id.clone(),
            redirect_uri: request.redirect_uri.clone(),
            challenge: request.challenge.clone(),
            nonce: request.nonce.clone(),
            scopes: request.scopes.clone(),
            user: user.to_string(),
            expires_at,
        },
    );
    let mut pairs = vec![("code", code)];
    if let Some(value) = &request.state {
        pairs.push(("state", value.clone()));
    }
    pairs.push(("scope", request.scopes.join(" ")));
    pairs.push(("authuser", "0".into()));
    pairs.push(("hd", state.domain.clone()));
    pairs.push(("prompt", "none".into()));
    let mut response = redirect(&with_query(&request.redirect_uri, &pairs));
    response
        .extensions_mut()
        .insert(AuditUser(user.to_string()));
    response
}

fn redirect(location: &str) -> Response {
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert("location", value);
    }
    response
        .headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-store"));
    response
}

/// `uri` with `pairs` appended to its query (a fragment, which a redirect
/// URI may not have, is dropped).
fn with_query(uri: &str, pairs: &[(&str, String)]) -> String {
    let base = uri.split('#').next().unwrap_or(uri);
    let mut out = base.to_string();
    let mut separator = match base.find('?') {
        None => "?",
        Some(_) if base.ends_with('?') || base.ends_with('&') => "",
        Some(_) => "&",
    };
    for (key, value) in pairs {
        out.push_str(separator);
        out.push_str(&percent_encode(key));
        out.push('=');
        out.push_str(&percent_encode(value));
        separator = "&";
    }
    out
}

/// Percent-encode everything but RFC 3986's unreserved characters.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Text for HTML (element content and quoted attribute values).
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Pages

const STYLE: &str = "body{margin:0;background:#f0f4f9;font-family:'Google Sans',Roboto,Arial,sans-serif;color:#1f1f1f}\
main{max-width:448px;margin:48px auto;background:#fff;border-radius:28px;padding:36px 40px}\
.brand{font-size:22px;font-weight:500;letter-spacing:-.5px}.brand small{font-size:12px;color:#5e5e5e;font-weight:400}\
h1{font-size:28px;font-weight:400;margin:24px 0 8px}p.sub{margin:0 0 24px}\
ul{list-style:none;padding:0;margin:0;border-top:1px solid #e3e3e3}li{border-bottom:1px solid #e3e3e3}\
a.account{display:flex;align-items:center;gap:12px;padding:12px 8px;color:inherit;text-decoration:none}\
a.account:hover{background:#f3f6fc}.avatar{width:32px;height:32px;border-radius:50%;background:#0b57d0;color:#fff;\
display:flex;align-items:center;justify-content:center;font-weight:500}.name{display:block;font-weight:500}\
.email{display:block;font-size:14px;color:#5e5e5e}.note{font-size:12px;color:#5e5e5e;margin-top:24px}\
.error{font-size:16px}.details{font-size:13px;color:#5e5e5e;word-break:break-all}";

fn page(status: u16, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"referrer\" content=\"no-referrer\">\
<title>{title}</title><style>{STYLE}</style></head>\n<body><main>\
<div class=\"brand\">Google <small>(emulated by hcal-emulator)</small></div>\n{body}</main></body></html>\n",
        title = html_escape(title),
    );
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = (
        status,
        [
            ("content-type", "text/html; charset=utf-8"),
            ("cache-control", "no-store"),
        ],
        html,
    )
        .into_response();
    response.headers_mut().insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
    );
    response
}

/// Google's "Access blocked: Authorization Error" page.
fn error_page(code: u16, error: &str, reason: &str, params: &[(String, String)]) -> Response {
    let details: String = params
        .iter()
        .filter(|(k, _)| {
            matches!(
                k.as_str(),
                "client_id" | "redirect_uri" | "response_type" | "scope"
            )
        })
        .map(|(k, v)| format!("<li>{}={}</li>", html_escape(k), html_escape(v)))
        .collect();
    let body = format!(
        "<h1>Access blocked: Authorization Error</h1>\n\
<p class=\"error\">{reason}</p>\n\
<p><b>Error {code}: {error}</b></p>\n\
<p class=\"details\">Request details:</p><ul class=\"details\">{details}</ul>\n",
        reason = html_escape(reason),
        error = html_escape(error),
    );
    page(code, &format!("Error {code}: {error}"), &body)
}

/// "Choose an account — to continue to {client}", one link per user.
fn chooser_page(state: &State, request: &AuthRequest) -> Response {
    let mut accounts = String::new();
    for (email, user) in &state.users {
        let mut pairs: Vec<(&str, String)> = request
            .params
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        pairs.push(("email", email.clone()));
        let href = with_query("/o/oauth2/v2/auth/choose", &pairs);
        let name = user.name.clone().unwrap_or_else(|| email.clone());
        let initial: String = name.chars().next().unwrap_or('?').to_uppercase().collect();
        accounts.push_str(&format!(
            "<li><a class=\"account\" data-email=\"{email}\" href=\"{href}\">\
<span class=\"avatar\">{initial}</span><span><span class=\"name\">{name}</span>\
<span class=\"email\">{email}</span></span></a></li>\n",
            email = html_escape(email),
            href = html_escape(&href),
            initial = html_escape(&initial),
            name = html_escape(&name),
        ));
    }
    let body = format!(
        "<h1>Choose an account</h1>\n<p class=\"sub\">to continue to <b>{client}</b></p>\n\
<ul class=\"accounts\">\n{accounts}</ul>\n\
<p class=\"note\">The accounts of the emulated Workspace domain {domain}. \
Choosing one signs in without a password.</p>\n",
        client = html_escape(&request.client_name),
        domain = html_escape(&state.domain),
    );
    page(200, "Sign in - Google Accounts", &body)
}

// ---------------------------------------------------------------------------
// The token endpoint's authorization-code grant

/// The client's credentials: HTTP Basic (`client_secret_basic`) if sent,
/// otherwise the form's `client_id` and `client_secret`.
fn client_credentials(
    headers: &HeaderMap,
    form: &[(String, String)],
) -> Result<(Option<String>, Option<String>, bool), OAuthError> {
    if let Some(encoded) = authorization(headers, "Basic") {
        let decoded = STANDARD
            .decode(encoded)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|text| {
                let (id, secret) = text.split_once(':')?;
                Some((percent_decode(id)?, percent_decode(secret)?))
            });
        return match decoded {
            Some((id, secret)) => Ok((Some(id), Some(secret), true)),
            None => Err(OAuthError {
                code: 401,
                error: "invalid_client",
                description: "Unauthorized".into(),
            }),
        };
    }
    Ok((
        param(form, "client_id").map(str::to_string),
        param(form, "client_secret").map(str::to_string),
        false,
    ))
}

/// `POST /token` with `grant_type=authorization_code`.
pub fn exchange_code(shared: &Shared, headers: &HeaderMap, form: &[(String, String)]) -> Response {
    let mut state = shared.lock();
    match exchange(&mut state, &shared.base_url, headers, form) {
        Ok((answer, user)) => {
            let mut response = axum::Json(answer).into_response();
            let headers = response.headers_mut();
            headers.insert(
                "cache-control",
                HeaderValue::from_static("no-cache, no-store, max-age=0, must-revalidate"),
            );
            headers.insert("pragma", HeaderValue::from_static("no-cache"));
            response.extensions_mut().insert(AuditUser(user));
            response
        }
        Err((error, basic)) => {
            let unauthorized = error.code == 401;
            let mut response = error.into_response();
            if unauthorized && basic {
                response.headers_mut().insert(
                    "www-authenticate",
                    HeaderValue::from_static("Basic realm=\"https://accounts.google.com/\""),
                );
            }
            response
        }
    }
}

type Exchanged = Result<(Value, String), (OAuthError, bool)>;

fn exchange(
    state: &mut State,
    issuer: &str,
    headers: &HeaderMap,
    form: &[(String, String)],
) -> Exchanged {
    let (client_id, secret, basic) = client_credentials(headers, form).map_err(|e| (e, true))?;
    let fail = |code: u16, error: &'static str, description: &str| {
        Err((
            OAuthError {
                code,
                error,
                description: description.into(),
            },
            basic,
        ))
    };
    let Some(client_id) = client_id else {
        return fail(
            400,
            "invalid_request",
            "Could not determine client ID from request.",
        );
    };
    let Some(client) = state.oidc.client(&client_id) else {
        return fail(401, "invalid_client", "The OAuth client was not found.");
    };
    let Some(secret) = secret else {
        return fail(400, "invalid_request", "client_secret is missing.");
    };
    if !same_bytes(secret.as_bytes(), client.client_secret.as_bytes()) {
        return fail(401, "invalid_client", "Unauthorized");
    }
    let Some(code) = param(form, "code") else {
        return fail(400, "invalid_request", "Missing required parameter: code");
    };
    // One shot: whatever happens next, this code is spent.
    let now = state.now();
    let Some(grant) = state.oidc.codes.remove(code) else {
        return fail(400, "invalid_grant", "Bad Request");
    };
    if grant.expires_at <= now || grant.client_id != client_id {
        return fail(400, "invalid_grant", "Bad Request");
    }
    let Some(redirect_uri) = param(form, "redirect_uri") else {
        return fail(
            400,
            "invalid_request",
            "Missing required parameter: redirect_uri",
        );
    };
    if redirect_uri != grant.redirect_uri {
        return fail(400, "redirect_uri_mismatch", "Bad Request");
    }
    if let Some((challenge, method)) = &grant.challenge {
        let Some(verifier) = param(form, "code_verifier") else {
            return fail(400, "invalid_grant", "Missing code verifier.");
        };
        let derived = match method {
            Pkce::Plain => verifier.to_string(),
            Pkce::S256 => URL_SAFE_NO_PAD.encode(ring::digest::digest(
                &ring::digest::SHA256,
                verifier.as_bytes(),
            )),
        };
        if !same_bytes(derived.as_bytes(), challenge.as_bytes()) {
            return fail(400, "invalid_grant", "Invalid code verifier.");
        }
    }
    if !state.users.contains_key(&grant.user) {
        return fail(400, "invalid_grant", "Bad Request");
    }
    let expires_at = now
        .checked_add(SignedDuration::from_secs(TOKEN_LIFETIME))
        .unwrap_or(now);
    let access_token = state.issue_access_token(
        grant.user.clone(),
        grant.scopes.iter().cloned().collect(),
        expires_at,
    );
    let iat = now.as_second();
    let digest = ring::digest::digest(&ring::digest::SHA256, access_token.as_bytes());
    let mut claims = json!({
        "iss": issuer,
        "azp": client_id,
        "aud": client_id,
    });
    if let (Value::Object(claims), Value::Object(about)) =
        (&mut claims, user_claims(state, &grant.user, &grant.scopes))
    {
        claims.extend(about);
    }
    claims["at_hash"] = json!(URL_SAFE_NO_PAD.encode(&digest.as_ref()[..16]));
    if let Some(nonce) = &grant.nonce {
        claims["nonce"] = json!(nonce);
    }
    claims["iat"] = json!(iat);
    claims["exp"] = json!(iat + TOKEN_LIFETIME);
    let id_token = state.oidc.mint(&claims, None);
    Ok((
        json!({
            "access_token": access_token,
            "expires_in": TOKEN_LIFETIME - 1,
            "id_token": id_token,
            "scope": grant.scopes.join(" "),
            "token_type": "Bearer",
        }),
        grant.user,
    ))
}

/// Equal bytes, compared without an early exit.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

// ---------------------------------------------------------------------------
// Userinfo and revocation

/// `GET`/`POST /v1/userinfo` (and `/oauth2/v3/userinfo`): the signed-in
/// user, for an access token from the code flow.
pub async fn userinfo(AxumState(shared): AxumState<Arc<Shared>>, headers: HeaderMap) -> Response {
    let state = shared.lock();
    let grant = authorization(&headers, "Bearer")
        .and_then(|token| state.tokens.get(token))
        .filter(|grant| grant.expires_at > state.now())
        .filter(|grant| state.users.contains_key(&grant.user))
        .filter(|grant| {
            grant
                .scopes
                .iter()
                .any(|s| matches!(s.as_str(), OPENID | EMAIL_SCOPE | PROFILE_SCOPE))
        });
    let Some(grant) = grant else {
        let mut response = OAuthError {
            code: 401,
            error: "invalid_request",
            description: "Invalid Credentials".into(),
        }
        .into_response();
        response.headers_mut().insert(
            "www-authenticate",
            HeaderValue::from_static(
                "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"",
            ),
        );
        return response;
    };
    let scopes: Vec<String> = grant.scopes.iter().cloned().collect();
    let user = grant.user.clone();
    let mut response = axum::Json(user_claims(&state, &user, &scopes)).into_response();
    response.extensions_mut().insert(AuditUser(user));
    response
}

/// `POST /revoke` (`token=` in the form or the query): forget an access token.
pub async fn revoke(
    AxumState(shared): AxumState<Arc<Shared>>,
    RawQuery(query): RawQuery,
    body: String,
) -> Response {
    let mut pairs = serde_urlencoded_pairs(&body).unwrap_or_default();
    pairs.extend(serde_urlencoded_pairs(query.as_deref().unwrap_or("")).unwrap_or_default());
    let token = pairs
        .into_iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v);
    let removed = token.and_then(|token| shared.lock().tokens.remove(&token));
    match removed {
        Some(_) => axum::Json(json!({})).into_response(),
        None => OAuthError {
            code: 400,
            error: "invalid_token",
            description: "Token expired or revoked".into(),
        }
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_redirects_match_any_port_only_when_registered_without_one() {
        let registered = "http://127.0.0.1/auth/callback";
        assert!(redirect_matches(
            registered,
            "http://127.0.0.1/auth/callback"
        ));
        assert!(redirect_matches(
            registered,
            "http://127.0.0.1:8080/auth/callback"
        ));
        assert!(!redirect_matches(
            registered,
            "http://127.0.0.1:8080/auth/other"
        ));
        assert!(!redirect_matches(
            registered,
            "http://localhost:8080/auth/callback"
        ));
        assert!(!redirect_matches(
            registered,
            "http://127.0.0.1.evil.com/auth/callback"
        ));
        assert!(!redirect_matches(
            registered,
            "http://127.0.0.1:80x/auth/callback"
        ));
        assert!(redirect_matches("http://[::1]/cb", "http://[::1]:5000/cb"));
        assert!(!redirect_matches(
            "http://localhost:3000/cb",
            "http://localhost:3001/cb"
        ));
        assert!(redirect_matches(
            "http://localhost:3000/cb",
            "http://localhost:3000/cb"
        ));
        assert!(!redirect_matches(
            "https://app.example.com/cb",
            "https://app.example.com:444/cb"
        ));
    }

    #[test]
    fn subjects_are_stable_21_digit_numbers() {
        let sub = subject_of("Alice@example.com");
        assert_eq!(sub.len(), 21);
        assert!(sub.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(sub, subject_of("alice@example.com"));
        assert_ne!(sub, subject_of("bob@example.com"));
    }

    #[test]
    fn queries_are_appended_and_encoded() {
        let pairs = [("state", "a b&c=d/é".to_string())];
        assert_eq!(
            with_query("http://h/cb", &pairs),
            "http://h/cb?state=a%20b%26c%3Dd%2F%C3%A9"
        );
        assert_eq!(
            with_query("http://h/cb?x=1", &pairs[..0]),
            "http://h/cb?x=1"
        );
        assert_eq!(
            with_query("http://h/cb?x=1", &[("y", "2".into())]),
            "http://h/cb?x=1&y=2"
        );
        assert_eq!(
            html_escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
