//! Who is asking, and what they may do.
//!
//! Four kinds of caller reach the service:
//! - a **person**, signed in with Google (OpenID Connect, authorization code
//!   with PKCE, `state` and `nonce`), holding a session cookie; an admin
//!   when `[auth] admins` names them;
//! - a **room device**, holding a device token (`hcal devices add ROOM`);
//! - an **integration**, holding one of `[api] tokens` (a service token:
//!   full access, as before sign-in existed);
//! - anyone else (anonymous).
//!
//! Each question the routes ask has one function here ([`Caller::may_administer`],
//! [`Caller::may_read_user`], [`Caller::may_read_room`]), so a reader finds the
//! whole policy in one place. Secrets (session ids, device tokens) are kept in
//! the store only as their SHA-256.
//!
//! ```
//! use hcal::auth::{Caller, Person};
//! let alice = Caller::Person(Person { email: "alice@example.com".into(), admin: false, session_sha256: String::new(), csrf: String::new() });
//! assert!(alice.may_read_user("alice@example.com"));
//! assert!(!alice.may_read_user("bob@example.com"));
//! assert!(!alice.may_administer());
//! ```

use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom, SystemRandom};
use serde::Deserialize;
use serde_json::Value;

use crate::store::{Device, Session, SignIn, Store, StoreError, sha256_hex};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "hcal_session";
/// How long a sign-in may take between leaving for Google and coming back.
const SIGN_IN_LIFETIME: i64 = 600;
/// Clock skew tolerated on an ID token's `iat` and `exp`.
const SKEW: i64 = 60;
/// An unknown `kid` in fresh keys refetches them at most this often (a flood
/// of forged tokens must not become a flood of requests to Google).
const JWKS_REFETCH_FLOOR: Duration = Duration::from_secs(5);

/// How people sign in (`[auth]` in `hcal.toml`).
#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub client_id: String,
    pub client_secret: String,
    /// `https://accounts.google.com`, or the emulator's base URL.
    pub issuer: String,
    /// Lower-case e-mail addresses of the admins.
    pub admins: Vec<String>,
    /// Lower-case domains whose people may sign in.
    pub domains: Vec<String>,
    pub session_lifetime: Duration,
}

/// A signed-in person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub email: String,
    pub admin: bool,
    /// Hex SHA-256 of the session id (what sign-out deletes).
    pub session_sha256: String,
    /// The token state-changing browser requests must carry.
    pub csrf: String,
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// An integration with a service token: full access.
    Service,
    Person(Person),
    /// A room device: its own room only.
    Device(Device),
    Anonymous,
}

impl Caller {
    /// Users, rooms, devices, keys, every user's data: integrations and admins.
    pub fn may_administer(&self) -> bool {
        match self {
            Caller::Service => true,
            Caller::Person(person) => person.admin,
            Caller::Device(_) | Caller::Anonymous => false,
        }
    }

    /// One user's meetings, presence and answers: that person, or whoever
    /// may administer.
    pub fn may_read_user(&self, email: &str) -> bool {
        match self {
            Caller::Person(person) if person.email.eq_ignore_ascii_case(email) => true,
            _ => self.may_administer(),
        }
    }

    /// One room's join buttons, meetings and availability: that room's
    /// device, or whoever may administer.
    pub fn may_read_room(&self, room: &str) -> bool {
        match self {
            Caller::Device(device) if device.room.eq_ignore_ascii_case(room) => true,
            _ => self.may_administer(),
        }
    }

    pub fn person(&self) -> Option<&Person> {
        match self {
            Caller::Person(person) => Some(person),
            _ => None,
        }
    }
}

/// Why a request's credentials were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("the bearer token is not a service token or a device token hcal issued")]
    UnknownToken,
    #[error("the store cannot be read: {0}")]
    Store(String),
}

