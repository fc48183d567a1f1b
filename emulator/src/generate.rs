//! A generated organisation of any size, for benchmarks, load tests and
//! `hcal-emulator --scale`: [`Seed::generated`] and [`generated_user`].

use serde_json::{Value, json};

use crate::Seed;

/// The `i`th generated user's address: `user0000@example.com`,
/// `user0001@example.com`, ... (four digits at least).
pub fn generated_user(i: usize) -> String {
    format!("user{i:04}@example.com")
}

impl Seed {
    /// The demo organisation ([`Seed::demo`], unchanged: its users and
    /// their events, rooms, service account, delegated scopes, OAuth client
    /// and Webex bot token) with `users` more users,
    /// [`generated_user`]`(0..users)` (named `User {i}`, UTC, English,
    /// delegation granted), each with a realistic calendar of
    /// `events_per_user` meetings around `now`. The same arguments give the
    /// same seed.
    ///
    /// The meetings run from five days before `now`'s UTC date to four
    /// weeks after it (the `i`th on day `i % 32`, 08:00–16:45 UTC, 45
    /// minutes; ids `ev000`, `ev001`, ... in every calendar), organised by
    /// the user, with ~1 KB HTML descriptions holding links (a
    /// Google-wrapped Webex link, a `tel:` number), four external invitees
    /// (`guest{a}.{i}@partner.example.org`), a room
    /// (`room-1@resource.calendar.google.com`) on every fourth, Meet
    /// conference data on every third, the first (`ev000`) a weekly series
    /// of eight, and, for every tenth user (`user0000`, `user0010`, ...),
    /// the eighth (`ev007`) a `Room 2 @webex` keyword meeting without a join
    /// link, for hcal to enrich.
    pub fn generated(users: usize, events_per_user: usize, now: jiff::Timestamp) -> Seed {
        let mut seed = Seed::demo().expect("the built-in demo seed parses");
        seed.domain.users.reserve(users);
        seed.events.reserve(users);
        for i in 0..users {
            let email = generated_user(i);
            let events = calendar(&email, i, events_per_user, now);
            seed = seed
                .with_user(&email, &format!("User {i}"))
                .with_events(&email, events);
        }
        seed
    }
}

/// `events` meetings for `email` (the `user_index`th user) around `now`.
fn calendar(email: &str, user_index: usize, events: usize, now: jiff::Timestamp) -> Vec<Value> {
    let day0 = now
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date()
        .checked_sub(jiff::Span::new().days(5))
        .expect("a date five days back");
    let background = "Background and context for the discussion. ".repeat(14);
    (0..events)
        .map(|i| {
            let date = day0
                .checked_add(jiff::Span::new().days((i % 32) as i64))
                .expect("a date in range");
            let hour = 8 + (i % 9);
            let mut attendees: Vec<Value> = (0..4)
                .map(|a| json!({"email": format!("guest{a}.{i}@partner.example.org"), "displayName": format!("Guest {a}"), "responseStatus": "needsAction"}))
                .collect();
            attendees.push(json!({"email": email, "self": true, "organizer": true, "responseStatus": "accepted"}));
            if i % 4 == 0 {
                attendees.push(json!({"email": "room-1@resource.calendar.google.com", "resource": true, "responseStatus": "accepted"}));
            }
            let keyword = user_index.is_multiple_of(10) && i == 7;
            let mut event = json!({
                "id": format!("ev{i:03}"),
                "status": "confirmed",
                "summary": format!("Project {i} review"),
                "location": if keyword { "Room 2 @webex".to_string() } else { format!("Room {}", i % 5) },
                // A keyword event has no join link yet: hcal writes it.
                "description": if keyword {
                    format!("<p>Planning for quarter {i}.</p><p>{background}</p>")
                } else {
                    format!(
                        "<p>Agenda for meeting {i}:</p><ul><li>Status &amp; risks</li><li>Decisions</li></ul>\
                         <p>Notes: <a href=\"https://docs.example.com/notes/{i}\">notes</a>. Join: \
                         <a href=\"https://www.google.com/url?q=https%3A%2F%2Facme.webex.com%2Fmeet%2Fu{user_index}&amp;sa=D\">Webex</a>; \
                         dial tel:+1-415-555-{i:04}.</p><p>{background}</p>"
                    )
                },
                "start": {"dateTime": format!("{date}T{hour:02}:00:00Z"), "timeZone": "UTC"},
                "end": {"dateTime": format!("{date}T{hour:02}:45:00Z"), "timeZone": "UTC"},
                "organizer": {"email": email, "self": true},
                "creator": {"email": email, "self": true},
                "attendees": attendees,
            });
            if i % 3 == 0 {
                event["conferenceData"] = json!({"entryPoints": [
                    {"entryPointType": "video", "uri": format!("https://meet.google.com/abc-defg-{:03}", i % 1000)}]});
            }
            if i == 0 {
                event["recurrence"] = json!(["RRULE:FREQ=WEEKLY;COUNT=8"]);
            }
            event
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_organisation_is_the_demo_plus_its_users() {
        let now: jiff::Timestamp = "2027-03-10T12:00:00Z".parse().unwrap();
        let seed = Seed::generated(12, 40, now);
        let demo = Seed::demo().unwrap();
        assert_eq!(seed.domain.users.len(), demo.domain.users.len() + 12);
        assert_eq!(
            seed.domain.users.last().unwrap().email,
            "user0011@example.com"
        );
        assert_eq!(seed.domain.rooms.len(), demo.domain.rooms.len());
        assert_eq!(seed.domain.webex.bot_tokens, demo.domain.webex.bot_tokens);
        assert_eq!(
            seed.domain.webex.service_apps.len(),
            demo.domain.webex.service_apps.len()
        );
        assert_eq!(
            seed.domain.oauth_clients.len(),
            demo.domain.oauth_clients.len()
        );
        assert_eq!(seed.event_count(), demo.event_count() + 12 * 40);
        let (email, events) = &seed.events[demo.events.len()];
        assert_eq!(email, "user0000@example.com");
        assert_eq!(events[0]["start"]["dateTime"], "2027-03-05T08:00:00Z");
        assert_eq!(events[0]["recurrence"][0], "RRULE:FREQ=WEEKLY;COUNT=8");
        assert_eq!(events[7]["location"], "Room 2 @webex");
        let (_, other) = &seed.events[demo.events.len() + 1];
        assert_eq!(other[7]["location"], "Room 2");
        let again = Seed::generated(12, 40, now);
        assert_eq!(
            serde_json::to_string(&again.events).unwrap(),
            serde_json::to_string(&seed.events).unwrap()
        );
        assert_eq!(generated_user(12345), "user12345@example.com");
    }
}
