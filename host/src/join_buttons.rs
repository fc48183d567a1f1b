//! Join buttons: each is delivered at its time to its targets (invitees and
//! room devices), on the server-sent-events stream at once and by the
//! configured webhook, at least once and under one `Idempotency-Key`.
//!
//! A button is claimed in the store (by one worker of many), shown on the
//! streams, then POSTed to the webhook; it is recorded as delivered only
//! once the receiver answered. A worker killed before the answer leaves a
//! claim that is free as soon as that worker is no longer live (or the
//! claim runs out), so the button goes out again under the same key; one
//! killed after it leaves a delivered button that never goes out again. A
//! button whose meeting is over is not delivered.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::serve::{DeliveredButton, Service, now};
use crate::store::StoredButton;

/// How long a claim on a button holds: past it, a worker that claimed the
/// button and hung before the receiver answered has it delivered again (by
/// whichever worker is up), under the same `Idempotency-Key`. Longer than
/// the webhook's timeout.
const CLAIM_SECONDS: i64 = 60;
/// Webhook calls in flight at once: a slow receiver holds back at most this
/// many buttons, and never the streams.
const WEBHOOK_CONCURRENCY: usize = 16;
/// A delivery the webhook refused (or did not answer) is tried again after
/// this many seconds, until the meeting is over.
const RETRY_SECONDS: i64 = 5;

/// Deliver join buttons when they are due. Never two different deliveries
/// of one meeting's button: the key is the meeting and time, whoever
/// delivers it.
pub(crate) async fn scheduler(service: Arc<Service>) {
    let calls = Arc::new(tokio::sync::Semaphore::new(WEBHOOK_CONCURRENCY));
    // The webhook calls in flight: aborted with the scheduler (at shutdown,
    // before the worker gives its claims back).
    let mut in_flight = tokio::task::JoinSet::new();
    // What this process showed on its streams: a retried webhook call does
    // not show it again.
    let mut streamed: BTreeSet<(i64, String)> = BTreeSet::new();
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        while in_flight.try_join_next().is_some() {}
        let claim = claim_for(&service);
        let due = match service.store.due_buttons(&claim) {
            Ok(due) => due,
            Err(error) => {
                tracing::error!(%error, "join buttons: the store failed");
                continue;
            }
        };
        // A meeting several users are in is in each of their calendars, so
        // each schedules its button: they go out as one, to all targets.
        let mut meetings: BTreeMap<(i64, String), Vec<StoredButton>> = BTreeMap::new();
        for button in due {
            meetings
                .entry((button.at, button.meeting_key.clone()))
                .or_default()
                .push(button);
        }
        for ((at, meeting_key), buttons) in meetings {
            let claimed: Vec<StoredButton> = buttons
                .into_iter()
                .filter(|button| {
                    match service.store.claim_button(
                        &button.email,
                        &button.meeting_key,
                        button.at,
                        &claim,
                    ) {
                        Ok(taken) => taken, // false: another worker has it
                        Err(error) => {
                            tracing::error!(%error, "join buttons: the store failed");
                            false
                        }
                    }
                })
                .collect();
            if claimed.is_empty() {
                continue;
            }
            let delivered = opened(&service, &claimed);
            // Streams first: the devices in the room see the button now,
            // whatever the webhook does.
            if streamed.insert((at, meeting_key.clone())) {
                service.share_button(&delivered);
                let _ = service.buttons.send(delivered.clone());
            }
            match service.settings.join_button_webhook.clone() {
                None => recorded(&service, &claimed, &delivered),
                Some(url) => {
                    let (service, calls, claimed_at) = (service.clone(), calls.clone(), claim.now);
                    let key = format!("{meeting_key}/{at}");
                    in_flight.spawn(async move {
                        let call = Call {
                            url: &url,
                            key: &key,
                            claimed: &claimed,
                            claimed_at,
                        };
                        call_webhook(&service, &calls, call, &delivered).await
                    });
                }
            }
        }
        // Buttons of meetings long over can be forgotten.
        let over = now().as_second() - 24 * 3600;
        streamed.retain(|(at, _)| *at > over);
        // Presence that changes with the clock (an out-of-office block
        // starting) is this scheduler's too, after the buttons.
        service.presence_turn();
    }
}