/// Who a request comes from: a bearer token (service, then device) wins
/// over a session cookie; a bearer token that is neither is refused rather
/// than falling back to the cookie.
pub fn identify(
    headers: &axum::http::HeaderMap,
    service_tokens: &[String],
    admins: &[String],
    store: &dyn Store,
    now: i64,
) -> Result<Caller, Denied> {
    if let Some(token) = bearer(headers) {
        if service_tokens
            .iter()
            .any(|t| !t.is_empty() && same_secret(t, token))
        {
            return Ok(Caller::Service);
        }
        return match store.device_by_token(&sha256_hex(token)) {
            Ok(Some(device)) => Ok(Caller::Device(device)),
            Ok(None) => Err(Denied::UnknownToken),
            Err(e) => Err(Denied::Store(e.to_string())),
        };
    }
    let Some(id) = cookie(headers, SESSION_COOKIE) else {
        return Ok(Caller::Anonymous);
    };
    let hash = sha256_hex(id);
    match store.session(&hash, now) {
        Ok(Some(session)) => Ok(Caller::Person(Person {
            admin: admins
                .iter()
                .any(|a| a.eq_ignore_ascii_case(&session.email)),
            email: session.email,
            session_sha256: hash,
            csrf: csrf_token(id),
        })),
        // An expired or forged cookie is no one.
        Ok(None) => Ok(Caller::Anonymous),
        Err(e) => Err(Denied::Store(e.to_string())),
    }
}

/// The `Authorization: Bearer` credential (the scheme in any case, RFC 7235).
pub(crate) fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get("authorization")?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

/// A cookie's value from the `Cookie` headers.
pub fn cookie<'h>(headers: &'h axum::http::HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// Whether a state-changing browser request comes from this site:
/// `Sec-Fetch-Site` (every current browser sends it) must be `same-origin`
/// (or `none`: typed by the person); without it, `Origin` must be this
/// site's. A request with neither is not a cross-site page's (browsers send
/// one of them), and the CSRF token still has to match.
pub fn same_site_request(headers: &axum::http::HeaderMap, origin: &str) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site") {
        return matches!(site, "same-origin" | "none");
    }
    match header("origin") {
        Some(given) => given.trim_end_matches('/') == origin.trim_end_matches('/'),
        None => true,
    }
}

/// A signed-in person's change counts only from this site (see
/// [`same_site_request`]) with the session's CSRF token.
pub fn genuine_change(
    headers: &axum::http::HeaderMap,
    origin: &str,
    person: &Person,
    csrf: &str,
) -> bool {
    same_site_request(headers, origin) && same_secret(csrf, &person.csrf)
}

/// Compare secrets without an early exit (on their SHA-256, so lengths do not show).
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (digest(&SHA256, a.as_bytes()), digest(&SHA256, b.as_bytes()));
    a.as_ref()
        .iter()
        .zip(b.as_ref())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// `bytes` random bytes, base64url: 32 bytes are a 256-bit secret.
fn random_token(bytes: usize) -> Result<String, AuthError> {
    let mut buffer = vec![0u8; bytes];
    SystemRandom::new()
        .fill(&mut buffer)
        .map_err(|_| AuthError::Random)?;
    Ok(URL_SAFE_NO_PAD.encode(buffer))
}

/// The CSRF token of a session: an HMAC of a fixed label under the session
/// id, so it needs no storage and no one without the cookie can make it.
pub fn csrf_token(session_id: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, session_id.as_bytes());
    URL_SAFE_NO_PAD.encode(ring::hmac::sign(&key, b"hcal csrf v1").as_ref())
}

/// Start a session for `email`: the id for the cookie (only its hash is kept).
pub fn new_session(
    store: &dyn Store,
    email: &str,
    lifetime: Duration,
    now: i64,
) -> Result<String, AuthError> {
    let id = random_token(32)?;
    store.put_session(&Session {
        id_sha256: sha256_hex(&id),
        email: email.to_ascii_lowercase(),
        created_at: now,
        expires_at: now + lifetime.as_secs() as i64,
    })?;
    Ok(id)
}

