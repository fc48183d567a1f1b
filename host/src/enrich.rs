//! Enrichment: a user's keyword events get their join details written into
//! Google Calendar.
//!
//! One run for one user: read the window from Google, let the core say what
//! each keyword event needs, get it from the meeting provider (the user's
//! Personal Room; a space or one-time meeting made for the event, or the one
//! already made), let the core build the `events.patch` bodies, and send them
//! with `If-Match`. The provider's id is written into the event first
//! (`hcalMeetingId`), so a crash, a restart or a replayed push never makes a
//! second space or meeting. When the provider fails, the event is left as it
//! was and the next run tries again.

use std::collections::{BTreeSet, HashMap};

use hcal_core::model::{
    MEETING_ID_PROPERTY, MeetingList, MeetingType, Options, ProcessRequest, Profile,
    ProvidedMeeting, Window,
};
use serde::Serialize;
use serde_json::{Value, json};

use crate::google::calendar::{SyncFrom, SyncOutcome};
use crate::google::{Google, GoogleError};
use crate::provider::{MeetingProvider, MeetingSpec, SpaceSpec};
use crate::runtime::{CallError, Runtime};
use crate::store::Store;

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EnrichReport {
    pub user: String,
    /// Events read from Google (from given pages: the window's meetings and
    /// unusable events).
    pub events: usize,
    /// Events whose join details were written.
    pub patched: Vec<String>,
    /// Spaces and meetings made with the provider: (event id, kind, provider id).
    pub created: Vec<(String, String, String)>,
    /// Enriched events whose space or meeting was brought in step.
    pub kept_in_step: Vec<String>,
    /// Events left as they were this time, and why (the next run retries).
    pub deferred: Vec<(String, String)>,
    /// One-time meetings cancelled with their events: (event id, meeting id).
    pub deleted: Vec<(String, String)>,
    /// Events the core could not enrich (e.g. `no-personal-room`).
    pub errors: Vec<(Option<String>, String)>,
}

