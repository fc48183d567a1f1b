//! The web side of `hcal serve`: signing in with Google ([`crate::auth`]),
//! each person's meetings (`app.rs`), and the admin console (`admin.rs`).
//!
//! Pages are rendered on the server with maud (every value escaped) and
//! carry a Content-Security-Policy without inline script: event text is
//! written by anyone who can send an invitation. The one script and the one
//! stylesheet are built into the binary (`assets/`); nothing comes from a CDN.

mod admin;
mod app;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Extension, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;

use crate::auth::{Caller, Person, SESSION_COOKIE};
use crate::serve::{Service, now};

type Shared = Arc<Service>;

/// The page that says no (boxed: a response is large, and the happy path
/// should not carry it).
struct Refused(Box<Response>);

impl From<Response> for Refused {
    fn from(response: Response) -> Refused {
        Refused(Box::new(response))
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        *self.0
    }
}

/// `?notice=`: which of a page's fixed messages a redirect asks for.
#[derive(Deserialize)]
struct NoticeQuery {
    notice: Option<String>,
}

/// What a page handler answers: the page, or the page that says no.
type Page = Result<Response, Refused>;

/// No script but ours, no style but ours, no frames, no plugins.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
    connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const APP_CSS: &str = include_str!("assets/app.css");
const APP_JS: &str = include_str!("assets/app.js");

pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/", get(app::home))
        .route("/app/meetings", get(app::meetings_fragment))
        .route("/app/rsvp", post(app::rsvp))
        .route("/auth/login", get(login))
        .route("/auth/callback", get(callback))
        .route("/auth/logout", post(logout))
        .route("/auth/signed-out", get(signed_out))
        .route("/admin", get(admin::console))
        // Adding runs the activation checks, as activating again does.
        .route("/admin/users", post(admin::activate))
        .route("/admin/users/activate", post(admin::activate))
        .route("/admin/users/deactivate", post(admin::deactivate))
        .route("/admin/devices", post(admin::add_device))
        .route("/admin/devices/revoke", post(admin::revoke_device))
        .route("/admin/keys/rotate", post(admin::rotate_key))
        .route("/assets/app.css", get(|| asset(APP_CSS, "text/css")))
        .route("/assets/app.js", get(|| asset(APP_JS, "text/javascript")))
}