/// Issue a token for a room's device; the token is returned once and kept
/// only as its hash.
pub fn new_device(store: &dyn Store, room: &str, now: i64) -> Result<(Device, String), AuthError> {
    let room = room.trim().to_ascii_lowercase();
    if !crate::users::is_address(&room) {
        return Err(AuthError::NotAnAddress(room));
    }
    let token = format!("hcal_dev_{}", random_token(32)?);
    let device = Device {
        id: random_token(6)?
            .to_ascii_lowercase()
            .replace(['-', '_'], "x"),
        room,
        token_sha256: sha256_hex(&token),
        created_at: now,
    };
    store.put_device(&device)?;
    Ok((device, token))
}

/// Why signing in did not work.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(
        "sign-in is not configured: set [auth] client_id and client_secret (or HCAL_OAUTH_CLIENT_SECRET) in hcal.toml"
    )]
    NotConfigured,
    #[error("this sign-in link expired or was already used; sign in again")]
    UnknownState,
    #[error("the sign-in was not completed at the issuer: {0}")]
    Cancelled(String),
    #[error("cannot reach the issuer {url}: {message}")]
    Issuer { url: String, message: String },
    #[error("the issuer refused the sign-in: {error} ({description})")]
    Refused { error: String, description: String },
    #[error("the ID token was refused: {0}")]
    IdToken(#[from] IdTokenError),
    #[error("{0:?} is not an e-mail address")]
    NotAnAddress(String),
    #[error("no randomness from the operating system")]
    Random,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why an ID token was refused (each check of OpenID Connect Core §3.1.3.7).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdTokenError {
    #[error("not a JWT ({0})")]
    Malformed(&'static str),
    #[error("signed with {0:?}, not RS256")]
    Algorithm(String),
    #[error("signed with key {0:?}, which the issuer does not publish")]
    UnknownKey(String),
    #[error("the signature does not verify")]
    BadSignature,
    #[error("issued by {0:?}, not the configured issuer")]
    Issuer(String),
    #[error("issued for another client")]
    Audience,
    #[error("expired")]
    Expired,
    #[error("issued in the future")]
    NotYetValid,
    #[error("its nonce is not this sign-in's")]
    Nonce,
    #[error("the e-mail address is not verified")]
    EmailNotVerified,
    #[error("{0} is not in the organisation's domains")]
    Domain(String),
    #[error("the issuer's keys cannot be read: {0}")]
    Keys(String),
}

/// Who signed in, from a verified ID token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub email: String,
    pub subject: String,
    pub name: Option<String>,
}

/// The issuer's endpoints (`/.well-known/openid-configuration`).
#[derive(Debug, Clone, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
}

#[derive(Debug, Clone, Deserialize)]
struct Jwk {
    #[serde(default)]
    kid: String,
    kty: String,
    #[serde(default)]
    n: String,
    #[serde(default)]
    e: String,
}

#[derive(Default)]
struct KeyCache {
    keys: Vec<Jwk>,
    fetched: Option<Instant>,
    max_age: Duration,
    /// The last refetch that an unknown `kid` forced before the keys were stale.
    forced: Option<Instant>,
}

/// The OpenID Connect client: discovery, the authorization URL, the code
/// exchange and ID-token verification against the issuer's cached keys.
pub struct Oidc {
    settings: AuthSettings,
    http: reqwest::Client,
    discovery: tokio::sync::Mutex<Option<Discovery>>,
    keys: tokio::sync::Mutex<KeyCache>,
    /// Key fetches so far (tests check the cache).
    key_fetches: Mutex<u64>,
}

