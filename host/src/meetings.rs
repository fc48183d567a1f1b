//! Stored meetings back into a meeting list, opened for an authorized
//! caller (the sealed fields decrypted with the org keys they name).

use hcal_core::model::{Meeting, MeetingList, OrgKey, Text, Window};

use crate::runtime::{CallError, Runtime};
use crate::store::StoredMeeting;

/// Decrypt a meeting's sealed fields; `key_for` finds the key a field names.
pub fn open_meeting(
    runtime: &Runtime,
    mut meeting: Meeting,
    key_for: &dyn Fn(&str) -> Option<OrgKey>,
) -> Result<Meeting, CallError> {
    let open = |text: &mut Text| -> Result<(), CallError> {
        if let Text::Sealed(sealed) = text
            && let Some(key) = key_for(&sealed.key_url)
        {
            *text = Text::Plain(runtime.open(sealed, &key)?);
        }
        Ok(())
    };
    for text in [
        &mut meeting.title,
        &mut meeting.location,
        &mut meeting.agenda,
    ]
    .into_iter()
    .flatten()
    {
        open(text)?;
    }
    if let Some(organizer) = &mut meeting.organizer {
        open(&mut organizer.email)?;
        if let Some(name) = &mut organizer.name {
            open(name)?;
        }
    }
    for attendee in &mut meeting.attendees {
        open(&mut attendee.email)?;
        if let Some(name) = &mut attendee.name {
            open(name)?;
        }
    }
    Ok(meeting)
}

/// Why stored meetings could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("stored meeting {key} is not what hcal wrote: {message}")]
    Corrupt { key: String, message: String },
    #[error(transparent)]
    Core(#[from] CallError),
}

/// One stored meeting, read back and opened.
pub fn open_stored(
    runtime: &Runtime,
    stored: &StoredMeeting,
    key_for: &dyn Fn(&str) -> Option<OrgKey>,
) -> Result<Meeting, OpenError> {
    let parsed: Meeting =
        serde_json::from_str(&stored.sealed_json).map_err(|e| OpenError::Corrupt {
            key: stored.key.clone(),
            message: e.to_string(),
        })?;
    Ok(open_meeting(runtime, parsed, key_for)?)
}

/// A user's stored meetings as a meeting list (for rendering or the API).
pub fn meeting_list(
    runtime: &Runtime,
    user: &str,
    window: &Window,
    stored: &[StoredMeeting],
    key_for: &dyn Fn(&str) -> Option<OrgKey>,
) -> Result<MeetingList, OpenError> {
    let meetings = stored
        .iter()
        .map(|meeting| open_stored(runtime, meeting, key_for))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(MeetingList {
        user: user.to_string(),
        window: window.clone(),
        meetings,
        join_buttons: Vec::new(),
        enrichments: Vec::new(),
        provisioning: Vec::new(),
        errors: Vec::new(),
        sync: Default::default(),
    })
}