async fn asset(body: &'static str, kind: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

/// A page with the security headers every page carries; personal pages are
/// never cached.
fn page(status: StatusCode, title: &str, person: Option<&Person>, body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some(person) = person {
                    meta name="csrf-token" content=(person.csrf);
                }
                title { (title) " · hcal" }
                link rel="stylesheet" href="/assets/app.css";
                script src="/assets/app.js" defer {}
            }
            body {
                header.top {
                    a.brand href="/" { "hcal" }
                    @if let Some(person) = person {
                        nav {
                            @if person.admin { a href="/admin" { "Admin console" } }
                            span.who { (person.email) }
                            form method="post" action="/auth/logout" {
                                input type="hidden" name="csrf" value=(person.csrf);
                                button.link type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main { (body) }
            }
        }
    };
    with_headers(status, markup.into_string())
}

fn with_headers(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    let set = |headers: &mut HeaderMap, name: header::HeaderName, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(headers, header::CONTENT_TYPE, "text/html; charset=utf-8");
    set(headers, header::CONTENT_SECURITY_POLICY, CSP);
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::REFERRER_POLICY, "same-origin");
    set(headers, header::CACHE_CONTROL, "no-store");
    response
}

/// A page that says what went wrong and what to do.
fn problem(status: StatusCode, person: Option<&Person>, title: &str, message: &str) -> Response {
    page(
        status,
        title,
        person,
        html! {
            section.card.problem {
                h1 { (title) }
                p { (message) }
                p { a href="/" { "Back to your meetings" } " · " a href="/auth/login" { "Sign in again" } }
            }
        },
    )
}

/// The person a page is for; anyone else is sent to sign in (or told).
fn require_person(caller: &Caller, next: &str) -> Result<Person, Refused> {
    match caller {
        Caller::Person(person) => Ok(person.clone()),
        Caller::Anonymous => {
            let mut login =
                reqwest::Url::parse("http://hcal.invalid/auth/login").expect("a fixed URL");
            login.query_pairs_mut().append_pair("next", next);
            let to = format!("{}?{}", login.path(), login.query().unwrap_or(""));
            Err(Refused::from(Redirect::to(&to).into_response()))
        }
        // A token is not a browser session.
        _ => Err(Refused::from(problem(
            StatusCode::FORBIDDEN,
            None,
            "Pages are for people",
            "Sign in with your Google account; service and device tokens use the API.",
        ))),
    }
}

/// A form's changes count only from this site, with the session's token.
fn check_form(
    service: &Service,
    headers: &HeaderMap,
    person: &Person,
    csrf: &str,
) -> Result<(), Refused> {
    if crate::auth::genuine_change(headers, &service.origin(), person, csrf) {
        Ok(())
    } else {
        Err(Refused::from(problem(
            StatusCode::FORBIDDEN,
            Some(person),
            "Not sent from hcal",
            "This change did not come from an hcal page (or the page is from an older session). Reload the page and try again.",
        )))
    }
}

fn session_cookie(service: &Service, value: &str, max_age: u64) -> String {
    let secure = service
        .settings
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"));
    format!(
        "{SESSION_COOKIE}={value}; HttpOnly; SameSite=Lax; Path=/; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    )
}

#[derive(Deserialize)]
struct LoginQuery {
    next: Option<String>,
    login_hint: Option<String>,
}

/// `/auth/login`: off to the issuer, with PKCE, state and nonce.
async fn login(State(service): State<Shared>, Query(query): Query<LoginQuery>) -> Response {
    let Some(oidc) = &service.oidc else {
        return problem(
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            "Sign-in is not set up",
            &crate::auth::AuthError::NotConfigured.to_string(),
        );
    };
    let next = query.next.as_deref().unwrap_or("/");
    match oidc
        .begin(
            service.store.as_ref(),
            &service.redirect_uri(),
            next,
            query.login_hint.as_deref(),
            now().as_second(),
        )
        .await
    {
        Ok(url) => Redirect::to(&url).into_response(),
        Err(error) => {
            tracing::warn!(%error, "sign-in could not start");
            problem(
                StatusCode::BAD_GATEWAY,
                None,
                "Sign-in is unavailable",
                &error.to_string(),
            )
        }
    }
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `/auth/callback`: the code exchanged, the ID token verified, a session.
async fn callback(State(service): State<Shared>, Query(query): Query<CallbackQuery>) -> Response {
    use crate::auth::{AuthError, IdTokenError};
    let Some(oidc) = &service.oidc else {
        return Redirect::to("/auth/login").into_response();
    };
    let finished = match (&query.code, &query.state, &query.error) {
        (_, _, Some(error)) => Err(AuthError::Cancelled(error.clone())),
        (Some(code), Some(state), None) => {
            oidc.finish(
                service.store.as_ref(),
                &service.redirect_uri(),
                code,
                state,
                now().as_second(),
            )
            .await
        }
        _ => Err(AuthError::UnknownState),
    };
    let (identity, next) = match finished {
        Ok(done) => done,
        Err(error) => {
            tracing::warn!(%error, "sign-in refused");
            let (status, title) = match &error {
                AuthError::IdToken(IdTokenError::Domain(_)) => (
                    StatusCode::FORBIDDEN,
                    "This account is not in the organisation",
                ),
                AuthError::Issuer { .. } => {
                    (StatusCode::BAD_GATEWAY, "Google could not be reached")
                }
                _ => (StatusCode::BAD_REQUEST, "Sign-in did not work"),
            };
            return problem(status, None, title, &error.to_string());
        }
    };
    let lifetime = oidc.settings().session_lifetime;
    match crate::auth::new_session(
        service.store.as_ref(),
        &identity.email,
        lifetime,
        now().as_second(),
    ) {
        Ok(id) => {
            tracing::info!(user = %identity.email, "signed in");
            let mut response = Redirect::to(crate::auth::safe_return_to(&next)).into_response();
            if let Ok(cookie) =
                HeaderValue::from_str(&session_cookie(&service, &id, lifetime.as_secs()))
            {
                response.headers_mut().insert(header::SET_COOKIE, cookie);
            }
            response
        }
        Err(error) => problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            "Sign-in did not work",
            &error.to_string(),
        ),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `/auth/logout`: the session ends in the store and in the browser.
async fn logout(
    State(service): State<Shared>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<CsrfForm>,
) -> Page {
    if let Caller::Person(person) = &caller {
        check_form(&service, &headers, person, &form.csrf)?;
        if let Err(error) = service.store.delete_session(&person.session_sha256) {
            return Ok(problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                Some(person),
                "Sign-out did not work",
                &error.to_string(),
            ));
        }
    }
    let mut response = Redirect::to("/auth/signed-out").into_response();
    if let Ok(cookie) = HeaderValue::from_str(&session_cookie(&service, "", 0)) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

async fn signed_out() -> Response {
    page(
        StatusCode::OK,
        "Signed out",
        None,
        html! {
            section.card {
                h1 { "You are signed out" }
                p { a.button href="/auth/login" { "Sign in again" } }
            }
        },
    )
}
