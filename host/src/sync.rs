//! Sync: a user's calendar window from Google into the store, through the
//! core, sealed.
//!
//! The first sync lists the window (every page), runs all pages through the
//! core in one batch (so a series comes whole with its exceptions, whatever
//! page they are on) and stores the meetings with the sync token in one
//! transaction. Later syncs ask Google what changed since the token: nothing
//! costs one call; a change refreshes the window the same way (proportional
//! to the users who changed, and never half a series). `410` means the token
//! expired: a full sync replaces everything, losing and duplicating nothing.
//! A crash at any point leaves the previous state and token, so the next
//! sync simply happens again.

use hcal_core::model::{MeetingList, Options, OrgKey, ProcessRequest, Window};
use serde::Serialize;

use crate::google::calendar::{SyncFrom, SyncOutcome};
use crate::google::{Google, GoogleError};
use crate::runtime::{CallError, Runtime};
use crate::store::{
    PageUpdate, Store, StoreError, StoredButton, StoredMeeting, UserState, in_write_turn,
};

/// The calendar hcal syncs for each user.
pub const CALENDAR: &str = "primary";

/// What one sync of one user did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    pub user: String,
    pub kind: SyncKind,
    /// Events Google sent (changes for an incremental check).
    pub events: usize,
    /// Meetings now stored for the window.
    pub meetings: usize,
    pub join_buttons: usize,
    /// Events the core could not use (with reasons, for the admin).
    pub errors: Vec<(Option<String>, String)>,
    /// The window as Google sent it, when it was read (not `Unchanged`):
    /// enrichment works on the same pages instead of reading them again.
    #[serde(skip)]
    pub pages: Vec<String>,
    /// The core's list of the window (sealed), when it was read.
    #[serde(skip)]
    pub list: Option<MeetingList>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncKind {
    /// No token yet: the window listed.
    Full,
    /// The token had expired (410): the window listed again.
    Resync,
    /// Changes since the token: the window refreshed.
    Changed,
    /// Nothing changed since the token.
    Unchanged,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("{user} is not activated ({state:?}); hcal touches only activated users")]
    NotActivated { user: String, state: UserState },
    #[error(transparent)]
    Google(#[from] GoogleError),
    #[error("the core: {0}")]
    Core(#[from] CallError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("Google asked for a full sync during one; the next sync starts over")]
    Restarted,
}

/// Syncs users of one organisation.
pub struct Syncer<'a, S: Store + ?Sized> {
    pub google: &'a Google,
    pub store: &'a S,
    pub runtime: &'a Runtime,
    pub options: &'a Options,
    /// Sensitive fields are sealed with this key before they are stored.
    pub key: &'a OrgKey,
}

impl<S: Store + ?Sized> Syncer<'_, S> {
    /// Bring `user`'s stored meetings for `window` up to date, at `now`.
    pub async fn sync(
        &self,
        user: &str,
        window: &Window,
        now: &str,
    ) -> Result<SyncReport, SyncError> {
        let state = self
            .store
            .user(user)?
            .ok_or_else(|| StoreError::NoUser(user.to_string()))?
            .state;
        if state != UserState::Activated {
            return Err(SyncError::NotActivated {
                user: user.to_string(),
                state,
            });
        }
        let (kind, changes, token) = match self.store.sync_token(user, CALENDAR)? {
            None => (SyncKind::Full, 0, None),
            Some(token) => match self
                .google
                .sync(user, CALENDAR, SyncFrom::Token(token), |_| {})
                .await?
            {
                SyncOutcome::FullSyncRequired => (SyncKind::Resync, 0, None),
                SyncOutcome::Complete {
                    events: 0,
                    next_sync_token,
                    ..
                } => {
                    // Nothing changed: keep the newer token, touch nothing else.
                    let update = PageUpdate {
                        next_sync_token: Some(next_sync_token),
                        ..PageUpdate::default()
                    };
                    in_write_turn(self.store, || {
                        self.store.apply_page(user, CALENDAR, &update)
                    })
                    .await?;
                    let stored = self.store.meeting_count(user)?;
                    return Ok(SyncReport {
                        user: user.to_string(),
                        kind: SyncKind::Unchanged,
                        events: 0,
                        meetings: stored,
                        join_buttons: 0,
                        errors: Vec::new(),
                        pages: Vec::new(),
                        list: None,
                    });
                }
                SyncOutcome::Complete {
                    events,
                    next_sync_token,
                    ..
                } => (SyncKind::Changed, events, Some(next_sync_token)),
            },
        };
        let from = SyncFrom::Full {
            time_min: Some(window.from.clone()),
            time_max: Some(window.to.clone()),
        };
        let SyncOutcome::Complete {
            pages,
            events,
            next_sync_token,
        } = self.google.sync(user, CALENDAR, from, |_| {}).await?
        else {
            return Err(SyncError::Restarted);
        };
        let pages: Vec<String> = pages.into_iter().map(|p| p.raw).collect();
        let list = self.process(user, window, now, &pages)?;
        let meetings = list
            .meetings
            .iter()
            .map(StoredMeeting::from_meeting)
            .collect::<Result<Vec<_>, _>>()?;
        let ends: std::collections::HashMap<&str, i64> = meetings
            .iter()
            .map(|m| (m.key.as_str(), m.ends_at))
            .collect();
        let buttons = list
            .join_buttons
            .iter()
            .filter_map(|b| {
                Some(StoredButton {
                    email: user.to_ascii_lowercase(),
                    meeting_key: b.meeting_key.clone(),
                    at: b.at.parse::<jiff::Timestamp>().ok()?.as_second(),
                    targets_json: serde_json::to_string(&b.targets).ok()?,
                    delivered_at: None,
                    ends_at: ends.get(b.meeting_key.as_str()).copied(),
                })
            })
            .collect();
        let update = PageUpdate {
            replace_all: true,
            replaced_events: Vec::new(),
            meetings,
            join_buttons: Some(buttons),
            presence_blocks: Some(
                serde_json::to_string(&list.presence)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            ),
            // The incremental token is the newer one when there is one.
            next_sync_token: Some(token.unwrap_or(next_sync_token)),
        };
        in_write_turn(self.store, || {
            self.store.apply_page(user, CALENDAR, &update)
        })
        .await?;
        Ok(SyncReport {
            user: user.to_string(),
            kind,
            events: if kind == SyncKind::Changed {
                changes
            } else {
                events
            },
            meetings: list.meetings.len(),
            join_buttons: list.join_buttons.len(),
            errors: list
                .errors
                .iter()
                // Personal Rooms are enrichment's business, not sync's.
                .filter(|e| e.error.code != "no-personal-room")
                .map(|e| {
                    (
                        e.event_id.clone(),
                        format!("{}: {}", e.error.code, e.error.message),
                    )
                })
                .collect(),
            pages,
            list: Some(list),
        })
    }

    fn process(
        &self,
        user: &str,
        window: &Window,
        now: &str,
        pages: &[String],
    ) -> Result<MeetingList, CallError> {
        let request = ProcessRequest {
            user: user.to_string(),
            window: window.clone(),
            now: now.to_string(),
            options: self.options.clone(),
            profiles: Vec::new(),
            provided: Vec::new(),
            locale: None,
            seal_with: Some(self.key.clone()),
        };
        self.runtime.process_isolating_traps(pages, &request)
    }
}
