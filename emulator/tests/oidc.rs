//! OpenID Connect sign-in against the emulator over real HTTP: discovery,
//! the account chooser, `login_hint`, the code flow with PKCE, ID tokens
//! verified against the JWKS, Google's errors, loopback redirect matching,
//! key rotation and code expiry.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hcal_emulator::{Emulator, Fault, Seed};
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use serde_json::{Value, json};

const CLIENT_ID: &str = "hcal-demo.apps.googleusercontent.com";
const CLIENT_SECRET: &str = "GOCSPX-hcal-demo-secret";
const REDIRECT: &str = "http://127.0.0.1:8443/auth/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-verifier";

async fn start(seed: Seed) -> Emulator {
    Emulator::start(seed, "127.0.0.1:0").await.unwrap()
}

async fn demo() -> Emulator {
    start(Seed::demo().unwrap()).await
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ))
}

/// The standard request hcal makes: S256, a nonce and a state.
fn params(login_hint: Option<&str>) -> Vec<(&'static str, String)> {
    let mut params = vec![
        ("client_id", CLIENT_ID.to_string()),
        ("redirect_uri", REDIRECT.to_string()),
        ("response_type", "code".to_string()),
        ("scope", "openid email profile".to_string()),
        ("state", "st-1".to_string()),
        ("nonce", "n-0S6_WzA2Mj".to_string()),
        ("code_challenge", challenge(VERIFIER)),
        ("code_challenge_method", "S256".to_string()),
    ];
    if let Some(hint) = login_hint {
        params.push(("login_hint", hint.to_string()));
    }
    params
}