impl Oidc {
    pub fn new(settings: AuthSettings) -> Oidc {
        Oidc {
            settings,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
            discovery: tokio::sync::Mutex::new(None),
            keys: tokio::sync::Mutex::new(KeyCache::default()),
            key_fetches: Mutex::new(0),
        }
    }

    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    /// How often the issuer's keys were fetched.
    pub fn key_fetches(&self) -> u64 {
        *self.key_fetches.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn get_json(&self, url: &str) -> Result<(Value, Option<Duration>), AuthError> {
        let fail = |message: String| AuthError::Issuer {
            url: url.to_string(),
            message,
        };
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| fail(e.without_url().to_string()))?;
        let status = response.status();
        let max_age = response
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.split(',')
                    .find_map(|d| d.trim().strip_prefix("max-age=")?.parse().ok())
            })
            .map(Duration::from_secs);
        if !status.is_success() {
            return Err(fail(format!("HTTP {status}")));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| fail(e.without_url().to_string()))?;
        if body.len() > 1 << 20 {
            return Err(fail("the answer is over 1 MiB".into()));
        }
        let value = serde_json::from_slice(&body).map_err(|e| fail(format!("not JSON: {e}")))?;
        Ok((value, max_age))
    }

    async fn discovery(&self) -> Result<Discovery, AuthError> {
        let mut cached = self.discovery.lock().await;
        if let Some(found) = cached.as_ref() {
            return Ok(found.clone());
        }
        let url = format!("{}/.well-known/openid-configuration", self.settings.issuer);
        let (value, _) = self.get_json(&url).await?;
        let found: Discovery = serde_json::from_value(value).map_err(|e| AuthError::Issuer {
            url: url.clone(),
            message: format!("not an OpenID configuration: {e}"),
        })?;
        // OpenID Connect Discovery §4.3: the document must name its issuer.
        if found.issuer.trim_end_matches('/') != self.settings.issuer {
            return Err(AuthError::Issuer {
                url,
                message: format!(
                    "it names the issuer {:?}, not {:?}",
                    found.issuer, self.settings.issuer
                ),
            });
        }
        *cached = Some(found.clone());
        Ok(found)
    }

    /// Start a sign-in: remember the verifier and nonce under the state, and
    /// the URL to send the browser to. `login_hint` is passed on (Google
    /// then skips its account chooser).
    pub async fn begin(
        &self,
        store: &dyn Store,
        redirect_uri: &str,
        return_to: &str,
        login_hint: Option<&str>,
        now: i64,
    ) -> Result<String, AuthError> {
        let discovery = self.discovery().await?;
        let state = random_token(32)?;
        let nonce = random_token(32)?;
        let verifier = random_token(32)?;
        let challenge = URL_SAFE_NO_PAD.encode(digest(&SHA256, verifier.as_bytes()));
        store.put_sign_in(&SignIn {
            state_sha256: sha256_hex(&state),
            verifier,
            nonce: nonce.clone(),
            return_to: safe_return_to(return_to).to_string(),
            expires_at: now + SIGN_IN_LIFETIME,
        })?;
        let mut params = vec![
            ("client_id", self.settings.client_id.as_str()),
            ("redirect_uri", redirect_uri),
            ("response_type", "code"),
            ("scope", "openid email profile"),
            ("state", &state),
            ("nonce", &nonce),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ];
        if let [only] = &self.settings.domains[..] {
            // Google shows only this domain's accounts.
            params.push(("hd", only));
        }
        if let Some(hint) = login_hint.filter(|h| crate::users::is_address(h)) {
            params.push(("login_hint", hint));
        }
        let mut url = reqwest::Url::parse(&discovery.authorization_endpoint).map_err(|e| {
            AuthError::Issuer {
                url: discovery.authorization_endpoint.clone(),
                message: format!("its authorization endpoint is not a URL: {e}"),
            }
        })?;
        url.query_pairs_mut().extend_pairs(&params);
        Ok(url.into())
    }

    /// Finish a sign-in at the callback: the state must be one this service
    /// issued (once), the code is exchanged with the verifier, and the ID
    /// token verified. Returns who signed in and where they were going.
    pub async fn finish(
        &self,
        store: &dyn Store,
        redirect_uri: &str,
        code: &str,
        state: &str,
        now: i64,
    ) -> Result<(Identity, String), AuthError> {
        let sign_in = store
            .take_sign_in(&sha256_hex(state), now)?
            .ok_or(AuthError::UnknownState)?;
        let discovery = self.discovery().await?;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("client_id", &self.settings.client_id),
            ("client_secret", &self.settings.client_secret),
            ("code_verifier", &sign_in.verifier),
        ];
        let url = discovery.token_endpoint.clone();
        let fail = |message: String| AuthError::Issuer {
            url: url.clone(),
            message,
        };
        let response = self
            .http
            .post(&url)
            .form(&form)
            .send()
            .await
            .map_err(|e| fail(e.without_url().to_string()))?;
        let status = response.status();
        let answer: Value = response
            .json()
            .await
            .map_err(|e| fail(format!("HTTP {status}, not JSON: {}", e.without_url())))?;
        if !status.is_success() {
            let text = |k: &str| answer[k].as_str().unwrap_or("").to_string();
            return Err(AuthError::Refused {
                error: text("error"),
                description: text("error_description"),
            });
        }
        let id_token = answer["id_token"]
            .as_str()
            .ok_or_else(|| fail("the token answer has no id_token".into()))?;
        let identity = self.verify(id_token, &sign_in.nonce, now).await?;
        Ok((identity, sign_in.return_to))
    }

    /// Verify an ID token: RS256 by a key the issuer publishes, and `iss`,
    /// `aud`, `exp`, `iat`, `nonce`, `email_verified` and the domain.
    pub async fn verify(
        &self,
        token: &str,
        nonce: &str,
        now: i64,
    ) -> Result<Identity, IdTokenError> {
        let mut parts = token.split('.');
        let (Some(header), Some(claims), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(IdTokenError::Malformed("three dot-separated parts"));
        };
        let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).ok();
        let header: Value = decode(header)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(IdTokenError::Malformed("the header is not base64url JSON"))?;
        let claims: Value = decode(claims)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(IdTokenError::Malformed("the claims are not base64url JSON"))?;
        let signature = decode(signature).ok_or(IdTokenError::Malformed("the signature"))?;
        let alg = header["alg"].as_str().unwrap_or("");
        if alg != "RS256" {
            return Err(IdTokenError::Algorithm(alg.to_string()));
        }
        let kid = header["kid"].as_str().unwrap_or("").to_string();
        let key = self.key(&kid).await?;
        let signed = &token[..token.rfind('.').unwrap_or(0)];
        let (n, e) = (
            URL_SAFE_NO_PAD
                .decode(&key.n)
                .map_err(|_| IdTokenError::Keys(format!("key {kid}: n is not base64url")))?,
            URL_SAFE_NO_PAD
                .decode(&key.e)
                .map_err(|_| IdTokenError::Keys(format!("key {kid}: e is not base64url")))?,
        );
        ring::signature::RsaPublicKeyComponents { n: &n, e: &e }
            .verify(
                &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                signed.as_bytes(),
                &signature,
            )
            .map_err(|_| IdTokenError::BadSignature)?;
        check_claims(&claims, &self.settings, nonce, now)
    }

    /// The issuer's key `kid`, from the cache while it is fresh; an unknown
    /// `kid` refetches once (keys rotate), not more than every few seconds.
    async fn key(&self, kid: &str) -> Result<Jwk, IdTokenError> {
        let mut cache = self.keys.lock().await;
        let fresh = cache.fetched.is_some_and(|at| at.elapsed() < cache.max_age);
        let known = cache.keys.iter().find(|k| k.kid == kid).cloned();
        if let (true, Some(key)) = (fresh, &known) {
            return Ok(key.clone());
        }
        let may_force = cache
            .forced
            .is_none_or(|at| at.elapsed() >= JWKS_REFETCH_FLOOR);
        if !fresh || may_force {
            if fresh {
                cache.forced = Some(Instant::now());
            }
            let discovery = self
                .discovery()
                .await
                .map_err(|e| IdTokenError::Keys(e.to_string()))?;
            let (value, max_age) = self
                .get_json(&discovery.jwks_uri)
                .await
                .map_err(|e| IdTokenError::Keys(e.to_string()))?;
            *self.key_fetches.lock().unwrap_or_else(|p| p.into_inner()) += 1;
            let keys: Vec<Jwk> = serde_json::from_value(value["keys"].clone())
                .map_err(|e| IdTokenError::Keys(format!("not a JWK set: {e}")))?;
            cache.keys = keys.into_iter().filter(|k| k.kty == "RSA").collect();
            cache.fetched = Some(Instant::now());
            // Google says how long its keys may be cached; without a word, an hour.
            cache.max_age = max_age.unwrap_or(Duration::from_secs(3600));
        }
        cache
            .keys
            .iter()
            .find(|k| k.kid == kid)
            .cloned()
            .ok_or_else(|| IdTokenError::UnknownKey(kid.to_string()))
    }
}

