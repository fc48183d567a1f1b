//! The admin console (`/admin`, admins only): users with their state, last
//! sync, meeting count and, in error, the reason and the fix; rooms and
//! their device tokens; the organisation's keys; the service's health.
//! Every change is a form posted with the session's CSRF token.

use std::sync::atomic::Ordering;

use axum::extract::{Extension, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::{NoticeQuery, Page, Refused, Shared, check_form, page, problem, require_person};
use crate::auth::{Caller, Person};
use crate::serve::{Service, now};
use crate::store::UserState;

fn when(seconds: Option<i64>) -> String {
    seconds
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "never".into())
}

/// The admin behind a console request, or the page that says no.
fn require_admin(caller: &Caller) -> Result<Person, Refused> {
    let person = require_person(caller, "/admin")?;
    if person.admin {
        Ok(person)
    } else {
        Err(Refused::from(problem(
            StatusCode::FORBIDDEN,
            Some(&person),
            "Admins only",
            "The admin console is for the people named in [auth] admins.",
        )))
    }
}

/// The fixed messages a redirect may ask for.
fn notice(code: &str) -> Option<&'static str> {
    Some(match code {
        "activated" => "Activation checks passed: the user is served.",
        "error" => "Activation failed: the reason and the fix are in the table.",
        "deactivated" => "Deactivated: channels stopped, stored data purged.",
        "revoked" => "The device token is revoked.",
        "rotated" => "A new organisation key is active; older keys still open what they sealed.",
        "invalid" => "That is not an e-mail address.",
        "failed" => "That did not work; the log says why.",
        _ => return None,
    })
}

pub(super) async fn console(
    State(service): State<Shared>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<NoticeQuery>,
) -> Page {
    let admin = require_admin(&caller)?;
    let body = html! {
        h1 { "Admin console" }
        @if let Some(message) = query.notice.as_deref().and_then(notice) {
            p.notice role="status" { (message) }
        }
        (users(&service, &admin))
        (rooms(&service, &admin, None))
        (keys(&service, &admin))
        (health(&service))
    };
    Ok(page(StatusCode::OK, "Admin console", Some(&admin), body))
}

