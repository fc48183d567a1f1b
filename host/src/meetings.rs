//! Stored meetings back into a meeting list, opened for an authorized
//! caller (the sealed fields decrypted with the org keys they name).

use hcal_core::model::{Meeting, MeetingList, OrgKey, Sealed, Text, Window};

use crate::runtime::{CallError, Runtime};
use crate::store::StoredMeeting;

/// Every field of a meeting that may be sealed.
fn texts(meeting: &mut Meeting) -> Vec<&mut Text> {
    let mut texts: Vec<&mut Text> = Vec::new();
    texts.extend(meeting.title.as_mut());
    texts.extend(meeting.location.as_mut());
    texts.extend(meeting.agenda.as_mut());
    if let Some(organizer) = &mut meeting.organizer {
        texts.push(&mut organizer.email);
        texts.extend(organizer.name.as_mut());
    }
    for attendee in &mut meeting.attendees {
        texts.push(&mut attendee.email);
        texts.extend(attendee.name.as_mut());
    }
    texts.extend(meeting.join.iter_mut().map(|link| &mut link.uri));
    texts.extend(meeting.links.iter_mut().map(|link| &mut link.uri));
    texts
}

/// Decrypt the sealed fields of `meetings` in one call to the core;
/// `key_for` finds the key a field names (a field whose key is unknown
/// stays sealed).
pub fn open_meetings(
    runtime: &Runtime,
    meetings: &mut [Meeting],
    key_for: &dyn Fn(&str) -> Option<OrgKey>,
) -> Result<(), CallError> {
    open_texts(
        runtime,
        meetings.iter_mut().flat_map(texts).collect(),
        key_for,
    )
}

/// Decrypt the sealed ones of `texts` in one call to the core (see
/// [`open_meetings`]).
pub fn open_texts(
    runtime: &Runtime,
    texts: Vec<&mut Text>,
    key_for: &dyn Fn(&str) -> Option<OrgKey>,
) -> Result<(), CallError> {
    let mut keys: Vec<OrgKey> = Vec::new();
    let mut asked = std::collections::BTreeSet::new();
    let (slots, values): (Vec<&mut Text>, Vec<Sealed>) = texts
        .into_iter()
        .filter_map(|text| {
            let sealed = match &*text {
                Text::Sealed(sealed) => sealed.clone(),
                Text::Plain(_) => return None,
            };
            if asked.insert(sealed.key_url.clone())
                && let Some(key) = key_for(&sealed.key_url)
            {
                keys.push(key);
            }
            keys.iter()
                .any(|k| k.key_url == sealed.key_url)
                .then_some((text, sealed))
        })
        .unzip();
    if values.is_empty() {
        return Ok(());
    }
    let values: Vec<&Sealed> = values.iter().collect();
    let opened = runtime.open_many(&values, &keys)?;
    if opened.len() != slots.len() {
        return Err(CallError::Trap(format!(
            "the core opened {} values of {}",
            opened.len(),
            slots.len()
        )));
    }
    for (slot, opened) in slots.into_iter().zip(opened) {
        *slot = Text::Plain(opened?);
    }
    Ok(())
}

/// Decrypt one meeting's sealed fields (see [`open_meetings`]).
pub fn open_meeting(
    runtime: &Runtime,
    mut meeting: Meeting,
    key_for: &dyn Fn(&str) -> Option<OrgKey>,
) -> Result<Meeting, CallError> {
    open_meetings(runtime, std::slice::from_mut(&mut meeting), key_for)?;
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

/// A stored meeting read back, still sealed.
fn parse_stored(stored: &StoredMeeting) -> Result<Meeting, OpenError> {
    serde_json::from_str(&stored.sealed_json).map_err(|e| OpenError::Corrupt {
        key: stored.key.clone(),
        message: e.to_string(),
    })
}

/// One stored meeting, read back and opened.
pub fn open_stored(
    runtime: &Runtime,
    stored: &StoredMeeting,
    key_for: &dyn Fn(&str) -> Option<OrgKey>,
) -> Result<Meeting, OpenError> {
    Ok(open_meeting(runtime, parse_stored(stored)?, key_for)?)
}

/// A user's stored meetings as a meeting list (for rendering or the API).
pub fn meeting_list(
    runtime: &Runtime,
    user: &str,
    window: &Window,
    stored: &[StoredMeeting],
    key_for: &dyn Fn(&str) -> Option<OrgKey>,
) -> Result<MeetingList, OpenError> {
    let mut meetings = stored
        .iter()
        .map(parse_stored)
        .collect::<Result<Vec<_>, _>>()?;
    open_meetings(runtime, &mut meetings, key_for)?;
    Ok(MeetingList {
        user: user.to_string(),
        window: window.clone(),
        meetings,
        join_buttons: Vec::new(),
        enrichments: Vec::new(),
        provisioning: Vec::new(),
        errors: Vec::new(),
        sync: Default::default(),
        presence: Vec::new(),
        birthdays: Vec::new(),
    })
}