/// The claims of a token whose signature verified.
fn check_claims(
    claims: &Value,
    settings: &AuthSettings,
    nonce: &str,
    now: i64,
) -> Result<Identity, IdTokenError> {
    let issuer = claims["iss"].as_str().unwrap_or("");
    // Google's ID tokens say either form of its issuer.
    let google =
        settings.issuer == "https://accounts.google.com" && issuer == "accounts.google.com";
    if issuer.trim_end_matches('/') != settings.issuer && !google {
        return Err(IdTokenError::Issuer(issuer.to_string()));
    }
    let audience_ok = match &claims["aud"] {
        Value::String(aud) => *aud == settings.client_id,
        Value::Array(auds) => {
            auds.iter().any(|a| a.as_str() == Some(&settings.client_id))
                && claims["azp"].as_str() == Some(&settings.client_id)
        }
        _ => false,
    };
    if !audience_ok {
        return Err(IdTokenError::Audience);
    }
    let exp = claims["exp"]
        .as_i64()
        .ok_or(IdTokenError::Malformed("exp"))?;
    if exp + SKEW <= now {
        return Err(IdTokenError::Expired);
    }
    if claims["iat"].as_i64().is_some_and(|iat| iat > now + SKEW) {
        return Err(IdTokenError::NotYetValid);
    }
    match claims["nonce"].as_str() {
        Some(given) if same_secret(given, nonce) => {}
        _ => return Err(IdTokenError::Nonce),
    }
    let email = claims["email"]
        .as_str()
        .ok_or(IdTokenError::Malformed(
            "no email claim: ask for the email scope",
        ))?
        .to_ascii_lowercase();
    // Google sends a boolean; some issuers the string "true".
    let verified = matches!(&claims["email_verified"], Value::Bool(true))
        || claims["email_verified"].as_str() == Some("true");
    if !verified {
        return Err(IdTokenError::EmailNotVerified);
    }
    let domain = claims["hd"]
        .as_str()
        .map(str::to_ascii_lowercase)
        .unwrap_or_else(|| {
            email
                .rsplit_once('@')
                .map(|(_, d)| d.to_string())
                .unwrap_or_default()
        });
    let email_domain = email.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
    if !settings.domains.contains(&domain) || !settings.domains.iter().any(|d| d == email_domain) {
        return Err(IdTokenError::Domain(domain));
    }
    Ok(Identity {
        email,
        subject: claims["sub"].as_str().unwrap_or("").to_string(),
        name: claims["name"].as_str().map(str::to_string),
    })
}

