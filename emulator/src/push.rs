//! Push notifications (`events.watch`): bodiless POSTs to each channel's
//! address with Google's `X-Goog-*` headers, `sync` first, then `exists` on
//! every change, message numbers increasing per channel. Delivered in order
//! by one background task so a slow receiver never blocks the API.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

use crate::Shared;
use crate::events::Changed;
use crate::faults::PushFate;

/// One notification to send.
#[derive(Debug, Clone)]
pub struct Notification {
    pub address: String,
    pub channel_id: String,
    pub token: Option<String>,
    pub resource_id: String,
    pub resource_uri: String,
    pub state: &'static str,
    pub message_number: u64,
    pub expiration: Option<i64>,
    /// Lost on purpose (a `push` fault): logged, not sent.
    pub dropped: bool,
    /// Held back on purpose (a `push` fault): sent after the next ones.
    pub held_back: bool,
}

/// How long a held-back notification waits: later ones overtake it.
const HELD_BACK: Duration = Duration::from_millis(500);

/// What happened to one notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    pub channel_id: String,
    pub state: String,
    pub message_number: u64,
    /// The receiver's HTTP status; `None` when unreachable or dropped.
    pub status: Option<u16>,
    pub dropped: bool,
}

pub struct Pusher {
    queue: tokio::sync::mpsc::UnboundedSender<Notification>,
    log: Arc<Mutex<Vec<Delivery>>>,
}

impl Pusher {
    pub fn start() -> Pusher {
        let (queue, mut receiver) = tokio::sync::mpsc::unbounded_channel::<Notification>();
        let log = Arc::new(Mutex::new(Vec::new()));
        let worker_log = log.clone();
        tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default();
            while let Some(note) = receiver.recv().await {
                if note.held_back {
                    let (client, log) = (client.clone(), worker_log.clone());
                    tokio::spawn(async move {
                        tokio::time::sleep(HELD_BACK).await;
                        let status = deliver(&client, &note).await;
                        record(&log, &note, status);
                    });
                    continue;
                }
                let status = if note.dropped {
                    None
                } else {
                    deliver(&client, &note).await
                };
                record(&worker_log, &note, status);
            }
        });
        Pusher { queue, log }
    }

    pub fn send(&self, notes: Vec<Notification>) {
        for note in notes {
            let _ = self.queue.send(note);
        }
    }

    pub fn log(&self) -> Vec<Delivery> {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

fn record(log: &Mutex<Vec<Delivery>>, note: &Notification, status: Option<u16>) {
    log.lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(Delivery {
            channel_id: note.channel_id.clone(),
            state: note.state.to_string(),
            message_number: note.message_number,
            status,
            dropped: note.dropped,
        });
}

async fn deliver(client: &reqwest::Client, note: &Notification) -> Option<u16> {
    let mut request = client
        .post(&note.address)
        .header("X-Goog-Channel-ID", &note.channel_id)
        .header("X-Goog-Resource-ID", &note.resource_id)
        .header("X-Goog-Resource-URI", &note.resource_uri)
        .header("X-Goog-Resource-State", note.state)
        .header("X-Goog-Message-Number", note.message_number.to_string())
        .header("Content-Length", "0");
    if let Some(token) = &note.token {
        request = request.header("X-Goog-Channel-Token", token);
    }
    if let Some(expiration) = note.expiration
        && let Ok(at) = jiff::Timestamp::from_millisecond(expiration)
    {
        let text = at.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string();
        request = request.header("X-Goog-Channel-Expiration", text);
    }
    request.send().await.ok().map(|r| r.status().as_u16())
}

impl Shared {
    /// Tell the live channels of every changed calendar (`exists`); expired
    /// channels are forgotten, as Google never renews them.
    pub fn notify(&self, changed: &Changed) {
        if changed.is_empty() {
            return;
        }
        let mut state = self.lock();
        let now = state.now().as_millisecond();
        state
            .channels
            .retain(|_, c| c.expiration.is_none_or(|at| at > now));
        let ids: Vec<String> = state
            .channels
            .values()
            .filter(|c| changed.contains(&c.calendar_id))
            .map(|c| c.id.clone())
            .collect();
        let mut notes = Vec::new();
        for id in ids {
            let fate = state.push_fate();
            if let Some(channel) = state.channels.get_mut(&id) {
                notes.extend(notes_for(channel, "exists", fate));
            }
        }
        drop(state);
        self.push.send(notes);
    }
}

/// The next notification of a channel (takes its message number), as
/// `fate` has it: dropped, sent twice, held back, or sent.
pub fn notes_for(
    channel: &mut crate::state::Channel,
    state: &'static str,
    fate: PushFate,
) -> Vec<Notification> {
    let note = note_for(channel, state, fate);
    match fate {
        PushFate::Duplicate => vec![note.clone(), note],
        _ => vec![note],
    }
}

fn note_for(
    channel: &mut crate::state::Channel,
    state: &'static str,
    fate: PushFate,
) -> Notification {
    let number = channel.next_message;
    channel.next_message += 1;
    Notification {
        address: channel.address.clone(),
        channel_id: channel.id.clone(),
        token: channel.token.clone(),
        resource_id: channel.resource_id.clone(),
        resource_uri: format!(
            "https://www.googleapis.com/calendar/v3/calendars/{}/events?alt=json",
            channel.calendar_id.replace('@', "%40")
        ),
        state,
        message_number: number,
        expiration: channel.expiration,
        dropped: fate == PushFate::Drop,
        held_back: fate == PushFate::Reorder,
    }
}