fn users(service: &Service, admin: &Person) -> Markup {
    let users = service.store.users().unwrap_or_default();
    html! {
        section.card #users {
            h2 { "Users" }
            form.inline method="post" action="/admin/users" {
                input type="hidden" name="csrf" value=(admin.csrf);
                label { "Add and activate " input type="email" name="email" required placeholder="person@your-domain" autocomplete="off"; }
                button type="submit" { "Add" }
            }
            table {
                thead { tr { th { "User" } th { "State" } th { "Last sync" } th { "Meetings" } th { "Reason and fix" } th {} } }
                tbody {
                    @for user in &users {
                        @let state = user.state.as_str();
                        tr data-email=(user.email) data-state=(state) {
                            td { (user.email) }
                            td { span class={ "state " (state) } { (state) } }
                            td.nowrap { (when(user.last_synced_at)) }
                            td { (service.store.meeting_count(&user.email).unwrap_or(0)) }
                            td.reason {
                                @if let Some(reason) = &user.reason { (reason) }
                                @if let Some(next) = user.next_attempt_at { br; small.nowrap { "next attempt " (when(Some(next))) } }
                            }
                            td.actions {
                                @if user.state != UserState::Activated {
                                    form method="post" action="/admin/users/activate" {
                                        input type="hidden" name="csrf" value=(admin.csrf);
                                        input type="hidden" name="email" value=(user.email);
                                        button type="submit" { @if user.state == UserState::Error { "Retry" } @else { "Activate" } }
                                    }
                                }
                                @if user.state != UserState::Deactivated {
                                    form method="post" action="/admin/users/deactivate" {
                                        input type="hidden" name="csrf" value=(admin.csrf);
                                        input type="hidden" name="email" value=(user.email);
                                        button.danger type="submit" { "Deactivate" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Rooms: those with device tokens and those that coming join buttons reach.
fn rooms(service: &Service, admin: &Person, issued: Option<(&str, &str)>) -> Markup {
    let devices = service.store.devices().unwrap_or_default();
    let mut rooms: std::collections::BTreeSet<String> =
        devices.iter().map(|d| d.room.clone()).collect();
    for button in service
        .store
        .buttons_from(now().as_second() - 86_400)
        .unwrap_or_default()
    {
        for target in service.open_button(&button).targets {
            if target.ends_with("@resource.calendar.google.com") {
                rooms.insert(target.to_ascii_lowercase());
            }
        }
    }
    html! {
        section.card #rooms {
            h2 { "Rooms and device tokens" }
            @if let Some((room, token)) = issued {
                div.notice.token role="status" {
                    p { "Device token for " strong { (room) } " — copy it now, it is shown only once:" }
                    code #device-token { (token) }
                }
            }
            form.inline method="post" action="/admin/devices" {
                input type="hidden" name="csrf" value=(admin.csrf);
                label { "Issue a token for room " input type="email" name="room" required placeholder="room@resource.calendar.google.com" autocomplete="off"; }
                button type="submit" { "Issue" }
            }
            table {
                thead { tr { th { "Room" } th { "Device" } th { "Issued" } th {} } }
                tbody {
                    @for room in &rooms {
                        @let tokens: Vec<_> = devices.iter().filter(|d| &d.room == room).collect();
                        @if tokens.is_empty() {
                            tr { td { (room) } td { "no device token" } td {} td {} }
                        }
                        @for device in tokens {
                            tr data-device=(device.id) {
                                td { (room) } td { code { (device.id) } } td.nowrap { (when(Some(device.created_at))) }
                                td {
                                    form method="post" action="/admin/devices/revoke" {
                                        input type="hidden" name="csrf" value=(admin.csrf);
                                        input type="hidden" name="id" value=(device.id);
                                        button.danger type="submit" { "Revoke" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn keys(service: &Service, admin: &Person) -> Markup {
    let keys = service.store.keys().unwrap_or_default();
    let kms = service.kms();
    html! {
        section.card #keys {
            h2 { "Organisation keys" }
            table {
                thead { tr { th { "Key" } th { "Created" } th { "State" } } }
                tbody {
                    @for key in &keys {
                        tr {
                            td { code { (key.key_url) } }
                            td.nowrap { (when(Some(key.created_at))) }
                            td {
                                @if key.active { "active" } @else { "kept to open older data" }
                                @if kms.key(&key.key_url).is_err() { " · does not open with this master key" }
                            }
                        }
                    }
                }
            }
            form method="post" action="/admin/keys/rotate" {
                input type="hidden" name="csrf" value=(admin.csrf);
                button type="submit" { "Rotate: make a new active key" }
            }
        }
    }
}

fn health(service: &Service) -> Markup {
    let channels = service.store.channels(None).unwrap_or_default();
    let mut workers: std::collections::BTreeMap<String, usize> = Default::default();
    for (_, owner, _) in service.store.leases().unwrap_or_default() {
        *workers.entry(owner).or_default() += 1;
    }
    let m = &service.metrics;
    let n = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    let (google, webex) = (service.google.counts(), service.webex.counts());
    let last_poll = service.last_poll.load(Ordering::Relaxed);
    html! {
        section.card #health {
            h2 { "Health" }
            dl.figures {
                dt { "Last poll" } dd { (when((last_poll > 0).then_some(last_poll))) }
                dt { "Syncs" } dd { (n(&m.syncs)) " (" (n(&m.sync_errors)) " failed)" }
                dt { "Push notifications" } dd { (n(&m.push_accepted)) " accepted, " (n(&m.push_rejected)) " refused" }
                dt { "Join buttons" } dd { (n(&m.buttons_delivered)) " delivered, " (n(&m.button_failures)) " failed deliveries" }
                dt { "Google calls" } dd { (google.requests) " (" (google.retries) " retries, " (google.failures) " failures)" }
                dt { "Webex calls" } dd { (webex.requests) " (" (webex.retries) " retries, " (webex.failures) " failures)" }
            }
            h3 { "Workers" }
            table {
                thead { tr { th { "Worker" } th { "Users held" } } }
                tbody {
                    @for (worker, held) in &workers {
                        tr {
                            td { code { (worker) } @if *worker == service.settings.worker_id { " (this one)" } }
                            td { (held) }
                        }
                    }
                }
            }
            h3 { "Push channels" }
            table {
                thead { tr { th { "User" } th { "Channel" } th { "Expires" } } }
                tbody {
                    @for channel in &channels {
                        tr { td { (channel.email) } td { code { (channel.id) } } td.nowrap { (when(channel.expires_at)) } }
                    }
                }
            }
            @if channels.is_empty() { p { "No push channels: the poll syncs everyone every few minutes." } }
        }
    }
}

#[derive(Deserialize)]
pub(super) struct EmailForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
}

/// Check the admin and the form; the admin on success.
fn admin_form(
    service: &Service,
    caller: &Caller,
    headers: &HeaderMap,
    csrf: &str,
) -> Result<Person, Refused> {
    let admin = require_admin(caller)?;
    check_form(service, headers, &admin, csrf)?;
    Ok(admin)
}

fn back(notice: &str) -> Response {
    Redirect::to(&format!("/admin?notice={notice}")).into_response()
}

/// Add (if new) and run the activation checks; a retry is the same.
pub(super) async fn activate(
    State(service): State<Shared>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<EmailForm>,
) -> Page {
    let admin = admin_form(&service, &caller, &headers, &form.csrf)?;
    Ok(
        match crate::api::add_and_activate(&service, &form.email).await {
            Ok(user) => {
                tracing::info!(admin = %admin.email, user = %user.email, state = ?user.state, "activation from the console");
                back(if user.state == UserState::Activated {
                    "activated"
                } else {
                    "error"
                })
            }
            Err(e) if e.code() == "invalid" => back("invalid"),
            Err(e) => {
                tracing::warn!(error = %e.message(), "activation from the console failed");
                back("failed")
            }
        },
    )
}

pub(super) async fn deactivate(
    State(service): State<Shared>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<EmailForm>,
) -> Page {
    admin_form(&service, &caller, &headers, &form.csrf)?;
    Ok(match crate::api::deactivate(&service, &form.email).await {
        Ok(_) => back("deactivated"),
        Err(_) => back("failed"),
    })
}

#[derive(Deserialize)]
pub(super) struct DeviceForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    room: String,
    #[serde(default)]
    id: String,
}

/// Issue a device token and show it on the page, once.
pub(super) async fn add_device(
    State(service): State<Shared>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<DeviceForm>,
) -> Page {
    let admin = admin_form(&service, &caller, &headers, &form.csrf)?;
    Ok(
        match crate::auth::new_device(service.store.as_ref(), &form.room, now().as_second()) {
            Ok((device, token)) => {
                tracing::info!(admin = %admin.email, room = %device.room, id = %device.id, "device token issued");
                let body = html! {
                    h1 { "Admin console" }
                    (rooms(&service, &admin, Some((&device.room, &token))))
                    p { a href="/admin" { "Back to the console" } }
                };
                page(StatusCode::OK, "Device token", Some(&admin), body)
            }
            Err(crate::auth::AuthError::NotAnAddress(_)) => back("invalid"),
            Err(_) => back("failed"),
        },
    )
}

pub(super) async fn revoke_device(
    State(service): State<Shared>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<DeviceForm>,
) -> Page {
    admin_form(&service, &caller, &headers, &form.csrf)?;
    Ok(match service.store.delete_device(&form.id) {
        Ok(true) => back("revoked"),
        _ => back("failed"),
    })
}

pub(super) async fn rotate_key(
    State(service): State<Shared>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<super::CsrfForm>,
) -> Page {
    let admin = admin_form(&service, &caller, &headers, &form.csrf)?;
    Ok(match service.kms().rotate() {
        Ok(key) => {
            tracing::info!(admin = %admin.email, key = %key.key_url, "org key rotated");
            back("rotated")
        }
        Err(error) => {
            tracing::error!(%error, "rotating the org key failed");
            back("failed")
        }
    })
}