/// Only a path on this site: `/x`, not `//evil.example` or `https://...`.
pub fn safe_return_to(path: &str) -> &str {
    let fine = path.starts_with('/')
        && !path.starts_with("//")
        && !path.starts_with("/\\")
        && !path.chars().any(|c| c.is_control());
    if fine { path } else { "/" }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> AuthSettings {
        AuthSettings {
            client_id: "client".into(),
            client_secret: "secret".into(),
            issuer: "https://accounts.google.com".into(),
            admins: vec!["admin@example.com".into()],
            domains: vec!["example.com".into()],
            session_lifetime: Duration::from_secs(3600),
        }
    }

    fn claims() -> Value {
        serde_json::json!({
            "iss": "https://accounts.google.com", "aud": "client", "azp": "client",
            "sub": "1", "email": "alice@example.com", "email_verified": true,
            "hd": "example.com", "nonce": "n", "iat": 1000, "exp": 4600,
        })
    }

    #[test]
    fn claims_are_checked_one_by_one() {
        let s = settings();
        assert_eq!(
            check_claims(&claims(), &s, "n", 2000).unwrap().email,
            "alice@example.com"
        );
        let with = |k: &str, v: Value| {
            let mut c = claims();
            c[k] = v;
            check_claims(&c, &s, "n", 2000)
        };
        assert!(with("iss", "accounts.google.com".into()).is_ok());
        assert_eq!(
            with("iss", "https://evil.example".into()),
            Err(IdTokenError::Issuer("https://evil.example".into()))
        );
        assert_eq!(with("aud", "other".into()), Err(IdTokenError::Audience));
        assert_eq!(with("exp", 1900.into()), Err(IdTokenError::Expired));
        assert_eq!(with("iat", 9000.into()), Err(IdTokenError::NotYetValid));
        assert_eq!(with("nonce", "m".into()), Err(IdTokenError::Nonce));
        assert_eq!(
            with("email_verified", false.into()),
            Err(IdTokenError::EmailNotVerified)
        );
        assert_eq!(
            with("hd", "other.com".into()),
            Err(IdTokenError::Domain("other.com".into()))
        );
        let mut c = claims();
        c.as_object_mut().unwrap().remove("hd");
        c["email"] = "mallory@gmail.com".into();
        assert_eq!(
            check_claims(&c, &s, "n", 2000),
            Err(IdTokenError::Domain("gmail.com".into()))
        );
        // A Workspace hd with an address of another domain is refused too.
        let mut c = claims();
        c["email"] = "alice@gmail.com".into();
        assert!(check_claims(&c, &s, "n", 2000).is_err());
        c = claims();
        c.as_object_mut().unwrap().remove("nonce");
        assert_eq!(check_claims(&c, &s, "n", 2000), Err(IdTokenError::Nonce));
    }

    #[test]
    fn who_may_do_what() {
        let person = |email: &str, admin| {
            Caller::Person(Person {
                email: email.into(),
                admin,
                session_sha256: String::new(),
                csrf: String::new(),
            })
        };
        let device = Caller::Device(Device {
            id: "d".into(),
            room: "room-a@resource.calendar.google.com".into(),
            token_sha256: String::new(),
            created_at: 0,
        });
        assert!(Caller::Service.may_administer());
        assert!(person("admin@example.com", true).may_read_user("bob@example.com"));
        assert!(!person("alice@example.com", false).may_read_user("bob@example.com"));
        assert!(device.may_read_room("ROOM-A@resource.calendar.google.com"));
        assert!(!device.may_read_room("room-b@resource.calendar.google.com"));
        assert!(!device.may_read_user("alice@example.com"));
        assert!(!Caller::Anonymous.may_read_user("alice@example.com"));
    }

    #[test]
    fn return_paths_stay_on_the_site() {
        assert_eq!(safe_return_to("/admin"), "/admin");
        for hostile in [
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "admin",
            "/\nx",
        ] {
            assert_eq!(safe_return_to(hostile), "/", "{hostile:?}");
        }
    }

    #[test]
    fn addresses_are_strict() {
        assert!(crate::users::is_address(
            "room-fjord@resource.calendar.google.com"
        ));
        for bad in [
            "a@b",
            "a b@example.com",
            "a@example.com\n",
            "<a>@example.com",
            "@example.com",
            "a@.example.com",
            "a\0@example.com",
        ] {
            assert!(!crate::users::is_address(bad), "{bad:?}");
        }
    }

    #[test]
    fn bearer_scheme_in_any_case() {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert("authorization", "bEaReR  tok ".parse().unwrap());
        assert_eq!(bearer(&headers), Some("tok"));
        headers.insert("authorization", "Basic tok".parse().unwrap());
        assert_eq!(bearer(&headers), None);
    }
}