fn set(params: &mut Vec<(&'static str, String)>, key: &'static str, value: &str) {
    params.retain(|(k, _)| *k != key);
    params.push((key, value.to_string()));
}

fn unset(params: &mut Vec<(&'static str, String)>, key: &str) {
    params.retain(|(k, _)| *k != key);
}

struct Answer {
    status: u16,
    location: Option<String>,
    body: String,
}

async fn authorize(emulator: &Emulator, params: &[(&str, String)]) -> Answer {
    let response = http()
        .get(format!("{}/o/oauth2/v2/auth", emulator.base_url()))
        .query(params)
        .send()
        .await
        .unwrap();
    answer(response).await
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string());
    Answer {
        status,
        location,
        body: response.text().await.unwrap(),
    }
}

fn query_of(location: &str) -> HashMap<String, String> {
    reqwest::Url::parse(location)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Sign `user` in through `login_hint`; the code.
async fn code_for(
    emulator: &Emulator,
    user: &str,
    params: &mut Vec<(&'static str, String)>,
) -> String {
    set(params, "login_hint", user);
    let answer = authorize(emulator, params).await;
    assert_eq!(answer.status, 302, "{}", answer.body);
    query_of(&answer.location.unwrap())["code"].clone()
}

async fn token(emulator: &Emulator, form: &[(&str, &str)]) -> (u16, Value) {
    let response = http()
        .post(emulator.token_url())
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn exchange(emulator: &Emulator, code: &str, verifier: Option<&str>) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ];
    if let Some(verifier) = verifier {
        form.push(("code_verifier", verifier));
    }
    token(emulator, &form).await
}

fn error_of(answer: &(u16, Value)) -> (u16, &str, &str) {
    (
        answer.0,
        answer.1["error"].as_str().unwrap_or(""),
        answer.1["error_description"].as_str().unwrap_or(""),
    )
}

async fn get_json(url: &str) -> (u16, reqwest::header::HeaderMap, Value) {
    let response = http().get(url).send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.json().await.unwrap())
}

fn decode_part(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// Verify an ID token's RS256 signature against the emulator's JWKS as a
/// relying party does (select the key by `kid`); its header and claims.
async fn verify(emulator: &Emulator, id_token: &str) -> Result<(Value, Value), String> {
    let (_, _, jwks) = get_json(&format!("{}/oauth2/v3/certs", emulator.base_url())).await;
    let parts: Vec<&str> = id_token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header = decode_part(parts[0]);
    let claims = decode_part(parts[1]);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "JWT");
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .ok_or_else(|| format!("kid {} not in the JWKS", header["kid"]))?;
    let n = URL_SAFE_NO_PAD.decode(key["n"].as_str().unwrap()).unwrap();
    let e = URL_SAFE_NO_PAD.decode(key["e"].as_str().unwrap()).unwrap();
    let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    let signed = &id_token[..id_token.rfind('.').unwrap()];
    RsaPublicKeyComponents { n: &n, e: &e }
        .verify(&RSA_PKCS1_2048_8192_SHA256, signed.as_bytes(), &signature)
        .map_err(|_| "bad signature".to_string())?;
    Ok((header, claims))
}

#[tokio::test(flavor = "multi_thread")]
async fn discovery_describes_the_emulator_as_google_describes_itself() {
    let emulator = demo().await;
    let base = emulator.base_url().to_string();
    assert_eq!(emulator.oidc_issuer(), base);
    let (status, headers, doc) =
        get_json(&format!("{base}/.well-known/openid-configuration")).await;
    assert_eq!(status, 200);
    assert!(
        headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    assert_eq!(doc["issuer"], base);
    assert_eq!(
        doc["authorization_endpoint"],
        format!("{base}/o/oauth2/v2/auth")
    );
    assert_eq!(doc["token_endpoint"], format!("{base}/token"));
    assert_eq!(doc["jwks_uri"], format!("{base}/oauth2/v3/certs"));
    assert_eq!(doc["userinfo_endpoint"], format!("{base}/v1/userinfo"));
    assert_eq!(doc["revocation_endpoint"], format!("{base}/revoke"));
    assert_eq!(doc["response_types_supported"][0], "code");
    assert_eq!(doc["subject_types_supported"], json!(["public"]));
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
    assert_eq!(
        doc["scopes_supported"],
        json!(["openid", "email", "profile"])
    );
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        json!(["client_secret_post", "client_secret_basic"])
    );
    assert_eq!(
        doc["code_challenge_methods_supported"],
        json!(["plain", "S256"])
    );
    let claims = doc["claims_supported"].as_array().unwrap();
    for claim in [
        "iss",
        "aud",
        "sub",
        "email",
        "email_verified",
        "hd",
        "name",
        "nonce",
    ] {
        assert!(claims.iter().any(|c| c == claim), "{claim}");
    }
    assert!(
        doc["grant_types_supported"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == "authorization_code")
    );
    assert_eq!(
        emulator.oauth_client(),
        Some((CLIENT_ID.to_string(), CLIENT_SECRET.to_string()))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sign_in_page_lists_the_domain_and_escapes_text() {
    let emulator = start(
        Seed::demo()
            .unwrap()
            .with_user("mallory@example.com", "<script>alert(1)</script> & \"Co\""),
    )
    .await;
    let mut request = params(None);
    set(&mut request, "state", "\"><img src=x onerror=alert(2)>");
    let page = authorize(&emulator, &request).await;
    assert_eq!(page.status, 200);
    assert!(page.location.is_none());
    let html = page.body;
    assert!(html.contains("Choose an account"));
    assert!(html.contains("to continue to <b>hcal</b>"));
    for (email, name) in [
        ("alice@example.com", "Alice Example"),
        ("bob@example.com", "Bob Builder"),
        ("eve@example.com", "Eve Outside"),
    ] {
        assert!(
            html.contains(&format!("<a class=\"account\" data-email=\"{email}\"")),
            "{email}"
        );
        assert!(html.contains(name), "{name}");
    }
    assert!(!html.contains("room-fjord"), "rooms do not sign in");
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Co&quot;"));
    assert!(!html.contains("<img src=x"));

    // Choosing bob completes the sign-in with the same parameters.
    let start_of_link = html.find("data-email=\"bob@example.com\" href=\"").unwrap();
    let rest = &html[start_of_link + "data-email=\"bob@example.com\" href=\"".len()..];
    let href = rest[..rest.find('"').unwrap()].replace("&amp;", "&");
    assert!(href.starts_with("/o/oauth2/v2/auth/choose?"), "{href}");
    let chosen = answer(
        http()
            .get(format!("{}{href}", emulator.base_url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(chosen.status, 302, "{}", chosen.body);
    let back = query_of(chosen.location.as_ref().unwrap());
    assert_eq!(back["state"], "\"><img src=x onerror=alert(2)>");
    let (status, tokens) = exchange(&emulator, &back["code"], Some(VERIFIER)).await;
    assert_eq!(status, 200, "{tokens}");
    let (_, claims) = verify(&emulator, tokens["id_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(claims["email"], "bob@example.com");

    // Choosing someone not in the domain is refused.
    let mut unknown = request.clone();
    unknown.push(("email", "zed@example.com".into()));
    let refused = answer(
        http()
            .get(format!("{}/o/oauth2/v2/auth/choose", emulator.base_url()))
            .query(&unknown)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(refused.status, 400);
    assert!(refused.location.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_login_hint_signs_in_directly_and_echoes_the_state() {
    let emulator = demo().await;
    let state = "a b&c=d/é+%25?#";
    let mut request = params(Some("Alice@Example.com"));
    set(&mut request, "state", state);
    let answer = authorize(&emulator, &request).await;
    assert_eq!(answer.status, 302, "{}", answer.body);
    let location = answer.location.unwrap();
    assert!(
        location.starts_with("http://127.0.0.1:8443/auth/callback?code="),
        "{location}"
    );
    assert!(
        location.contains("&state=a%20b%26c%3Dd%2F%C3%A9%2B%2525%3F%23&"),
        "{location}"
    );
    let back = query_of(&location);
    assert_eq!(back["state"], state);
    assert_eq!(back["authuser"], "0");
    assert_eq!(back["hd"], "example.com");
    assert_eq!(back["prompt"], "none");
    assert!(back["scope"].split(' ').any(|s| s == "openid"));
    assert!(back["code"].len() > 40);

    // Sign-in has nothing to do with delegation.
    let mut eve = params(Some("eve@example.com"));
    let code = code_for(&emulator, "eve@example.com", &mut eve).await;
    let (status, answer) = exchange(&emulator, &code, Some(VERIFIER)).await;
    assert_eq!(status, 200, "{answer}");

    // A room, or a stranger, is not an account: the chooser instead.
    for hint in ["room-fjord@resource.calendar.google.com", "zed@other.org"] {
        let page = authorize(&emulator, &params(Some(hint))).await;
        assert_eq!(page.status, 200, "{hint}");
        assert!(page.body.contains("Choose an account"));
    }

    let audit = emulator.audit();
    let entry = audit
        .iter()
        .find(|e| e.route == "oauth2.authorize" && e.status == 302)
        .unwrap();
    assert_eq!(entry.user.as_deref(), Some("alice@example.com"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_code_flow_gives_an_id_token_that_verifies_against_the_jwks() {
    let emulator = demo().await;
    let code = code_for(&emulator, "alice@example.com", &mut params(None)).await;
    let (status, answer) = exchange(&emulator, &code, Some(VERIFIER)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["token_type"], "Bearer");
    assert_eq!(answer["expires_in"], 3599);
    let scope = answer["scope"].as_str().unwrap();
    assert!(scope.split(' ').any(|s| s == "openid"), "{scope}");
    let access_token = answer["access_token"].as_str().unwrap();
    let id_token = answer["id_token"].as_str().unwrap();

    let (header, claims) = verify(&emulator, id_token).await.unwrap();
    assert_eq!(header["kid"], emulator.oidc_kids()[0]);
    let now = emulator.now().as_second();
    assert_eq!(claims["iss"], emulator.oidc_issuer());
    assert_eq!(claims["aud"], CLIENT_ID);
    assert_eq!(claims["azp"], CLIENT_ID);
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["hd"], "example.com");
    assert_eq!(claims["name"], "Alice Example");
    assert_eq!(claims["given_name"], "Alice");
    assert_eq!(claims["family_name"], "Example");
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
    let sub = claims["sub"].as_str().unwrap();
    assert_eq!(sub.len(), 21);
    assert!(sub.bytes().all(|b| b.is_ascii_digit()));
    let iat = claims["iat"].as_i64().unwrap();
    assert!((iat - now).abs() <= 5);
    assert_eq!(claims["exp"].as_i64().unwrap(), iat + 3600);
    let digest = ring::digest::digest(&ring::digest::SHA256, access_token.as_bytes());
    assert_eq!(
        claims["at_hash"],
        URL_SAFE_NO_PAD.encode(&digest.as_ref()[..16])
    );

    // The same user, the same sub, in another sign-in.
    let again = code_for(&emulator, "alice@example.com", &mut params(None)).await;
    let (_, second) = exchange(&emulator, &again, Some(VERIFIER)).await;
    let (_, second) = verify(&emulator, second["id_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(second["sub"], sub);

    // No nonce asked, none given.
    let mut request = params(None);
    unset(&mut request, "nonce");
    let code = code_for(&emulator, "bob@example.com", &mut request).await;
    let (_, answer_bob) = exchange(&emulator, &code, Some(VERIFIER)).await;
    let (_, bob) = verify(&emulator, answer_bob["id_token"].as_str().unwrap())
        .await
        .unwrap();
    assert!(bob.get("nonce").is_none());
    assert_ne!(bob["sub"], sub);

    // The JWKS as Google serves it.
    let (status, headers, jwks) =
        get_json(&format!("{}/oauth2/v3/certs", emulator.base_url())).await;
    assert_eq!(status, 200);
    assert_eq!(
        headers["cache-control"],
        "public, max-age=20000, must-revalidate, no-transform"
    );
    let key = &jwks["keys"][0];
    assert_eq!(
        (&key["kty"], &key["alg"], &key["use"]),
        (&json!("RSA"), &json!("RS256"), &json!("sig"))
    );
    let n = URL_SAFE_NO_PAD.decode(key["n"].as_str().unwrap()).unwrap();
    assert_eq!(n.len(), 256, "2048 bits, no leading zero byte");
    assert_ne!(n[0], 0);
    assert_eq!(key["e"], "AQAB");

    // Userinfo, at both of Google's addresses.
    for path in ["/v1/userinfo", "/oauth2/v3/userinfo"] {
        let response = http()
            .get(format!("{}{path}", emulator.base_url()))
            .bearer_auth(access_token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let info: Value = response.json().await.unwrap();
        assert_eq!(info["sub"], sub);
        assert_eq!(info["email"], "alice@example.com");
        assert_eq!(info["email_verified"], true);
        assert_eq!(info["name"], "Alice Example");
        assert_eq!(info["hd"], "example.com");
    }
    let response = http()
        .get(format!("{}/v1/userinfo", emulator.base_url()))
        .bearer_auth("ya29.not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    // Revoked, the access token is gone.
    let response = http()
        .post(format!("{}/revoke", emulator.base_url()))
        .form(&[("token", access_token)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = http()
        .get(format!("{}/v1/userinfo", emulator.base_url()))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    let routes: Vec<String> = emulator.audit().into_iter().map(|e| e.route).collect();
    for route in [
        "oauth2.authorize",
        "token",
        "oauth2.certs",
        "oauth2.userinfo",
        "oauth2.revoke",
    ] {
        assert!(routes.iter().any(|r| r == route), "{route}: {routes:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_authorization_requests_get_google_error_pages() {
    let emulator = demo().await;
    let page_with = |status: u16, text: &'static [&'static str]| {
        move |answer: Answer| {
            assert_eq!(answer.status, status, "{}", answer.body);
            assert!(answer.location.is_none(), "errors are never redirected");
            for text in text {
                assert!(answer.body.contains(text), "{text}: {}", answer.body);
            }
        }
    };

    let mut request = params(Some("alice@example.com"));
    set(
        &mut request,
        "client_id",
        "nobody.apps.googleusercontent.com",
    );
    page_with(
        401,
        &[
            "Error 401: invalid_client",
            "The OAuth client was not found.",
        ],
    )(authorize(&emulator, &request).await);

    let mut request = params(Some("alice@example.com"));
    set(
        &mut request,
        "redirect_uri",
        "https://evil.example/auth/callback",
    );
    page_with(400, &["Error 400: redirect_uri_mismatch"])(authorize(&emulator, &request).await);

    let mut request = params(Some("alice@example.com"));
    unset(&mut request, "response_type");
    page_with(400, &["Error 400: invalid_request", "response_type"])(
        authorize(&emulator, &request).await,
    );

    let mut request = params(Some("alice@example.com"));
    set(&mut request, "response_type", "token");
    page_with(400, &["Error 400: invalid_request", "token"])(authorize(&emulator, &request).await);

    let mut request = params(Some("alice@example.com"));
    set(&mut request, "scope", "email profile");
    page_with(400, &["Error 400: invalid_request", "openid"])(authorize(&emulator, &request).await);

    let mut request = params(Some("alice@example.com"));
    set(&mut request, "code_challenge_method", "S512");
    page_with(
        400,
        &["Error 400: invalid_request", "code_challenge_method"],
    )(authorize(&emulator, &request).await);

    // Faults and the audit log cover the sign-in routes too.
    emulator.set_faults(vec![Fault {
        route: "oauth2.certs".into(),
        script: vec!["503".into()],
        ..Fault::default()
    }]);
    let url = format!("{}/oauth2/v3/certs", emulator.base_url());
    assert_eq!(http().get(&url).send().await.unwrap().status(), 503);
    assert_eq!(http().get(&url).send().await.unwrap().status(), 200);
    assert!(
        emulator
            .audit()
            .iter()
            .any(|e| e.route == "oauth2.certs" && e.status == 503)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_endpoint_refuses_codes_as_google_does() {
    let emulator = start(Seed::demo().unwrap().with_oauth_client(
        "other.apps.googleusercontent.com",
        "GOCSPX-other",
        &["http://127.0.0.1/auth/callback"],
    ))
    .await;
    let alice = "alice@example.com";

    // Unknown client, wrong secret: nothing about the code is looked at.
    let code = code_for(&emulator, alice, &mut params(None)).await;
    let base = |client_id: &'static str, secret: &'static str| {
        vec![
            ("grant_type", "authorization_code"),
            ("redirect_uri", REDIRECT),
            ("client_id", client_id),
            ("client_secret", secret),
            ("code_verifier", VERIFIER),
        ]
    };
    let mut form: Vec<(&str, &str)> = base("nobody.apps.googleusercontent.com", CLIENT_SECRET);
    form.push(("code", code.as_str()));
    assert_eq!(
        error_of(&token(&emulator, &form).await),
        (401, "invalid_client", "The OAuth client was not found.")
    );
    let mut form: Vec<(&str, &str)> = base(CLIENT_ID, "GOCSPX-wrong");
    form.push(("code", code.as_str()));
    assert_eq!(
        error_of(&token(&emulator, &form).await),
        (401, "invalid_client", "Unauthorized")
    );

    // HTTP Basic works in place of the form's credentials.
    let basic = STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
    let response = http()
        .post(emulator.token_url())
        .header("authorization", format!("Basic {basic}"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert!(answer["id_token"].is_string());
    let response = http()
        .post(emulator.token_url())
        .basic_auth(CLIENT_ID, Some("GOCSPX-wrong"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    // A code is good once.
    assert_eq!(
        error_of(&exchange(&emulator, &code, Some(VERIFIER)).await),
        (400, "invalid_grant", "Bad Request")
    );
    assert_eq!(
        error_of(&exchange(&emulator, "4/0Anever-issued", Some(VERIFIER)).await),
        (400, "invalid_grant", "Bad Request")
    );

    // A wrong verifier spends the code too.
    let code = code_for(&emulator, alice, &mut params(None)).await;
    assert_eq!(
        error_of(
            &exchange(
                &emulator,
                &code,
                Some("the-wrong-verifier-of-sufficient-length-0123")
            )
            .await
        ),
        (400, "invalid_grant", "Invalid code verifier.")
    );
    assert_eq!(
        error_of(&exchange(&emulator, &code, Some(VERIFIER)).await),
        (400, "invalid_grant", "Bad Request")
    );

    let code = code_for(&emulator, alice, &mut params(None)).await;
    assert_eq!(
        error_of(&exchange(&emulator, &code, None).await),
        (400, "invalid_grant", "Missing code verifier.")
    );

    // The redirect URI must be the one the code was issued for.
    let code = code_for(&emulator, alice, &mut params(None)).await;
    let (status, answer) = token(
        &emulator,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9999/auth/callback"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(
        error_of(&(status, answer)),
        (400, "redirect_uri_mismatch", "Bad Request")
    );

    // A code issued to another client is no good to this one.
    let code = code_for(&emulator, alice, &mut params(None)).await;
    let (status, answer) = token(
        &emulator,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", "other.apps.googleusercontent.com"),
            ("client_secret", "GOCSPX-other"),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(error_of(&(status, answer)).1, "invalid_grant");

    // Plain PKCE, and no PKCE at all, work when the request said so.
    let mut plain = params(None);
    set(&mut plain, "code_challenge", VERIFIER);
    unset(&mut plain, "code_challenge_method");
    let code = code_for(&emulator, alice, &mut plain).await;
    assert_eq!(exchange(&emulator, &code, Some(VERIFIER)).await.0, 200);
    let mut none = params(None);
    unset(&mut none, "code_challenge");
    unset(&mut none, "code_challenge_method");
    let code = code_for(&emulator, alice, &mut none).await;
    assert_eq!(exchange(&emulator, &code, None).await.0, 200);

    // Other grants keep their answers.
    assert_eq!(
        error_of(&token(&emulator, &[("grant_type", "client_credentials")]).await).1,
        "unsupported_grant_type"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn loopback_redirect_uris_match_any_port() {
    let emulator = demo().await;
    for (redirect, ok) in [
        ("http://127.0.0.1/auth/callback", true),
        ("http://127.0.0.1:54321/auth/callback", true),
        ("http://localhost:3000/auth/callback", true),
        ("http://127.0.0.1:54321/auth/other", false),
        ("https://127.0.0.1/auth/callback", false),
        ("http://[::1]:3000/auth/callback", false),
        ("http://127.0.0.1.nip.io/auth/callback", false),
    ] {
        let mut request = params(Some("alice@example.com"));
        set(&mut request, "redirect_uri", redirect);
        let answer = authorize(&emulator, &request).await;
        if ok {
            assert_eq!(answer.status, 302, "{redirect}");
            assert!(
                answer
                    .location
                    .unwrap()
                    .starts_with(&format!("{redirect}?code="))
            );
        } else {
            assert_eq!(answer.status, 400, "{redirect}");
            assert!(answer.body.contains("redirect_uri_mismatch"));
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn rotating_the_key_changes_the_kid_and_the_jwks_lists_both() {
    let emulator = demo().await;
    let first = emulator.oidc_kids();
    assert_eq!(first.len(), 1);
    let before = emulator.mint_id_token(json!({ "sub": "1" }), None);
    let (header, _) = verify(&emulator, &before).await.unwrap();
    assert_eq!(header["kid"], first[0]);

    emulator.rotate_oidc_key();
    let kids = emulator.oidc_kids();
    assert_eq!(kids.len(), 2);
    assert_ne!(kids[0], first[0]);
    assert_eq!(kids[1], first[0]);
    let (_, _, jwks) = get_json(&format!("{}/oauth2/v3/certs", emulator.base_url())).await;
    let listed: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(listed, kids.iter().map(String::as_str).collect::<Vec<_>>());

    // New sign-ins carry the new kid; the old token still verifies.
    let code = code_for(&emulator, "alice@example.com", &mut params(None)).await;
    let (_, answer) = exchange(&emulator, &code, Some(VERIFIER)).await;
    let (header, _) = verify(&emulator, answer["id_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(header["kid"], kids[0]);
    assert!(verify(&emulator, &before).await.is_ok());

    // Minted tokens: the claims as given, the kid as asked.
    let claims = json!({ "iss": "https://evil.example", "aud": "x", "exp": 1 });
    let minted = emulator.mint_id_token(claims.clone(), Some("no-such-kid"));
    let parts: Vec<&str> = minted.split('.').collect();
    assert_eq!(decode_part(parts[0])["kid"], "no-such-kid");
    assert_eq!(decode_part(parts[1]), claims);
    assert!(verify(&emulator, &minted).await.is_err());

    // A good signature by a key nobody published.
    let unpublished = emulator.mint_id_token_unpublished(json!({ "sub": "1" }));
    let kid = decode_part(unpublished.split('.').next().unwrap())["kid"].clone();
    assert!(!kids.iter().any(|k| *k == kid));
    assert!(
        verify(&emulator, &unpublished)
            .await
            .unwrap_err()
            .contains("not in the JWKS")
    );

    // Over HTTP too.
    let response = http()
        .post(format!("{}/emulator/oidc/rotate-key", emulator.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        emulator.oidc_kids(),
        vec![first[0].clone(), kids[0].clone()]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn codes_expire_after_ten_minutes_and_tokens_age_with_the_clock() {
    let emulator = demo().await;
    let code = code_for(&emulator, "alice@example.com", &mut params(None)).await;
    emulator.advance_clock(590);
    let (status, answer) = exchange(&emulator, &code, Some(VERIFIER)).await;
    assert_eq!(status, 200, "{answer}");
    let (_, claims) = verify(&emulator, answer["id_token"].as_str().unwrap())
        .await
        .unwrap();
    assert!((claims["iat"].as_i64().unwrap() - emulator.now().as_second()).abs() <= 5);

    let code = code_for(&emulator, "alice@example.com", &mut params(None)).await;
    emulator.advance_clock(601);
    assert_eq!(
        error_of(&exchange(&emulator, &code, Some(VERIFIER)).await),
        (400, "invalid_grant", "Bad Request")
    );

    // An access token from sign-in lasts an hour on the emulator clock.
    let access_token = answer["access_token"].as_str().unwrap();
    emulator.advance_clock(3600);
    let response = http()
        .get(format!("{}/v1/userinfo", emulator.base_url()))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}
