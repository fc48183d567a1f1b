//! Who sees what, over real HTTP: people signed in through the emulator's
//! Google sign-in (OIDC code flow with PKCE), room devices, service tokens
//! and strangers knock on every route; sessions survive a restart and end
//! at sign-out; changes need the session's CSRF token from this site; ID
//! tokens that are wrong in any way are refused; invitation text is shown
//! as text.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hcal::auth::{AuthSettings, IdTokenError};
use hcal::serve::{ServeSettings, Service};
use hcal::store::{SqliteStore, Store};
use hcal_emulator::Emulator;
use serde_json::{Value, json};

const SERVICE_TOKEN: &str = "auth-test-service-token";
const ALICE: &str = "alice@example.com";
const BOB: &str = "bob@example.com";
const ADMIN: &str = "admin@example.com";
const FJORD: &str = "room-fjord@resource.calendar.google.com";
const ATLAS: &str = "room-atlas@resource.calendar.google.com";

fn auth_settings(emulator: &Emulator) -> AuthSettings {
    let (client_id, client_secret) = emulator
        .oauth_client()
        .expect("the demo has an OAuth client");
    AuthSettings {
        client_id,
        client_secret,
        issuer: emulator.oidc_issuer(),
        admins: vec![ADMIN.into()],
        domains: vec!["example.com".into()],
        session_lifetime: Duration::from_secs(3600),
    }
}

fn build(emulator: &Emulator, store: Arc<dyn Store>) -> Arc<Service> {
    let settings = ServeSettings {
        auth: Some(auth_settings(emulator)),
        ..common::serve_settings(SERVICE_TOKEN)
    };
    common::service(emulator, store, common::webex_for(emulator), settings)
}

/// A client that does not follow redirects (each hop is checked).
fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .unwrap_or_else(|| panic!("no Location in a {} answer", response.status()))
        .to_str()
        .unwrap()
        .to_string()
}

/// A person signed in as a browser would: hcal → Google (login_hint) →
/// the callback → a session cookie.
struct Session {
    cookie: String,
    csrf: String,
}

async fn sign_in(api: &str, email: &str) -> Session {
    let http = http();
    let login = http
        .get(format!("{api}/auth/login?login_hint={email}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        login.status().as_u16(),
        303,
        "login redirects to the issuer"
    );
    let at_google = http.get(location(&login)).send().await.unwrap();
    assert_eq!(
        at_google.status().as_u16(),
        302,
        "login_hint signs in directly"
    );
    let callback = location(&at_google);
    assert!(
        callback.starts_with(&format!("{api}/auth/callback?")),
        "{callback}"
    );
    let back = http.get(&callback).send().await.unwrap();
    assert_eq!(
        back.status().as_u16(),
        303,
        "{}",
        back.text().await.unwrap()
    );
    let set_cookie = back.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"),
        "{set_cookie}"
    );
    let cookie = set_cookie.split(';').next().unwrap().to_string();
    let me: Value = http
        .get(format!("{api}/api/v1/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], email);
    Session {
        cookie,
        csrf: me["csrf_token"].as_str().unwrap().to_string(),
    }
}

/// Events a few hours from now, so the list "from today on" has them
/// whatever the date.
fn soon(hours: i64) -> (String, String) {
    let start = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(hours);
    let end = start + jiff::SignedDuration::from_mins(30);
    (start.to_string(), end.to_string())
}

/// alice organises `id` and invites bob; it is in her calendar (and his).
fn book(emulator: &Emulator, id: &str, summary: &str, extra: Value) {
    let (start, end) = soon(3);
    let mut event = json!({
        "id": id, "status": "confirmed", "summary": summary,
        "start": {"dateTime": start}, "end": {"dateTime": end},
        "organizer": {"email": ALICE},
        "attendees": [
            {"email": ALICE, "organizer": true, "responseStatus": "accepted"},
            {"email": BOB, "responseStatus": "needsAction"},
            {"email": FJORD, "resource": true, "responseStatus": "accepted"},
        ],
    });
    for (k, v) in extra.as_object().unwrap() {
        event[k] = v.clone();
    }
    emulator.change_event(ALICE, event).unwrap();
}

/// Activate users with the service token, then wait until `key` is stored for alice.
async fn activate_and_wait(api: &str, store: &dyn Store, users: &[&str], key: &str) {
    let http = http();
    for user in users {
        let status = http
            .post(format!("{api}/api/v1/users"))
            .bearer_auth(SERVICE_TOKEN)
            .json(&json!({ "email": user }))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status.as_u16(), 200, "activating {user}");
    }
    wait_for(store, ALICE, key).await;
}

async fn wait_for(store: &dyn Store, user: &str, key: &str) {
    for _ in 0..200 {
        if store.meeting(user, key).unwrap().is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{key} never reached {user}'s stored meetings");
}

/// Who knocks.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    Nobody,
    Alice,
    Bob,
    Admin,
    FjordDevice,
    AtlasDevice,
    Service,
    Forged,
}

struct Knock<'a> {
    api: &'a str,
    alice: &'a Session,
    bob: &'a Session,
    admin: &'a Session,
    fjord: &'a str,
    atlas: &'a str,
}