/// One meeting's webhook call: where, under which key, for which claimed
/// buttons, claimed when (Unix seconds).
struct Call<'a> {
    url: &'a str,
    key: &'a str,
    claimed: &'a [StoredButton],
    claimed_at: i64,
}

/// POST one meeting's button to the webhook (waiting for a free call), and
/// record the outcome once the receiver answered.
async fn call_webhook(
    service: &Service,
    calls: &tokio::sync::Semaphore,
    call: Call<'_>,
    delivered: &DeliveredButton,
) {
    let Ok(_call) = calls.acquire().await else {
        return;
    };
    // Waited so long that the claim may have run out: another worker may
    // be delivering it already; the next turn claims it again.
    if now().as_second() - call.claimed_at > CLAIM_SECONDS / 2 {
        return released(service, call.claimed, 0);
    }
    // Still this worker's, renewed for the call: a worker that stalled and
    // lost its claims does not deliver what another now has.
    let claim = claim_for(service);
    let mut held = Vec::new();
    for button in call.claimed {
        match service
            .store
            .hold_button(&button.email, &button.meeting_key, button.at, &claim)
        {
            Ok(true) => held.push(button.clone()),
            Ok(false) => {}
            Err(error) => tracing::warn!(%error, "join buttons: cannot renew a claim"),
        }
    }
    if held.len() < call.claimed.len() {
        return released(service, &held, 0);
    }
    let answer = service
        .webhooks
        .post(call.url)
        .header("Idempotency-Key", call.key)
        .json(delivered)
        .send()
        .await;
    match answer {
        Ok(response) if response.status().is_success() => {
            recorded(service, call.claimed, delivered)
        }
        answer => {
            service
                .metrics
                .button_failures
                .fetch_add(1, Ordering::Relaxed);
            let why = match answer {
                Ok(response) => response.status().to_string(),
                Err(error) => error.without_url().to_string(),
            };
            tracing::warn!(
                meeting = %delivered.meeting_key,
                %why,
                retry_seconds = RETRY_SECONDS,
                "the join-button webhook did not take a button; it is retried"
            );
            released(service, call.claimed, RETRY_SECONDS);
        }
    }
}

/// The claimed buttons of one meeting as one delivery: their targets
/// opened and merged.
fn opened(service: &Service, claimed: &[StoredButton]) -> DeliveredButton {
    let mut delivered = service.open_button(&claimed[0]);
    for other in &claimed[1..] {
        for target in service.open_button(other).targets {
            if !delivered.targets.contains(&target) {
                delivered.targets.push(target);
            }
        }
    }
    delivered
}

/// The receiver answered (or there is none): the buttons are delivered.
fn recorded(service: &Service, claimed: &[StoredButton], delivered: &DeliveredButton) {
    for button in claimed {
        if let Err(error) = service.store.deliver_button(
            &button.email,
            &button.meeting_key,
            button.at,
            now().as_second(),
        ) {
            tracing::error!(%error, "join buttons: delivered, but not recorded");
        }
    }
    service
        .metrics
        .buttons_delivered
        .fetch_add(1, Ordering::Relaxed);
    tracing::info!(
        user = %delivered.user,
        meeting = %delivered.meeting_key,
        targets = delivered.targets.len(),
        "join button delivered"
    );
}

/// Give the buttons back, due again in `retry_seconds`.
fn released(service: &Service, claimed: &[StoredButton], retry_seconds: i64) {
    let retry_at = now().as_second() + retry_seconds;
    let worker = &service.settings.worker_id;
    for button in claimed {
        if let Err(error) = service.store.release_button(
            &button.email,
            &button.meeting_key,
            button.at,
            worker,
            retry_at,
        ) {
            // The claim runs out by itself.
            tracing::warn!(%error, "join buttons: cannot give a button back");
        }
    }
}

fn claim_for(service: &Service) -> crate::store::Claim {
    let now_s = now().as_second();
    crate::store::Claim {
        worker: service.settings.worker_id.clone(),
        now: now_s,
        hold_seconds: CLAIM_SECONDS,
        live_since: now_s - service.settings.lease.as_secs().max(1) as i64,
    }
}