/// Why a run could not happen at all.
#[derive(Debug, thiserror::Error)]
pub enum EnrichError {
    #[error(transparent)]
    Google(#[from] GoogleError),
    #[error("the core: {0}")]
    Core(#[from] CallError),
    #[error("Google asked for a full sync in the middle of one; run again")]
    SyncRestarted,
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Runs enrichment for users of one organisation.
pub struct Enricher<'a, P: MeetingProvider> {
    google: &'a Google,
    provider: &'a P,
    runtime: &'a Runtime,
    options: &'a Options,
    /// Where 1:1 pairs' spaces and one-time meetings are remembered.
    ledger: &'a dyn Store,
}

/// A 1:1 pair's key in the ledger: the SHA-256 of the two addresses, in order.
fn pair_digest(pair: &(String, String)) -> String {
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        format!("{}\n{}", pair.0, pair.1).as_bytes(),
    );
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

impl<'a, P: MeetingProvider> Enricher<'a, P> {
    pub fn new(
        google: &'a Google,
        provider: &'a P,
        runtime: &'a Runtime,
        options: &'a Options,
        ledger: &'a dyn Store,
    ) -> Self {
        Enricher {
            google,
            provider,
            runtime,
            options,
            ledger,
        }
    }

    /// The e-mail domains whose people are users of the organisation.
    fn org_domains(&self, user: &str) -> Vec<String> {
        if self.options.org_domains.is_empty() {
            user.rsplit_once('@')
                .map(|(_, d)| vec![d.to_ascii_lowercase()])
                .unwrap_or_default()
        } else {
            self.options
                .org_domains
                .iter()
                .map(|d| d.trim_start_matches('@').to_ascii_lowercase())
                .collect()
        }
    }

    /// Enrich `user`'s keyword events in `window`, at `now` (RFC 3339):
    /// the window read from Google, then [`Enricher::enrich_pages`].
    pub async fn run(
        &self,
        user: &str,
        window: &Window,
        now: &str,
    ) -> Result<EnrichReport, EnrichError> {
        let from = SyncFrom::Full {
            time_min: Some(window.from.clone()),
            time_max: Some(window.to.clone()),
        };
        let SyncOutcome::Complete { pages, events, .. } =
            self.google.sync(user, "primary", from, |_| {}).await?
        else {
            return Err(EnrichError::SyncRestarted);
        };
        let pages: Vec<String> = pages.into_iter().map(|p| p.raw).collect();
        let mut report = self.enrich_pages(user, &pages, window, now).await?;
        report.events = events;
        Ok(report)
    }

    /// Whether a meeting list the core made of `user`'s window (sealed or
    /// not) shows work for [`Enricher::enrich_pages`]: a keyword event that
    /// needs a Personal Room, a space or a one-time meeting, a join block to
    /// write, or one-time meetings known for the user whose events may be
    /// gone. Lets the service skip enrichment for the many users with none.
    pub fn has_work(&self, user: &str, list: &MeetingList) -> bool {
        !list.provisioning.is_empty()
            || !list.enrichments.is_empty()
            || list
                .errors
                .iter()
                .any(|e| e.error.code == "no-personal-room")
            || self
                .ledger
                .one_time_meetings(user)
                .map_or(true, |known| !known.is_empty())
    }

    /// Enrich `user`'s keyword events in `window` from pages already read
    /// from Google (the sync's own listing: no second read).
    pub async fn enrich_pages(
        &self,
        user: &str,
        pages: &[String],
        window: &Window,
        now: &str,
    ) -> Result<EnrichReport, EnrichError> {
        let mut report = EnrichReport {
            user: user.to_string(),
            ..EnrichReport::default()
        };
        let mut request = ProcessRequest {
            user: user.to_string(),
            window: window.clone(),
            now: now.to_string(),
            options: self.options.clone(),
            profiles: Vec::new(),
            provided: Vec::new(),
            // Only the join block's words need it: read when there is one to write.
            locale: None,
            seal_with: None,
        };
        let first = self.runtime.process_isolating_traps(pages, &request)?;
        report.events = first.meetings.len() + first.errors.len();

        // The user's Personal Room, when their events ask for it.
        let wants_room = first
            .errors
            .iter()
            .any(|e| e.error.code == "no-personal-room");
        if wants_room {
            match self.provider.personal_room(user).await {
                Ok(room) => request.profiles.push(Profile {
                    email: user.to_string(),
                    personal_room: room,
                }),
                Err(error) => {
                    for e in first
                        .errors
                        .iter()
                        .filter(|e| e.error.code == "no-personal-room")
                    {
                        let id = e.event_id.clone().unwrap_or_default();
                        report
                            .deferred
                            .push((id, format!("Personal Room: {error}")));
                    }
                }
            }
        }

        self.cancel_one_time_meetings(user, &first, &mut report)
            .await?;
        let domains = self.org_domains(user);
        let in_org = |email: &str| {
            email
                .rsplit_once('@')
                .is_some_and(|(_, d)| domains.iter().any(|o| o.eq_ignore_ascii_case(d)))
        };
        let mut etags: HashMap<String, String> = HashMap::new();
        // One-time meetings made before, by event: the event may not carry
        // the id yet (the write that records it failed, or the process died
        // before it), and a second meeting must not be made for it.
        let known: HashMap<String, String> = if first
            .provisioning
            .iter()
            .any(|n| n.meeting_type == MeetingType::OneTime && n.existing_id.is_none())
        {
            self.ledger.one_time_meetings(user)?.into_iter().collect()
        } else {
            HashMap::new()
        };
        for need in &first.provisioning {
            let people: BTreeSet<String> = need
                .invitees
                .iter()
                .chain(std::iter::once(&need.organizer))
                .map(|e| e.to_ascii_lowercase())
                .collect();
            let members: Vec<String> = people.iter().filter(|e| in_org(e)).cloned().collect();
            // A 1:1: exactly two people, both of the organisation.
            let pair = (people.len() == 2 && members.len() == 2)
                .then(|| (members[0].clone(), members[1].clone()));
            let outcome = match need.meeting_type {
                MeetingType::Space => {
                    let known_pair = match &pair {
                        Some(p) => self.ledger.pair_space(&pair_digest(p))?,
                        None => None,
                    };
                    let spec = SpaceSpec {
                        existing_id: need.existing_id.clone().or(known_pair),
                        title: need.title.clone(),
                        members: members.clone(),
                    };
                    self.provider.ensure_space(&spec).await
                }
                MeetingType::OneTime => {
                    let spec = MeetingSpec {
                        existing_id: need
                            .existing_id
                            .clone()
                            .or_else(|| known.get(&need.event_id).cloned()),
                        title: need.title.clone(),
                        start: need.start.clone(),
                        end: need.end.clone(),
                        time_zone: need.time_zone.clone(),
                        host_email: need.organizer.clone(),
                        invitees: need.invitees.clone(),
                    };
                    self.provider.ensure_meeting(&spec).await
                }
                MeetingType::PersonalRoom => continue,
            };
            let provided = match outcome {
                Ok(provided) => provided,
                Err(error) => {
                    report
                        .deferred
                        .push((need.event_id.clone(), format!("meeting provider: {error}")));
                    continue;
                }
            };
            // The event carries the id too, so a failed write here costs
            // only reuse across events (pairs) or a cancellation.
            if need.meeting_type == MeetingType::Space
                && let Some(pair) = &pair
                && let Err(error) = self.ledger.put_pair_space(&pair_digest(pair), &provided.id)
            {
                tracing::warn!(%error, "cannot remember a pair's space");
            }
            let kind = match need.meeting_type {
                MeetingType::Space => "space",
                _ => "one_time",
            };
            if need.meeting_type == MeetingType::OneTime
                && let Err(error) =
                    self.ledger
                        .put_one_time_meeting(user, &need.event_id, &provided.id)
            {
                tracing::warn!(%user, %error, "cannot remember a one-time meeting");
            }
            if provided.created {
                report
                    .created
                    .push((need.event_id.clone(), kind.to_string(), provided.id.clone()));
            }
            if need.enriched {
                report.kept_in_step.push(need.event_id.clone());
                continue;
            }
            if need.existing_id.as_deref() != Some(provided.id.as_str()) {
                // Record the id before anything else: from here on, no run
                // makes a second one for this event.
                let mark = json!({
                    "extendedProperties": { "private": { MEETING_ID_PROPERTY: provided.id } }
                });
                match self
                    .google
                    .patch_event(user, "primary", &need.event_id, &mark, None)
                    .await
                {
                    Ok(event) => {
                        if let Some(etag) = event["etag"].as_str() {
                            etags.insert(need.event_id.clone(), etag.to_string());
                        }
                    }
                    Err(error) => {
                        report.deferred.push((
                            need.event_id.clone(),
                            format!("recording the meeting id: {error}"),
                        ));
                        continue;
                    }
                }
            }
            request.provided.push(ProvidedMeeting {
                event_id: need.event_id.clone(),
                meeting_type: need.meeting_type,
                details: provided.details,
                meeting_id: Some(provided.id),
            });
        }

        let second = if request.profiles.is_empty()
            && request.provided.is_empty()
            && first.enrichments.is_empty()
        {
            first
        } else {
            request.locale = self.google.setting(user, "locale").await.ok();
            self.runtime.process_isolating_traps(pages, &request)?
        };
        for error in &second.errors {
            let deferred = error
                .event_id
                .as_ref()
                .is_some_and(|id| report.deferred.iter().any(|(d, _)| d == id));
            if !deferred {
                report.errors.push((
                    error.event_id.clone(),
                    format!("{}: {}", error.error.code, error.error.message),
                ));
            }
        }
        for enrichment in &second.enrichments {
            let etag = etags
                .get(&enrichment.event_id)
                .cloned()
                .or_else(|| enrichment.etag.clone());
            let body: Value = serde_json::to_value(&enrichment.patch).unwrap_or_default();
            match self
                .google
                .patch_event(
                    user,
                    "primary",
                    &enrichment.event_id,
                    &body,
                    etag.as_deref(),
                )
                .await
            {
                Ok(_) => report.patched.push(enrichment.event_id.clone()),
                Err(GoogleError::PreconditionFailed { .. }) => report.deferred.push((
                    enrichment.event_id.clone(),
                    "the event changed since it was read; the next run enriches it".into(),
                )),
                Err(error) => report
                    .deferred
                    .push((enrichment.event_id.clone(), error.to_string())),
            }
        }
        Ok(report)
    }

    /// Delete the one-time meetings of events that are gone: known from an
    /// earlier run, not in this one, and cancelled or deleted in Google.
    async fn cancel_one_time_meetings(
        &self,
        user: &str,
        list: &MeetingList,
        report: &mut EnrichReport,
    ) -> Result<(), EnrichError> {
        let live: BTreeSet<&str> = list
            .meetings
            .iter()
            .map(|m| m.event_id.as_str())
            .chain(list.provisioning.iter().map(|p| p.event_id.as_str()))
            .collect();
        let known: Vec<(String, String)> = self
            .ledger
            .one_time_meetings(user)?
            .into_iter()
            .filter(|(event, _)| !live.contains(event.as_str()))
            .collect();
        for (event_id, meeting_id) in known {
            let gone = match self.google.get_event(user, "primary", &event_id).await {
                Ok(event) => event["status"] == "cancelled",
                Err(GoogleError::Deleted { .. }) => true,
                Err(error) => error.reason() == Some("notFound"),
            };
            if !gone {
                continue; // moved out of the window, not cancelled
            }
            match self.provider.delete_meeting(&meeting_id).await {
                Ok(()) => {
                    self.ledger.delete_one_time_meeting(user, &event_id)?;
                    report.deleted.push((event_id, meeting_id));
                }
                Err(error) => report.deferred.push((
                    event_id,
                    format!("cancelling the one-time meeting: {error}"),
                )),
            }
        }
        Ok(())
    }
}