impl Knock<'_> {
    async fn status(&self, who: Who, method: &str, path: &str, body: Option<Value>) -> u16 {
        let http = http();
        let url = format!("{}{path}", self.api);
        let mut request = match method {
            "GET" => http.get(&url),
            "POST" => http.post(&url),
            "DELETE" => http.delete(&url),
            other => panic!("{other}"),
        };
        let session = |s: &Session| (s.cookie.clone(), s.csrf.clone());
        request = match who {
            Who::Nobody => request,
            Who::Alice | Who::Bob | Who::Admin => {
                let (cookie, csrf) = session(match who {
                    Who::Alice => self.alice,
                    Who::Bob => self.bob,
                    _ => self.admin,
                });
                request
                    .header("cookie", cookie)
                    .header("x-csrf-token", csrf)
            }
            Who::FjordDevice => request.bearer_auth(self.fjord),
            Who::AtlasDevice => request.bearer_auth(self.atlas),
            Who::Service => request.bearer_auth(SERVICE_TOKEN),
            Who::Forged => request.bearer_auth("hcal_dev_forged"),
        };
        if let Some(body) = body {
            request = request.json(&body);
        }
        // Streams answer at once and never end: the status is enough.
        let response = tokio::time::timeout(Duration::from_secs(20), request.send())
            .await
            .unwrap_or_else(|_| panic!("{method} {path} as {who:?} hung"))
            .unwrap();
        response.status().as_u16()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_knocked_on_by_every_kind_of_caller() {
    knock_on_every_route(Arc::new(SqliteStore::in_memory().unwrap())).await;
}

/// The same, with the service on PostgreSQL: activation, sync, meetings,
/// join buttons, sessions and device tokens all through the other backend.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_knocked_on_with_the_service_on_postgresql() {
    if let Some(store) = common::postgres_store("auth_matrix") {
        knock_on_every_route(Arc::new(store)).await;
    }
}

