//! Join buttons: each is delivered at its time, exactly once, to its
//! targets (invitees and room devices), by the configured webhook and on the
//! server-sent-events stream.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::serve::{Service, now};

/// How long a claim on a button holds: past it, a worker that claimed the
/// button and died before the receiver answered has it delivered again
/// (by whichever worker is up), under the same `Idempotency-Key`.
const CLAIM_SECONDS: i64 = 60;

/// Deliver join buttons when they are due: a button is claimed in the store
/// (by one worker of many), delivered, and marked delivered once the
/// receiver answered; given back if it refused. Never two different
/// deliveries: the key is the meeting and time, whoever delivers it.
pub(crate) async fn scheduler(service: Arc<Service>) {
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now_s = now().as_second();
        let claim = claim_for(&service, now_s);
        let due = match service.store.due_buttons(now_s) {
            Ok(due) => due,
            Err(error) => {
                tracing::error!(%error, "join buttons: the store failed");
                continue;
            }
        };
        // A meeting several users are in is in each of their calendars, so
        // each schedules its button: they go out as one, to all targets.
        let mut meetings: std::collections::BTreeMap<(i64, String), Vec<_>> = Default::default();
        for button in due {
            meetings
                .entry((button.at, button.meeting_key.clone()))
                .or_default()
                .push(button);
        }
        for ((at, meeting_key), buttons) in meetings {
            let mut claimed = Vec::new();
            for button in buttons {
                match service.store.claim_button(
                    &button.email,
                    &button.meeting_key,
                    button.at,
                    &claim,
                ) {
                    Ok(true) => claimed.push(button),
                    Ok(false) => {} // another instance has it
                    Err(error) => tracing::error!(%error, "join buttons: the store failed"),
                }
            }
            let Some(first) = claimed.first() else {
                continue;
            };
            let mut delivered = service.open_button(first);
            for other in &claimed[1..] {
                for target in service.open_button(other).targets {
                    if !delivered.targets.contains(&target) {
                        delivered.targets.push(target);
                    }
                }
            }
            let accepted = match &service.settings.join_button_webhook {
                Some(url) => service
                    .webhooks
                    .post(url)
                    .header("Idempotency-Key", format!("{meeting_key}/{at}"))
                    .json(&delivered)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success()),
                None => true,
            };
            if accepted {
                for button in &claimed {
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
                service.share_button(&delivered);
                let _ = service.buttons.send(delivered);
            } else {
                service
                    .metrics
                    .button_failures
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    meeting = %meeting_key,
                    "the join-button webhook refused a button; it is retried"
                );
                for button in &claimed {
                    let _ =
                        service
                            .store
                            .release_button(&button.email, &button.meeting_key, button.at);
                }
            }
        }
    }
}

fn claim_for(service: &Service, now_s: i64) -> crate::store::Claim {
    crate::store::Claim {
        worker: service.settings.worker_id.clone(),
        now: now_s,
        hold_seconds: CLAIM_SECONDS,
    }
}