async fn knock_on_every_route(store: Arc<dyn Store>) {
    let emulator = common::demo_emulator().await;
    book(
        &emulator,
        "authmatrix1",
        "Matrix review",
        json!({"location": "Fjord @webex"}),
    );
    let service = build(&emulator, store.clone());
    let (api, _stop) = common::serve(service.clone()).await;
    activate_and_wait(&api, store.as_ref(), &[ALICE, BOB, ADMIN], "authmatrix1").await;
    wait_for(store.as_ref(), BOB, "authmatrix1").await;
    let (alice, bob, admin) = (
        sign_in(&api, ALICE).await,
        sign_in(&api, BOB).await,
        sign_in(&api, ADMIN).await,
    );
    let (_, fjord) = hcal::auth::new_device(store.as_ref(), FJORD, 0).unwrap();
    let (_, atlas) = hcal::auth::new_device(store.as_ref(), ATLAS, 0).unwrap();
    let knock = Knock {
        api: &api,
        alice: &alice,
        bob: &bob,
        admin: &admin,
        fjord: &fjord,
        atlas: &atlas,
    };

    use Who::*;
    let everyone = [
        Nobody,
        Alice,
        Bob,
        Admin,
        FjordDevice,
        AtlasDevice,
        Service,
        Forged,
    ];
    let key = "authmatrix1";
    let rsvp = Some(json!({"response": "tentative"}));
    #[rustfmt::skip]
    let routes: Vec<(&str, String, Option<Value>, [u16; 8])> = vec![
        //                                                        Nobody Alice Bob Admin Fjord Atlas Service Forged
        ("GET", "/api/v1/me".into(), None,                             [401, 200, 200, 200, 403, 403, 403, 401]),
        ("GET", "/api/v1/me/meetings".into(), None,                    [401, 200, 200, 200, 403, 403, 403, 401]),
        ("GET", format!("/api/v1/me/meetings/{key}"), None,            [401, 200, 200, 404, 403, 403, 403, 401]),
        ("GET", "/api/v1/me/stream".into(), None,                      [401, 200, 200, 200, 403, 403, 403, 401]),
        ("GET", "/api/v1/users".into(), None,                          [401, 403, 403, 200, 403, 403, 200, 401]),
        ("GET", format!("/api/v1/users/{ALICE}"), None,                [401, 403, 403, 200, 403, 403, 200, 401]),
        ("GET", format!("/api/v1/users/{ALICE}/meetings"), None,       [401, 403, 403, 200, 403, 403, 200, 401]),
        ("GET", format!("/api/v1/users/{ALICE}/meetings/{key}"), None, [401, 403, 403, 200, 403, 403, 200, 401]),
        ("POST", format!("/api/v1/users/{ALICE}/meetings/{key}/rsvp"), rsvp.clone(), [401, 403, 403, 200, 403, 403, 200, 401]),
        ("GET", format!("/api/v1/users/{ALICE}/presence"), None,       [401, 403, 403, 200, 403, 403, 200, 401]),
        ("GET", format!("/api/v1/stream?target={ALICE}"), None,        [401, 403, 403, 200, 403, 403, 200, 401]),
        ("GET", "/api/v1/devices".into(), None,                        [401, 403, 403, 200, 403, 403, 200, 401]),
        ("POST", "/api/v1/devices".into(), Some(json!({"room": ATLAS})), [401, 403, 403, 201, 403, 403, 201, 401]),
        ("DELETE", "/api/v1/devices/nosuchid".into(), None,            [401, 403, 403, 404, 403, 403, 404, 401]),
        ("GET", "/api/v1/device".into(), None,                         [401, 403, 403, 403, 200, 200, 403, 401]),
        ("GET", "/api/v1/device/meetings".into(), None,                [401, 403, 403, 403, 200, 200, 403, 401]),
        ("GET", "/api/v1/device/stream".into(), None,                  [401, 403, 403, 403, 200, 200, 403, 401]),
        ("GET", format!("/api/v1/rooms/{FJORD}/availability"), None,   [401, 403, 403, 200, 200, 403, 200, 401]),
        ("GET", "/".into(), None,                                      [303, 200, 200, 200, 403, 403, 403, 401]),
        ("GET", "/admin".into(), None,                                 [303, 403, 403, 200, 403, 403, 403, 401]),
        ("GET", "/app/meetings".into(), None,                          [401, 200, 200, 200, 401, 401, 401, 401]),
        ("GET", "/healthz".into(), None,                               [200, 200, 200, 200, 200, 200, 200, 401]),
    ];
    let mut wrong = Vec::new();
    for (method, path, body, expected) in &routes {
        for (who, want) in everyone.iter().zip(expected) {
            let got = knock.status(*who, method, path, body.clone()).await;
            if got != *want {
                wrong.push(format!(
                    "{method} {path} as {who:?}: {got}, expected {want}"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // Someone not activated is told why and whom to ask.
    let ceo = sign_in(&api, "ceo@example.com").await;
    let page = http()
        .get(format!("{api}/"))
        .header("cookie", &ceo.cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("not-activated")
            && page.contains("not connected to hcal yet")
            && page.contains(ADMIN),
        "{page}"
    );

    // What a device reads is its room's, and no more.
    let device: Value = http()
        .get(format!("{api}/api/v1/device/meetings"))
        .bearer_auth(&fjord)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(device["room"], FJORD);
    let text = device.to_string();
    assert!(
        !text.contains("Matrix review") && !text.contains(BOB),
        "a device sees no titles or invitees: {text}"
    );
    // Its join links are opened: a device cannot open sealed values.
    assert!(!text.contains("jwe"), "{text}");
    for meeting in device["meetings"].as_array().into_iter().flatten() {
        assert!(
            meeting["join"]["uri"]
                .as_str()
                .is_some_and(|u| u.starts_with("https://")),
            "{meeting}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_need_this_sites_csrf_token_and_reach_google() {
    let emulator = common::demo_emulator().await;
    book(&emulator, "authrsvp1", "Budget", json!({}));
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    let (api, _stop) = common::serve(build(&emulator, store.clone())).await;
    activate_and_wait(&api, store.as_ref(), &[ALICE, BOB], "authrsvp1").await;
    wait_for(store.as_ref(), BOB, "authrsvp1").await;
    let bob = sign_in(&api, BOB).await;
    let url = format!("{api}/api/v1/me/meetings/authrsvp1/rsvp");
    let body = json!({"response": "declined"});
    let post = || http().post(&url).header("cookie", &bob.cookie).json(&body);
    assert_eq!(
        post().send().await.unwrap().status().as_u16(),
        403,
        "no token"
    );
    let cross = post()
        .header("x-csrf-token", &bob.csrf)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status().as_u16(), 403, "another site's page");
    let foreign = post()
        .header("x-csrf-token", &bob.csrf)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status().as_u16(), 403, "another origin");
    let wrong = post().header("x-csrf-token", "x").send().await.unwrap();
    assert_eq!(wrong.status().as_u16(), 403, "a wrong token");
    let ok = post()
        .header("x-csrf-token", &bob.csrf)
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200, "{}", ok.text().await.unwrap());
    let google = common::google_for(&emulator);
    let event = google.get_event(BOB, "primary", "authrsvp1").await.unwrap();
    let mine = event["attendees"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["email"] == BOB)
        .unwrap();
    assert_eq!(mine["responseStatus"], "declined");

    // The page's form (no script): the same answer, then a notice.
    let form = http()
        .post(format!("{api}/app/rsvp"))
        .header("cookie", &bob.cookie)
        .form(&[
            ("csrf", bob.csrf.as_str()),
            ("key", "authrsvp1"),
            ("response", "accepted"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status().as_u16(), 303);
    assert_eq!(location(&form), "/?notice=accepted");
    let forged = http()
        .post(format!("{api}/app/rsvp"))
        .header("cookie", &bob.cookie)
        .form(&[
            ("csrf", "forged"),
            ("key", "authrsvp1"),
            ("response", "declined"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 403);

    // Moved in Google after the page was loaded: not written, and said so.
    let seen = store.meeting(BOB, "authrsvp1").unwrap().unwrap().starts_at;
    let (start, end) = soon(5);
    emulator
        .change_event(
            ALICE,
            json!({"id": "authrsvp1", "start": {"dateTime": start}, "end": {"dateTime": end}}),
        )
        .unwrap();
    let moved = post()
        .header("x-csrf-token", &bob.csrf)
        .json(&json!({"response": "declined", "seen_start": seen}))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status().as_u16(), 409);
    let message: Value = moved.json().await.unwrap();
    assert!(
        message["error"]["message"]
            .as_str()
            .unwrap()
            .contains("moved"),
        "{message}"
    );
}

/// A session made by one worker is good on another on the same database
/// (a second store opened on it, as a second `hcal serve` would).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_work_on_every_worker_of_one_postgresql() {
    let Some(first) = common::postgres_store("auth_sessions") else {
        return;
    };
    let url = common::postgres_url("auth_sessions").unwrap();
    let emulator = common::demo_emulator().await;
    let (api_one, _stop_one) = common::serve(build(&emulator, Arc::new(first))).await;
    let alice = sign_in(&api_one, ALICE).await;
    let second: Arc<dyn Store> = Arc::new(hcal::store::PostgresStore::open(&url).unwrap());
    let (api_two, _stop_two) = common::serve(build(&emulator, second)).await;
    for api in [&api_one, &api_two] {
        let me = http()
            .get(format!("{api}/api/v1/me"))
            .header("cookie", &alice.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(me.status().as_u16(), 200, "{api}");
    }
    let out = http()
        .post(format!("{api_two}/auth/logout"))
        .header("cookie", &alice.cookie)
        .form(&[("csrf", alice.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status().as_u16(), 303);
    let me = http()
        .get(format!("{api_one}/api/v1/me"))
        .header("cookie", &alice.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(
        me.status().as_u16(),
        401,
        "signed out on one worker is signed out on all"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_survive_a_restart_and_end_at_sign_out() {
    let dir = std::env::temp_dir().join(format!("hcal-auth-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("hcal.db");
    let emulator = common::demo_emulator().await;
    let cookie = {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
        let (api, stop) = common::serve(build(&emulator, store)).await;
        let alice = sign_in(&api, ALICE).await;
        let _ = stop.send(());
        alice
    };
    // The store keeps the session's hash, never the id itself.
    assert!(!contains(&path, cookie.cookie.split('=').nth(1).unwrap()));
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    let (api, _stop) = common::serve(build(&emulator, store)).await;
    let me = |cookie: String| {
        let api = api.clone();
        async move {
            http()
                .get(format!("{api}/api/v1/me"))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        me(cookie.cookie.clone()).await,
        200,
        "a restart keeps the session"
    );
    assert_eq!(
        me("hcal_session=forged".into()).await,
        401,
        "a forged session is no one"
    );
    let out = http()
        .post(format!("{api}/auth/logout"))
        .header("cookie", &cookie.cookie)
        .form(&[("csrf", "not-it")])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status().as_u16(), 403, "sign-out is a change too");
    let out = http()
        .post(format!("{api}/auth/logout"))
        .header("cookie", &cookie.cookie)
        .form(&[("csrf", cookie.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status().as_u16(), 303);
    assert!(
        out.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(me(cookie.cookie.clone()).await, 401, "signed out");
    let _ = std::fs::remove_dir_all(&dir);
}

fn contains(path: &Path, needle: &str) -> bool {
    let mut bytes = std::fs::read(path).unwrap();
    if let Ok(wal) = std::fs::read(path.with_extension("db-wal")) {
        bytes.extend(wal);
    }
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_state_works_once() {
    let emulator = common::demo_emulator().await;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    let (api, _stop) = common::serve(build(&emulator, store)).await;
    let http = http();
    let login = http
        .get(format!(
            "{api}/auth/login?login_hint={ALICE}&next=//evil.example/"
        ))
        .send()
        .await
        .unwrap();
    let at_google = http.get(location(&login)).send().await.unwrap();
    let callback = location(&at_google);
    let first = http.get(&callback).send().await.unwrap();
    assert_eq!(first.status().as_u16(), 303);
    assert_eq!(
        location(&first),
        "/",
        "a return path off the site is dropped"
    );
    let again = http.get(&callback).send().await.unwrap();
    assert_eq!(again.status().as_u16(), 400);
    assert!(again.text().await.unwrap().contains("already used"));
    let made_up = http
        .get(format!("{api}/auth/callback?code=x&state=made-up"))
        .send()
        .await
        .unwrap();
    assert_eq!(made_up.status().as_u16(), 400);
    let denied = http
        .get(format!("{api}/auth/callback?error=access_denied&state=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status().as_u16(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn id_tokens_wrong_in_any_way_are_refused() {
    let emulator = common::demo_emulator().await;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    let service = build(&emulator, store);
    let oidc = service.oidc.as_ref().unwrap();
    let settings = auth_settings(&emulator);
    let now = jiff::Timestamp::now().as_second();
    let good = json!({
        "iss": emulator.oidc_issuer(), "aud": settings.client_id, "azp": settings.client_id,
        "sub": "1234567890", "email": ALICE, "email_verified": true, "hd": "example.com",
        "nonce": "the-nonce", "iat": now, "exp": now + 3600,
    });
    let with = |changes: Value| {
        let mut claims = good.clone();
        for (k, v) in changes.as_object().unwrap() {
            claims[k] = v.clone();
        }
        claims
    };
    let token = emulator.mint_id_token(good.clone(), None);
    assert_eq!(
        oidc.verify(&token, "the-nonce", now).await.unwrap().email,
        ALICE
    );
    assert_eq!(oidc.key_fetches(), 1);

    // Keys rotate: a token from the new key refetches the keys once.
    let fetches = oidc.key_fetches();
    emulator.rotate_oidc_key();
    let rotated = emulator.mint_id_token(good.clone(), None);
    assert_eq!(
        oidc.verify(&rotated, "the-nonce", now).await.unwrap().email,
        ALICE
    );
    assert_eq!(
        oidc.key_fetches(),
        fetches + 1,
        "the unknown kid refetched the keys"
    );
    oidc.verify(&rotated, "the-nonce", now).await.unwrap();
    assert_eq!(
        oidc.key_fetches(),
        fetches + 1,
        "then they come from the cache"
    );

    let cases: Vec<(&str, String, IdTokenError)> = vec![
        (
            "expired",
            emulator.mint_id_token(with(json!({"iat": now - 7200, "exp": now - 3600})), None),
            IdTokenError::Expired,
        ),
        (
            "another audience",
            emulator.mint_id_token(
                with(json!({"aud": "someone-else.apps.googleusercontent.com"})),
                None,
            ),
            IdTokenError::Audience,
        ),
        (
            "another issuer",
            emulator.mint_id_token(with(json!({"iss": "https://evil.example"})), None),
            IdTokenError::Issuer("https://evil.example".into()),
        ),
        (
            "a wrong nonce",
            emulator.mint_id_token(with(json!({"nonce": "another"})), None),
            IdTokenError::Nonce,
        ),
        (
            "another domain",
            emulator.mint_id_token(
                with(json!({"hd": "evil.example", "email": "mallory@evil.example"})),
                None,
            ),
            IdTokenError::Domain("evil.example".into()),
        ),
        (
            "an unverified address",
            emulator.mint_id_token(with(json!({"email_verified": false})), None),
            IdTokenError::EmailNotVerified,
        ),
        (
            "an unknown kid",
            emulator.mint_id_token(good.clone(), Some("no-such-key")),
            IdTokenError::UnknownKey("no-such-key".into()),
        ),
        (
            "a key the issuer does not publish",
            emulator.mint_id_token_unpublished(good.clone()),
            IdTokenError::BadSignature,
        ),
    ];
    for (what, token, expected) in cases {
        let got = oidc.verify(&token, "the-nonce", now).await;
        // An unpublished key may be refused as unknown or as a bad signature.
        let fine = match (&got, &expected) {
            (Err(IdTokenError::UnknownKey(_)), IdTokenError::BadSignature) => true,
            (Err(e), want) => e == want,
            (Ok(_), _) => false,
        };
        assert!(fine, "{what}: {got:?}, expected {expected:?}");
    }
    // A forged signature over good claims.
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    let forged_claims = with(json!({"email": "ceo@example.com"}));
    parts[1] = base64_url(&forged_claims.to_string());
    let forged = parts.join(".");
    assert_eq!(
        oidc.verify(&forged, "the-nonce", now).await,
        Err(IdTokenError::BadSignature)
    );
    let none_alg = format!(
        "{}.{}.",
        base64_url(r#"{"alg":"none"}"#),
        base64_url(&good.to_string())
    );
    assert!(matches!(
        oidc.verify(&none_alg, "the-nonce", now).await,
        Err(IdTokenError::Algorithm(_))
    ));
}

fn base64_url(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitation_text_is_shown_as_text() {
    let emulator = common::demo_emulator().await;
    book(
        &emulator,
        "authxss1",
        "<script>alert('title')</script>Quarterly",
        json!({
            "location": "<img src=x onerror=alert('where')>",
            "description": "<b>Agenda</b> <img src=x onerror=alert('agenda')> <a href=\"javascript:alert('link')\">click</a> <script>alert('agenda')</script>",
            "conferenceData": {"entryPoints": [{"entryPointType": "video", "uri": "javascript:alert('join')"}]},
        }),
    );
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    let (api, _stop) = common::serve(build(&emulator, store.clone())).await;
    activate_and_wait(&api, store.as_ref(), &[ALICE], "authxss1").await;
    let alice = sign_in(&api, ALICE).await;
    let page = http()
        .get(format!("{api}/"))
        .header("cookie", &alice.cookie)
        .send()
        .await
        .unwrap();
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("Quarterly"), "the meeting is listed");
    assert!(
        html.contains("&lt;script&gt;alert('title')&lt;/script&gt;"),
        "the title is escaped"
    );
    for live in [
        "<script>alert",
        "<img src=x",
        "onerror=alert('where')>",
        "href=\"javascript:",
        "href='javascript:",
    ] {
        assert!(!html.contains(live), "{live:?} reached the page as markup");
    }
    // The only script is ours.
    assert_eq!(html.matches("<script").count(), 1, "{html}");
}
