//! The OpenAPI 3.1 document of the API (`GET /api/v1/openapi.json`), built
//! from one table, `operations()`: each route of `api::router` is
//! described there once — method, path (its parameters follow from the
//! template), query and header parameters, request body, every answer it
//! can give with its schema, and who may call it — and [`document`] turns
//! the table into the document.
//!
//! The document covers the API and the operational routes (`/healthz`,
//! `/readyz`, `/metrics`, `/push`, `/api/v1/openapi.json`). The web app's
//! HTML routes (`/`, `/app/...`, `/auth/...`, `/admin...`, `/assets/...`,
//! [`crate::web`]) are left out: they are pages and forms for a browser,
//! not an API. The tests below fail when a `.route(...)` of `api.rs` is
//! missing from the document, or the document has one `api.rs` does not.
//!
//! Every error is `{"error": {"code", "message"}}` (the `Error` schema); the
//! codes each route can answer are listed with it.

use serde_json::{Map, Value, json};

/// Who may call a route: its `security` in the document.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Who {
    /// Anyone (no `security`).
    Anyone,
    /// `/metrics`: anyone, unless a metrics token is configured.
    Metrics,
    /// Admins signed in, and service tokens.
    Admin,
    /// A signed-in person, for themselves.
    Person,
    /// A room device, with its device token.
    Device,
    /// That room's device, admins and service tokens.
    Room,
}

/// One operation of the table.
struct Op {
    method: &'static str,
    path: &'static str,
    id: &'static str,
    tag: &'static str,
    who: Who,
    summary: &'static str,
    description: Option<&'static str>,
    parameters: Vec<Value>,
    body: Option<Value>,
    /// Status → response object, in the order given.
    responses: Vec<(u16, Value)>,
    /// Path parameters' examples other than [`path_parameters`]'s.
    examples: Vec<(&'static str, Value)>,
}

fn op(
    method: &'static str,
    path: &'static str,
    id: &'static str,
    tag: &'static str,
    who: Who,
    summary: &'static str,
) -> Op {
    Op {
        method,
        path,
        id,
        tag,
        who,
        summary,
        description: None,
        parameters: Vec::new(),
        body: None,
        responses: Vec::new(),
        examples: Vec::new(),
    }
}

impl Op {
    fn describe(mut self, text: &'static str) -> Op {
        self.description = Some(text);
        self
    }

    /// A path parameter's example (the examples phase of schemathesis calls it).
    fn example(mut self, name: &'static str, value: Value) -> Op {
        self.examples.push((name, value));
        self
    }

    /// An optional query parameter; a value of the wrong kind is 400.
    fn query(mut self, name: &str, schema: Value, description: &str) -> Op {
        self.parameters.push(json!({
            "name": name, "in": "query", "required": false,
            "description": description, "schema": schema,
        }));
        self.error(400, "a query parameter of the wrong kind (`invalid`)")
    }

    /// A request header.
    fn header(mut self, name: &str, required: bool, schema: Value, description: &str) -> Op {
        self.parameters.push(json!({
            "name": name, "in": "header", "required": required,
            "description": description, "schema": schema,
        }));
        self
    }

    /// A JSON request body, and what reading it can refuse.
    fn body(mut self, schema: Value) -> Op {
        self.body = Some(json!({
            "required": true,
            "content": { "application/json": { "schema": schema } },
        }));
        self.error(400, "the body is not JSON (`malformed_json`)")
            .error(413, "the body is over 64 KiB (`too_large`)")
            .error(
                415,
                "the body is not `application/json` (`unsupported_media_type`)",
            )
            .error(
                422,
                "the body is JSON without the fields this route takes (`invalid`)",
            )
    }

    /// A successful answer.
    fn ok(mut self, status: u16, description: &str, content: Value) -> Op {
        let mut response = json!({ "description": description });
        if !content.is_null() {
            response["content"] = content;
        }
        self.responses.push((status, response));
        self
    }

    /// A successful answer with response headers and links.
    fn ok_with(mut self, status: u16, description: &str, content: Value, extra: Value) -> Op {
        self = self.ok(status, description, content);
        if let (Some((_, response)), Value::Object(extra)) = (self.responses.last_mut(), extra) {
            for (k, v) in extra {
                response[k] = v;
            }
        }
        self
    }

    /// An error answer (`Error`); several causes of one status are joined.
    fn error(mut self, status: u16, why: &str) -> Op {
        if let Some((_, response)) = self.responses.iter_mut().find(|(s, _)| *s == status) {
            let before = response["description"].as_str().unwrap_or("").to_string();
            if !before.contains(why) {
                response["description"] = json!(format!("{before}; {why}"));
            }
        } else {
            self.responses.push((
                status,
                json!({
                    "description": why,
                    "content": { "application/json": { "schema": reference("Error") } },
                }),
            ));
        }
        self
    }

    /// A header that a response (added before) always carries.
    fn response_header(mut self, status: u16, name: &str, description: &str) -> Op {
        if let Some((_, response)) = self.responses.iter_mut().find(|(s, _)| *s == status) {
            response["headers"][name] = json!({
                "description": description, "required": true, "schema": { "type": "string" },
            });
        }
        self
    }

    /// What every route behind the caller's check can answer.
    fn guarded(self) -> Op {
        let unsafe_method = !matches!(self.method, "get" | "head");
        let op = self.error(
            401,
            "no credentials, or a bearer token this service did not issue (`unauthorized`)",
        );
        let op = match op.who {
            Who::Admin => op.error(
                403,
                "the caller is not an admin nor a service token (`forbidden`)",
            ),
            Who::Person => op.error(
                403,
                "the caller is not a signed-in person: a token has no meetings of its own (`forbidden`)",
            ),
            Who::Device => op.error(403, "the caller is not a room device (`forbidden`)"),
            Who::Room => op.error(
                403,
                "the room is not the device's, and the caller is no admin (`forbidden`)",
            ),
            Who::Anyone | Who::Metrics => op,
        };
        if unsafe_method && matches!(op.who, Who::Admin | Who::Person) {
            op.error(
                403,
                "a signed-in change without this site's Origin and the session's X-CSRF-Token (`csrf`)",
            )
        } else {
            op
        }
    }

    /// The store failing (`store`).
    fn store(self) -> Op {
        self.error(500, "the store failed (`store`)")
    }

    fn into_json(self) -> Value {
        let mut operation = Map::new();
        operation.insert("operationId".into(), json!(self.id));
        operation.insert("tags".into(), json!([self.tag]));
        operation.insert("summary".into(), json!(self.summary));
        if let Some(text) = self.description {
            operation.insert("description".into(), json!(text));
        }
        let unsafe_method = !matches!(self.method, "get" | "head");
        let security = match self.who {
            Who::Anyone => json!([]),
            Who::Metrics => json!([{}, { "metricsToken": [] }]),
            Who::Admin if unsafe_method => {
                json!([{ "serviceToken": [] }, { "session": [], "csrf": [] }])
            }
            Who::Admin => json!([{ "serviceToken": [] }, { "session": [] }]),
            Who::Person if unsafe_method => json!([{ "session": [], "csrf": [] }]),
            Who::Person => json!([{ "session": [] }]),
            Who::Device => json!([{ "deviceToken": [] }]),
            Who::Room => json!([{ "deviceToken": [] }, { "serviceToken": [] }, { "session": [] }]),
        };
        operation.insert("security".into(), security);
        let mut parameters: Vec<Value> = path_parameters(self.path);
        for (name, example) in self.examples {
            let parameter = parameters
                .iter_mut()
                .find(|p| p["name"] == name)
                .unwrap_or_else(|| panic!("openapi: {} has no path parameter {name}", self.path));
            parameter["example"] = example;
        }
        parameters.extend(self.parameters);
        if !parameters.is_empty() {
            operation.insert("parameters".into(), Value::Array(parameters));
        }
        if let Some(body) = self.body {
            operation.insert("requestBody".into(), body);
        }
        let mut responses = self.responses;
        responses.sort_by_key(|(status, _)| *status);
        let responses: Map<String, Value> = responses
            .into_iter()
            .map(|(status, response)| (status.to_string(), response))
            .collect();
        operation.insert("responses".into(), Value::Object(responses));
        Value::Object(operation)
    }
}

/// The parameters a path template names, each with its schema.
fn path_parameters(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            let (schema, description, example) = match name {
                // Looked up as given (trimmed, lowered): one that is no
                // address is no one, 404, as an unknown one is.
                "email" => (
                    json!({ "type": "string", "format": "email", "minLength": 1 }),
                    "an e-mail address: a user's, or a room's resource calendar",
                    json!("alice@example.com"),
                ),
                "key" => (
                    json!({ "type": "string", "minLength": 1 }),
                    "a meeting's key (its event id, or the series id and the instance's start)",
                    Value::Null,
                ),
                "id" => (
                    json!({ "type": "string", "minLength": 1 }),
                    "a device token's id (`id` of POST /api/v1/devices)",
                    Value::Null,
                ),
                other => panic!("openapi: no schema for the path parameter {{{other}}}"),
            };
            let mut parameter = json!({
                "name": name, "in": "path", "required": true,
                "description": description, "schema": schema,
            });
            if !example.is_null() {
                parameter["example"] = example;
            }
            parameter
        })
        .collect()
}

fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn json_content(schema: Value) -> Value {
    json!({ "application/json": { "schema": schema } })
}

fn text_content(media: &str, description: &str) -> Value {
    json!({ media: { "schema": { "type": "string", "description": description } } })
}

fn nullable(schema: Value) -> Value {
    json!({ "anyOf": [schema, { "type": "null" }] })
}

fn date_time() -> Value {
    json!({ "type": "string", "format": "date-time" })
}

/// A window's bound in the query: RFC 3339 (what the handlers parse).
fn window_bound(which: &str) -> Value {
    json!({
        "type": "string", "format": "date-time",
        "description": format!("RFC 3339; the configured window's {which} when absent"),
    })
}

/// The window and sealed query parameters of a meeting list.
fn window_query(op: Op) -> Op {
    op.query(
        "from",
        window_bound("start"),
        "the window's start (RFC 3339)",
    )
    .query("to", window_bound("end"), "the window's end (RFC 3339)")
    .query(
        "sealed",
        json!({ "type": "boolean", "default": false }),
        "true: the meetings as stored, their sensitive fields sealed (JWE), unopened",
    )
    .error(
        400,
        "from or to is not an RFC 3339 time, or to is not after from (`invalid`)",
    )
}

/// A stream of server-sent events of these names, each one's `data` JSON
/// of the schema given. The schema of `text/event-stream` in OpenAPI 3.1
/// is one event's: `{"event", "data"}`, `data` the text after `data:`.
fn sse(events: &[(&str, Value)]) -> Value {
    let one_of: Vec<Value> = events
        .iter()
        .map(|(name, data)| {
            json!({
                "type": "object", "additionalProperties": false,
                "required": ["event", "data"],
                "properties": {
                    "event": { "const": name },
                    "data": {
                        "type": "string",
                        "contentMediaType": "application/json",
                        "contentSchema": data,
                    },
                },
            })
        })
        .collect();
    json!({ "text/event-stream": { "schema": { "oneOf": one_of } } })
}

/// Every route of [`crate::api::router`] but the web app's, as the
/// document describes it.
fn operations() -> Vec<Op> {
    use Who::*;
    // Links: what the stateful phase of schemathesis follows, from a
    // created or listed thing to the routes that take it.
    let answer_link = |target: &str, email: bool| {
        let mut parameters =
            json!({ "key": "$request.path.key", "If-Match": "$response.header.ETag" });
        if email {
            parameters["email"] = json!("$request.path.email");
        }
        json!({ "answer": {
            "operationId": target, "parameters": parameters,
            "description": "Answer this meeting, guarded by the ETag just read",
        } })
    };
    let meeting_link = |target: &str, email: bool| {
        let mut parameters = json!({ "key": "$response.body#/meetings/0/key" });
        if email {
            parameters["email"] = json!("$request.path.email");
        }
        json!({ "links": { "meeting": {
            "operationId": target, "parameters": parameters,
            "description": "The first meeting of the list",
        } } })
    };
    let user_links = json!({ "links": {
        "user": { "operationId": "getUser", "parameters": { "email": "$response.body#/email" } },
        "meetings": { "operationId": "listMeetings", "parameters": { "email": "$response.body#/email" } },
        "presence": { "operationId": "getPresence", "parameters": { "email": "$response.body#/email" } },
        "deactivate": { "operationId": "deactivateUser", "parameters": { "email": "$response.body#/email" } },
    }});
    let device_links = json!({ "links": {
        "revoke": { "operationId": "revokeDevice", "parameters": { "id": "$response.body#/id" } },
    }});
    let answer = |op: Op| {
        op.header(
            "If-Match",
            false,
            json!({ "type": "string", "pattern": IF_MATCH }),
            "the meeting's ETag as read (or *): the answer is written only if the meeting is unchanged",
        )
        .body(reference("Rsvp"))
        .ok(200, "the answer was written to Google Calendar", json_content(reference("RsvpAnswer")))
        .error(400, "response is not accepted, declined or tentative, or If-Match is not entity tags nor * (`invalid`)")
        .error(404, "no such activated user, or no such meeting (`not_found`)")
        .error(409, "the meeting was cancelled, moved since `seen_start`, or kept changing (`changed`); the user is not invited (`not_invited`)")
        .error(412, "If-Match names another version of the meeting (`precondition_failed`)")
        .error(500, "the store failed (`store`), or the meeting does not open (`open`)")
        .error(502, "Google Calendar failed (`google`)")
        .guarded()
    };
    let meeting = |op: Op, links: Value| {
        op.ok_with(
            200,
            "the meeting, opened",
            json_content(reference("Meeting")),
            json!({
                "headers": { "ETag": {
                    "description": "the meeting's entity tag, for If-Match on RSVP",
                    "required": true,
                    "schema": { "type": "string" },
                } },
                "links": links,
            }),
        )
        .error(
            404,
            "no such activated user, or no such meeting (`not_found`)",
        )
        .error(
            500,
            "the store failed (`store`), or the meeting does not open (`open`)",
        )
        .guarded()
    };
    let list = |op: Op, links: Value| {
        window_query(op)
            .ok_with(
                200,
                "the meetings in the window, opened (or sealed with sealed=true)",
                json_content(reference("MeetingList")),
                links,
            )
            .error(404, "no such activated user (`not_found`)")
            .error(
                500,
                "the store failed (`store`), or a meeting does not open (`open`)",
            )
            .guarded()
    };
    let presence = |op: Op| {
        op.ok(
            200,
            "the presence, its texts opened",
            json_content(reference("Presence")),
        )
        .error(404, "no presence stored for this user yet (`not_found`)")
        .store()
        .guarded()
    };
    let everything = [
        ("join_button", reference("DeliveredButton")),
        ("presence", reference("Presence")),
        (
            "meetings",
            json!({
                "type": "object", "additionalProperties": false, "required": ["user"],
                "properties": { "user": { "type": "string" } },
            }),
        ),
    ];
    let stream = |op: Op, what: &str, events: &[(&str, Value)]| {
        op.ok(200, what, sse(events)).store().guarded()
    };
    vec![
        op("get", "/healthz", "healthz", "operations", Anyone, "Liveness")
            .ok(200, "the process serves", text_content("text/plain", "ok"))
            .error(401, "a bearer token this service did not issue (`unauthorized`)")
            .store(),
        op("get", "/readyz", "readyz", "operations", Anyone, "Readiness")
            .describe("The store answers, the component runs a call, and Google's Calendar API answers at all; checked at most every 5 s.")
            .ok(200, "ready", json_content(reference("Readiness")))
            .ok(503, "not ready: the body names what is not", json_content(reference("Readiness")))
            .error(401, "a bearer token this service did not issue (`unauthorized`)")
            .store(),
        op("get", "/metrics", "metrics", "operations", Metrics, "Prometheus metrics")
            .describe("Open to anyone unless a metrics token is configured (serve.metrics_token or HCAL_METRICS_TOKEN); then that token as a bearer. With serve.metrics_listen it is served on that address only.")
            .ok(200, "the text exposition format", text_content("text/plain", "Prometheus text format 0.0.4"))
            .error(401, "a metrics token is configured and was not sent (`unauthorized`)")
            .response_header(401, "WWW-Authenticate", "Bearer"),
        op("post", "/push", "push", "operations", Anyone, "Google Calendar push notifications")
            .describe("Google's change notifications for the channels hcal registered. Each is checked against the stored channel (id, token, resource id, expiry, message number) and queues a sync of that user's calendar.")
            .header("X-Goog-Channel-ID", false, json!({ "type": "string" }), "the channel's id")
            .header("X-Goog-Channel-Token", false, json!({ "type": "string" }), "the channel's token")
            .header("X-Goog-Resource-ID", false, json!({ "type": "string" }), "the watched resource's id")
            .header("X-Goog-Resource-State", false, json!({ "type": "string" }), "sync, exists or not_exists")
            .header("X-Goog-Message-Number", false, json!({ "type": "string" }), "the channel's message number (an integer, increasing)")
            .ok(200, "taken (a sync queued, or nothing to do: `sync`, or a stale message number)", Value::Null)
            .error(401, "a bearer token this service did not issue (`unauthorized`)")
            .error(403, "refused: headers missing, unknown channel, wrong token or resource id, expired channel (`rejected`)")
            .store(),
        op("get", "/api/v1/openapi.json", "openapi", "operations", Anyone, "This document")
            .ok(200, "the OpenAPI 3.1 document", json_content(json!({ "type": "object", "required": ["openapi", "info", "paths"] })))
            .error(401, "a bearer token this service did not issue (`unauthorized`)")
            .store(),
        op("get", "/api/v1/users", "listUsers", "users", Admin, "Users and their activation state")
            .ok(200, "every user", json_content(json!({ "type": "array", "items": reference("User") })))
            .store()
            .guarded(),
        op("post", "/api/v1/users", "addUser", "users", Admin, "Add and activate a user")
            .describe("Adds the user (or takes them up again) and runs the activation checks at once; an activated user is watched, their presence read and a sync queued. The answer says how activation went: `activated`, or `error` with the reason.")
            .body(reference("NewUser"))
            .ok_with(200, "the user, after the activation checks", json_content(reference("User")), user_links.clone())
            .error(400, "email is not an e-mail address, or not one of the organisation's domains (core.org_domains) (`invalid`)")
            .store()
            .guarded(),
        op("get", "/api/v1/users/{email}", "getUser", "users", Admin, "One user's activation state")
            .ok(200, "the user", json_content(reference("User")))
            .error(404, "no such user (`not_found`)")
            .store()
            .guarded(),
        op("delete", "/api/v1/users/{email}", "deactivateUser", "users", Admin, "Deactivate a user")
            .describe("Stops the user's push channels and purges what is kept for them. The user stays listed, in state `deactivated`, until added again.")
            .example("email", json!("eve@example.com"))
            .ok(200, "the user, deactivated", json_content(reference("User")))
            .error(404, "no such user (`not_found`)")
            .store()
            .guarded(),
        list(op("get", "/api/v1/users/{email}/meetings", "listMeetings", "meetings", Admin, "A user's meetings in a window"), meeting_link("getMeeting", true)),
        meeting(op("get", "/api/v1/users/{email}/meetings/{key}", "getMeeting", "meetings", Admin, "One of a user's meetings"), answer_link("answerMeeting", true)),
        answer(op("post", "/api/v1/users/{email}/meetings/{key}/rsvp", "answerMeeting", "meetings", Admin, "Answer an invitation for a user")
            .describe("Writes the user's responseStatus to Google Calendar, guarded by the event's etag (read again when it changed meanwhile). With `seen_start`, refused when the meeting moved since.")),
        presence(op("get", "/api/v1/users/{email}/presence", "getPresence", "presence", Admin, "A user's presence")
            .describe("Out of office (Calendar or the Gmail responder), do not disturb (focus time) or available, the working location, and when it next changes.")),
        stream(op("get", "/api/v1/stream", "stream", "stream", Admin, "Server-sent events for everyone, or one target")
            .query("target", reference("Email"), "only the events for this invitee, room device or user")
            .error(400, "target is not an e-mail address (`invalid`)"),
            "server-sent events, endless: `join_button` (a DeliveredButton) as buttons fire, `presence` (a Presence) as people go out of office, into focus time or come back, `meetings` ({\"user\"}) when a user's stored list changed; a keep-alive comment every 15 s",
            &everything),
        op("get", "/api/v1/rooms/{email}/availability", "roomAvailability", "rooms", Room, "A room's busy and free blocks in a window")
            .describe("Google's freeBusy for the room's resource calendar, asked as an activated user; free is the window minus the busy blocks.")
            .example("email", json!("room-fjord@resource.calendar.google.com"))
            .query("from", window_bound("start"), "the window's start (RFC 3339)")
            .query("to", window_bound("end"), "the window's end (RFC 3339)")
            .ok(200, "the room's blocks", json_content(reference("Availability")))
            .error(400, "from or to is not an RFC 3339 time, or to is not after from (`invalid`)")
            .error(404, "Google knows no such room, or cannot tell its blocks (`not_found`)")
            .error(409, "no activated user to ask Google as (`no_user`)")
            .error(502, "Google Calendar failed (`google`)")
            .store()
            .guarded(),
        op("get", "/api/v1/me", "me", "me", Person, "The signed-in person")
            .ok(200, "who they are to hcal, and the CSRF token for their changes", json_content(reference("Me")))
            .store()
            .guarded(),
        list(op("get", "/api/v1/me/meetings", "myMeetings", "me", Person, "My meetings in a window"), meeting_link("myMeeting", false)),
        meeting(op("get", "/api/v1/me/meetings/{key}", "myMeeting", "me", Person, "One of my meetings"), answer_link("answerMyMeeting", false)),
        answer(op("post", "/api/v1/me/meetings/{key}/rsvp", "answerMyMeeting", "me", Person, "Answer an invitation")),
        presence(op("get", "/api/v1/me/presence", "myPresence", "me", Person, "My presence")),
        stream(op("get", "/api/v1/me/stream", "myStream", "me", Person, "Server-sent events for me"),
            "server-sent events, endless: `join_button` for my meetings and those I am invited to, `presence` for mine, `meetings` when my list changed",
            &everything),
        op("get", "/api/v1/device", "device", "device", Device, "The room this device token is for")
            .ok(200, "the room", json_content(reference("DeviceRoom")))
            .store()
            .guarded(),
        op("get", "/api/v1/device/meetings", "deviceMeetings", "device", Device, "The room's coming meetings")
            .describe("From the join buttons that target the room, from an hour ago: when, and the link to join. No title, agenda nor invitee: those are the invitees' own.")
            .ok(200, "the room's meetings", json_content(reference("RoomMeetings")))
            .store()
            .guarded(),
        stream(op("get", "/api/v1/device/stream", "deviceStream", "device", Device, "Server-sent join buttons for the room"),
            "server-sent events, endless: `join_button` (a DeliveredButton) for the buttons that target the room",
            &everything[..1]),
        op("get", "/api/v1/devices", "listDevices", "devices", Admin, "Room device tokens")
            .ok(200, "every device token (never the token itself)", json_content(json!({ "type": "array", "items": reference("Device") })))
            .store()
            .guarded(),
        op("post", "/api/v1/devices", "addDevice", "devices", Admin, "Issue a device token for a room")
            .body(reference("NewDevice"))
            .ok_with(201, "the device and its token, shown this once: hcal keeps only its hash", json_content(reference("IssuedDevice")), device_links)
            .error(400, "room is not an e-mail address, or the token could not be stored (`invalid`)")
            .guarded(),
        op("delete", "/api/v1/devices/{id}", "revokeDevice", "devices", Admin, "Revoke a device token")
            .ok(204, "revoked", Value::Null)
            .error(404, "no such device (`not_found`)")
            .store()
            .guarded(),
    ]
}

/// The schemas the operations name, each as the code serializes it (the
/// store's types, the core's meeting list, the handlers' `json!`); answers
/// are closed (`additionalProperties: false`) so a field added to the code
/// and not here fails the schemathesis run. Request bodies are open: serde
/// ignores fields a route does not take.
fn schemas() -> Value {
    let text = reference("Text");
    let nullable_text = nullable(text.clone());
    let string = json!({ "type": "string" });
    let boolean = json!({ "type": "boolean" });
    let closed = |properties: Value, required: &[&str]| {
        json!({
            "type": "object", "additionalProperties": false,
            "required": required, "properties": properties,
        })
    };
    let block = closed(
        json!({ "start": date_time(), "end": date_time() }),
        &["start", "end"],
    );
    let place_part = nullable_text.clone();
    json!({
        "Error": {
            "description": "Every error the API answers.",
            "type": "object", "additionalProperties": false, "required": ["error"],
            "properties": { "error": closed(
                json!({
                    "code": { "type": "string", "description": "what went wrong, in a word: invalid, not_found, unauthorized, forbidden, csrf, ..." },
                    "message": { "type": "string", "description": "what went wrong, for a person" },
                }),
                &["code", "message"],
            ) },
        },
        "Email": {
            "description": "An e-mail address as hcal takes one (surrounding blanks are dropped, letters lowered): a local part of letters, digits and ._+-' (no leading, trailing or double dot), at most 64 characters; a domain of two or more labels of letters, digits and inner hyphens, at most 63 characters each; 254 characters in all.",
            "type": "string",
            "allOf": [
                { "pattern": email_length() },
                { "pattern": email_local_length() },
                { "pattern": email_shape() },
            ],
        },
        "UserState": {
            "description": "pending: added, activation not finished; activated; error: activation failed (reason), retried with backoff; deactivated: channels stopped, data purged.",
            "type": "string", "enum": ["pending", "activated", "error", "deactivated"],
        },
        "User": closed(
            json!({
                "email": string,
                "state": reference("UserState"),
                "reason": nullable(string.clone()),
                "attempts": { "type": "integer", "minimum": 0, "description": "failed activation attempts in a row" },
                "next_attempt_at": nullable(date_time()),
                "updated_at": date_time(),
                "last_synced_at": nullable(date_time()),
            }),
            &["email", "state", "reason", "attempts", "next_attempt_at", "updated_at", "last_synced_at"],
        ),
        "NewUser": {
            "type": "object", "required": ["email"],
            "properties": { "email": reference("Email") },
        },
        "Sealed": {
            "description": "A sealed text: a compact JWE and the KMS URL of the org key that opens it.",
            "type": "object", "additionalProperties": false, "required": ["jwe", "key_url"],
            "properties": { "jwe": string, "key_url": string },
        },
        "Text": {
            "description": "Plain text, or sealed (sealed=true, or a value hcal could not open).",
            "anyOf": [string, reference("Sealed")],
        },
        "Window": closed(
            json!({ "from": date_time(), "to": date_time() }),
            &["from", "to"],
        ),
        "Response": { "type": "string", "enum": ["needsAction", "declined", "tentative", "accepted"] },
        "Link": closed(
            json!({
                "uri": text,
                "service": { "type": "string", "description": "webex, meet, zoom, teams, phone, ..." },
                "source": { "type": "string", "enum": ["conference_data", "event_url", "location", "description"] },
            }),
            &["uri", "service", "source"],
        ),
        "Person": closed(
            json!({ "email": text, "name": nullable_text }),
            &["email", "name"],
        ),
        "Attendee": closed(
            json!({
                "email": text, "name": nullable_text, "response": reference("Response"),
                "room": boolean, "organizer": boolean,
            }),
            &["email", "name", "response", "room", "organizer"],
        ),
        "Meeting": closed(
            json!({
                "key": string,
                "event_id": string,
                "series_id": { "type": "string", "description": "the series of a recurring instance" },
                "title": nullable_text,
                "location": nullable_text,
                "start": { "type": "string", "description": "RFC 3339, or a date for an all-day meeting", "anyOf": [{ "format": "date-time" }, { "format": "date" }] },
                "end": { "type": "string", "description": "RFC 3339, or a date for an all-day meeting", "anyOf": [{ "format": "date-time" }, { "format": "date" }] },
                "all_day": boolean,
                "time_zone": nullable(string.clone()),
                "organizer": nullable(reference("Person")),
                "attendees": { "type": "array", "items": reference("Attendee") },
                "my_response": nullable(reference("Response")),
                "status": { "type": "string", "enum": ["confirmed", "tentative", "cancelled"] },
                "keyword": nullable(string.clone()),
                "join": nullable(reference("Link")),
                "links": { "type": "array", "items": reference("Link") },
                "agenda": nullable_text,
                "recurring": boolean,
            }),
            &["key", "event_id", "title", "location", "start", "end", "all_day", "time_zone",
              "organizer", "attendees", "my_response", "status", "keyword", "join", "links",
              "agenda", "recurring"],
        ),
        "MeetingList": closed(
            json!({
                "user": string,
                "window": reference("Window"),
                "meetings": { "type": "array", "items": reference("Meeting") },
            }),
            &["user", "window", "meetings"],
        ),
        "Rsvp": {
            "type": "object", "required": ["response"],
            "properties": {
                "response": { "type": "string", "enum": ["accepted", "declined", "tentative"] },
                "seen_start": {
                    "description": "the meeting's start as the caller saw it (Unix seconds, years -9999 to 9999): when Google now has another, nothing is written (409)",
                    "anyOf": [
                        {
                            "type": "integer",
                            "minimum": crate::api::SEEN_START_MIN,
                            "maximum": crate::api::SEEN_START_MAX,
                        },
                        { "type": "null" },
                    ],
                },
            },
        },
        "RsvpAnswer": closed(
            json!({ "meeting_key": string, "response": { "type": "string", "enum": ["accepted", "declined", "tentative"] } }),
            &["meeting_key", "response"],
        ),
        "Place": {
            "description": "Where the user works now; its texts sealed with the location.",
            "oneOf": [
                closed(json!({ "type": { "const": "home" } }), &["type"]),
                closed(
                    json!({
                        "type": { "const": "office" },
                        "label": place_part, "building_id": place_part, "floor_id": place_part,
                        "floor_section_id": place_part, "desk_id": place_part,
                    }),
                    &["type", "label", "building_id", "floor_id", "floor_section_id", "desk_id"],
                ),
                closed(json!({ "type": { "const": "custom" }, "label": place_part }), &["type", "label"]),
            ],
        },
        "Presence": closed(
            json!({
                "user": string,
                "status": { "type": "string", "enum": ["available", "out_of_office", "do_not_disturb"] },
                "out_of_office": boolean,
                "do_not_disturb": boolean,
                "sources": { "type": "array", "items": { "type": "string", "enum": ["calendar", "gmail"] } },
                "since": nullable(date_time()),
                "until": nullable(date_time()),
                "message": nullable_text,
                "working_location": nullable(reference("Place")),
                "next_change": nullable(date_time()),
            }),
            &["user", "status", "out_of_office", "do_not_disturb", "sources", "since", "until",
              "message", "working_location", "next_change"],
        ),
        "DeliveredButton": closed(
            json!({
                "user": string, "meeting_key": string, "at": date_time(),
                "targets": { "type": "array", "items": string },
            }),
            &["user", "meeting_key", "at", "targets"],
        ),
        "Availability": closed(
            json!({
                "room": string, "from": date_time(), "to": date_time(),
                "busy": { "type": "array", "items": block },
                "free": { "type": "array", "items": block },
            }),
            &["room", "from", "to", "busy", "free"],
        ),
        "Me": closed(
            json!({
                "email": string,
                "admin": boolean,
                "state": nullable(reference("UserState")),
                "reason": nullable(string.clone()),
                "csrf_token": { "type": "string", "description": "send as X-CSRF-Token with every change" },
            }),
            &["email", "admin", "state", "reason", "csrf_token"],
        ),
        "DeviceRoom": closed(json!({ "room": string }), &["room"]),
        "RoomMeetings": closed(
            json!({
                "room": string,
                "meetings": { "type": "array", "items": closed(
                    json!({
                        "meeting_key": string,
                        "start": nullable(date_time()),
                        "end": nullable(date_time()),
                        "join_button_at": date_time(),
                        "join": nullable(reference("Link")),
                    }),
                    &["meeting_key", "start", "end", "join_button_at", "join"],
                ) },
            }),
            &["room", "meetings"],
        ),
        "Device": closed(
            json!({ "id": string, "room": string, "created_at": date_time() }),
            &["id", "room", "created_at"],
        ),
        "NewDevice": {
            "type": "object", "required": ["room"],
            "properties": { "room": reference("Email") },
        },
        "IssuedDevice": closed(
            json!({
                "id": string, "room": string,
                "token": { "type": "string", "description": "the device token (hcal_dev_...), shown this once" },
                "note": string,
            }),
            &["id", "room", "token", "note"],
        ),
        "Readiness": closed(
            json!({
                "ready": boolean,
                "store": { "type": "string", "enum": ["ok", "failing"] },
                "component": { "type": "string", "enum": ["ok", "failing"] },
                "google": { "type": "string", "enum": ["ok", "unreachable"] },
            }),
            &["ready", "store", "component", "google"],
        ),
    })
}

fn security_schemes() -> Value {
    json!({
        "serviceToken": {
            "type": "http", "scheme": "bearer",
            "description": "A service token (`[api] tokens` in hcal.toml): every user's data, as an admin.",
        },
        "deviceToken": {
            "type": "http", "scheme": "bearer",
            "description": "A room device's token (POST /api/v1/devices): its own room only.",
        },
        "session": {
            "type": "apiKey", "in": "cookie", "name": crate::auth::SESSION_COOKIE,
            "description": "A person signed in with Google (/auth/login): their own meetings under /api/v1/me; admins (`[auth] admins`) everything a service token may.",
        },
        "csrf": {
            "type": "apiKey", "in": "header", "name": "X-CSRF-Token",
            "description": "With a session, every change also needs this site's Origin and the session's CSRF token (csrf_token of GET /api/v1/me).",
        },
        "metricsToken": {
            "type": "http", "scheme": "bearer",
            "description": "The metrics token (serve.metrics_token or HCAL_METRICS_TOKEN), when one is configured.",
        },
    })
}

/// `If-Match` (RFC 9110): `*`, or a list of entity tags separated by
/// commas (empty elements allowed, as in every list of RFC 9110).
const IF_MATCH: &str =
    "^[ \\t]*(\\*|((W/)?\"[!#-~]*\")?([ \\t]*,[ \\t]*((W/)?\"[!#-~]*\")?)*)[ \\t]*$";

/// What `str::trim` drops around an address: Unicode's White_Space, which
/// is neither JSON Schema's `\\s` nor Python's.
const BLANKS: &str = "\\t\\n\\u000b\\u000c\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
/// An address is at most 254 characters, blanks around it not counted.
fn email_length() -> String {
    format!("^[{BLANKS}]*[^{BLANKS}]{{1,254}}[{BLANKS}]*$")
}

/// An e-mail address's local part is 1 to 64 characters.
fn email_local_length() -> String {
    format!("^[{BLANKS}]*[^@]{{1,64}}@")
}

/// The rest of [`crate::users::is_address`]: the local part's characters
/// and dots, the domain's labels.
fn email_shape() -> String {
    let label = "[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
    format!("^[{BLANKS}]*[A-Za-z0-9_+'-]+(\\.[A-Za-z0-9_+'-]+)*@{label}(\\.{label})+[{BLANKS}]*$")
}

const DESCRIPTION: &str = "The API of hcal, the hybrid calendar service: users and their activation, \
their meetings (opened, or sealed), answers to invitations, presence, rooms' availability, \
room devices, and server-sent events as join buttons fire.\n\n\
Every error is JSON, `{\"error\": {\"code\", \"message\"}}`, with the status that fits: \
400 a query or body that cannot be read, 401 no or unknown credentials, 403 not this caller's, \
404 no such thing (and any path under /api/ that is no route), 405 a method the route does not \
take (with `Allow`), 408 a body that did not arrive within 10 s, 413 a body over 64 KiB, \
415 a body that is not JSON, 422 JSON without the fields a route takes.";

/// The OpenAPI 3.1 document of the API.
pub fn document() -> Value {
    let mut paths = Map::new();
    for op in operations() {
        let (path, method) = (op.path, op.method);
        let item = paths
            .entry(path)
            .or_insert_with(|| Value::Object(Map::new()));
        item[method] = op.into_json();
    }
    json!({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": {
            "title": "hcal",
            "version": env!("CARGO_PKG_VERSION"),
            "description": DESCRIPTION,
        },
        "tags": [
            { "name": "users", "description": "The organisation's users and their activation (admins, service tokens)" },
            { "name": "meetings", "description": "A user's meetings and answers (admins, service tokens)" },
            { "name": "presence", "description": "Out of office, focus time, working location" },
            { "name": "stream", "description": "Server-sent events" },
            { "name": "rooms", "description": "Rooms' availability" },
            { "name": "me", "description": "The signed-in person's own" },
            { "name": "device", "description": "A room device's own" },
            { "name": "devices", "description": "Room device tokens (admins, service tokens)" },
            { "name": "operations", "description": "Health, readiness, metrics, Google's push notifications" },
        ],
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": security_schemes(),
        },
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Every `.route("PATH", METHOD(..).METHOD(..))` of a source file, as
    /// `(method, path)`: the methods are the calls at the top level of the
    /// route's second argument (`get(h)`, `.post(h)`, `axum::routing::delete(h)`).
    fn routes_in(source: &str) -> BTreeSet<(String, String)> {
        let mut routes = BTreeSet::new();
        let mut rest = source;
        while let Some(at) = rest.find(".route(") {
            rest = &rest[at + ".route(".len()..];
            let args = rest.trim_start();
            let Some(args) = args.strip_prefix('"') else {
                continue;
            };
            let close = args.find('"').expect("a route's path ends");
            let path = &args[..close];
            let tail = &args[close + 1..];
            // The second argument, up to the parenthesis closing `.route(`.
            let (mut depth, mut in_string, mut escaped) = (0i32, false, false);
            let mut top = String::new();
            for c in tail.chars() {
                if in_string {
                    in_string = c != '"' || escaped;
                    escaped = c == '\\' && !escaped;
                    continue;
                }
                match c {
                    '"' => in_string = true,
                    '(' | '{' | '[' => depth += 1,
                    ')' | '}' | ']' if depth == 0 => break,
                    ')' | '}' | ']' => depth -= 1,
                    _ => {}
                }
                if depth == 0 || (depth == 1 && c == '(') {
                    top.push(c);
                }
            }
            for method in ["get", "post", "put", "patch", "delete"] {
                let call = format!("{method}(");
                let mut from = 0;
                while let Some(found) = top[from..].find(&call) {
                    let start = from + found;
                    let before = top[..start].chars().next_back();
                    if before.is_none_or(|c| !(c.is_alphanumeric() || c == '_')) {
                        routes.insert((method.to_string(), path.to_string()));
                    }
                    from = start + call.len();
                }
            }
        }
        routes
    }

    fn documented(doc: &Value) -> BTreeSet<(String, String)> {
        let mut ops = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("a path item").keys() {
                ops.insert((method.clone(), path.clone()));
            }
        }
        ops
    }

    #[test]
    fn the_parser_reads_route_declarations() {
        let source = r#"
            .route("/a", get(|| async { "ok (not a post(\n" }))
            .route(
                "/b/{id}",
                get(one).delete(gone),
            )
            .route("/c", axum::routing::delete(revoke))
            .route_layer(x)
            .route("/d", post(target_get))
        "#;
        let found: Vec<_> = routes_in(source).into_iter().collect();
        let want = [
            ("delete", "/b/{id}"),
            ("delete", "/c"),
            ("get", "/a"),
            ("get", "/b/{id}"),
            ("post", "/d"),
        ];
        assert_eq!(
            found,
            want.map(|(m, p)| (m.to_string(), p.to_string())).to_vec()
        );
    }

    /// The document has exactly the routes of `api.rs`, and none of the
    /// web app's (left out on purpose: see the module's doc).
    #[test]
    fn every_route_is_documented_and_nothing_else() {
        let doc = document();
        let routed = routes_in(include_str!("api.rs"));
        assert!(
            routed.len() > 20,
            "the parser found too few routes: {routed:?}"
        );
        let ops = documented(&doc);
        let missing: Vec<_> = routed.difference(&ops).collect();
        let extra: Vec<_> = ops.difference(&routed).collect();
        assert!(
            missing.is_empty(),
            "routes of api.rs missing from the OpenAPI document: {missing:?}"
        );
        assert!(
            extra.is_empty(),
            "operations of the OpenAPI document that api.rs does not route: {extra:?}"
        );
        for web in routes_in(include_str!("web/mod.rs")) {
            assert!(
                !ops.contains(&web),
                "{web:?} is a web app page, not an API route"
            );
        }
    }

    /// Every JSON pointer `$ref` of the document resolves.
    fn check_refs(doc: &Value, value: &Value, at: &str) {
        match value {
            Value::Object(map) => {
                if let Some(target) = map.get("$ref") {
                    let target = target.as_str().expect("a $ref is a string");
                    let pointer = target.strip_prefix('#').expect("a local $ref");
                    assert!(
                        doc.pointer(pointer).is_some(),
                        "{at}: $ref {target} resolves to nothing"
                    );
                }
                for (k, v) in map {
                    check_refs(doc, v, &format!("{at}/{k}"));
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    check_refs(doc, v, &format!("{at}/{i}"));
                }
            }
            _ => {}
        }
    }

    #[test]
    fn the_document_is_well_formed_openapi_3_1() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
        check_refs(&doc, &doc, "#");
        let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
        let tags: BTreeSet<&str> = doc["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        let mut ids = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            assert!(path.starts_with('/'), "{path}");
            let templated: BTreeSet<&str> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                .collect();
            for (method, op) in item.as_object().unwrap() {
                let at = format!("{method} {path}");
                assert!(
                    [
                        "get", "put", "post", "delete", "options", "head", "patch", "trace"
                    ]
                    .contains(&method.as_str()),
                    "{at}"
                );
                let id = op["operationId"].as_str().expect("an operationId");
                assert!(ids.insert(id.to_string()), "{at}: operationId {id} twice");
                for tag in op["tags"].as_array().unwrap() {
                    assert!(
                        tags.contains(tag.as_str().unwrap()),
                        "{at}: undeclared tag {tag}"
                    );
                }
                let responses = op["responses"].as_object().expect("responses");
                assert!(
                    responses.keys().any(|s| s.starts_with('2')),
                    "{at}: no successful response"
                );
                for (status, response) in responses {
                    let code: u16 = status
                        .parse()
                        .unwrap_or_else(|_| panic!("{at}: status {status}"));
                    assert!((100..600).contains(&code), "{at}: status {status}");
                    assert!(
                        response["description"].is_string(),
                        "{at} {status}: no description"
                    );
                    // /readyz says what is not ready in its own body.
                    if code >= 400 && at != "get /readyz" {
                        assert_eq!(
                            response["content"]["application/json"]["schema"]["$ref"],
                            "#/components/schemas/Error",
                            "{at} {status}: errors are the Error schema"
                        );
                    }
                }
                let params = op["parameters"].as_array().cloned().unwrap_or_default();
                let mut seen = BTreeSet::new();
                for p in &params {
                    let (name, place) = (p["name"].as_str().unwrap(), p["in"].as_str().unwrap());
                    assert!(seen.insert((name, place)), "{at}: parameter {name} twice");
                    assert!(
                        ["path", "query", "header", "cookie"].contains(&place),
                        "{at}"
                    );
                    assert!(p["schema"].is_object(), "{at}: {name} has no schema");
                    if place == "path" {
                        assert_eq!(p["required"], true, "{at}: path parameters are required");
                        assert!(templated.contains(name), "{at}: {name} is not in the path");
                    }
                }
                for name in &templated {
                    assert!(
                        seen.contains(&(*name, "path")),
                        "{at}: {{{name}}} undescribed"
                    );
                }
                for requirement in op["security"].as_array().expect("security") {
                    for scheme in requirement.as_object().unwrap().keys() {
                        assert!(
                            schemes.contains_key(scheme),
                            "{at}: unknown scheme {scheme}"
                        );
                    }
                }
                for (_, response) in responses {
                    for (name, link) in response["links"].as_object().into_iter().flatten() {
                        let target = link["operationId"].as_str().unwrap();
                        assert!(
                            doc["paths"].as_object().unwrap().values().any(|item| item
                                .as_object()
                                .unwrap()
                                .values()
                                .any(|o| o["operationId"] == target)),
                            "{at}: link {name} to unknown operation {target}"
                        );
                    }
                }
            }
        }
    }

    /// `Email` takes what [`crate::users::is_address`] takes once blanks
    /// around it are dropped, and nothing else: the same verdict on the
    /// listed cases and on generated strings near the edges.
    fn schema_takes_email(text: &str) -> bool {
        [email_length(), email_local_length(), email_shape()]
            .iter()
            .all(|pattern| regex::Regex::new(pattern).unwrap().is_match(text))
    }

    fn code_takes_email(text: &str) -> bool {
        crate::users::is_address(&text.trim().to_ascii_lowercase())
    }

    #[test]
    fn the_email_schema_is_is_address() {
        let long_label = "a".repeat(63);
        let cases = [
            "alice@example.com".to_string(),
            " Alice@Example.COM\n".into(),
            "\u{a0}\u{b}a@x.com\u{3000}".into(),
            "\u{feff}a@x.com".into(),
            "\u{1c}a@x.com".into(),
            "o'brien+cal@mail.example.com".into(),
            "a_b-c@x-y.example.org".into(),
            format!("{}@example.com", "l".repeat(64)),
            format!("{}@example.com", "l".repeat(65)),
            // 254 characters, and 255, blanks aside.
            format!(
                " {}.com\u{a0}",
                ["a".repeat(60).as_str(), "@b", &".b".repeat(94)].concat()
            ),
            format!(
                "{}.com",
                ["a".repeat(61).as_str(), "@b", &".b".repeat(94)].concat()
            ),
            format!("a@{long_label}.com"),
            format!("a@{long_label}a.com"),
            format!("a@{}.com", [long_label.as_str(); 4].join(".")),
            "a..b@example.com".into(),
            ".a@example.com".into(),
            "a.@example.com".into(),
            "a@example".into(),
            "a@-x.com".into(),
            "a@x-.com".into(),
            "a@x..com".into(),
            "a b@x.com".into(),
            "a@b@x.com".into(),
            "@x.com".into(),
            "a@x.com\u{0}".into(),
            "".into(),
        ];
        for case in &cases {
            assert_eq!(schema_takes_email(case), code_takes_email(case), "{case:?}");
        }
    }

    #[test]
    fn seen_start_spans_the_times_jiff_has() {
        assert_eq!(crate::api::SEEN_START_MIN, jiff::Timestamp::MIN.as_second());
        assert_eq!(crate::api::SEEN_START_MAX, jiff::Timestamp::MAX.as_second());
    }

    /// `If-Match`'s pattern takes what [`crate::api::entity_tags`] reads.
    fn schema_takes_if_match(text: &str) -> bool {
        regex::Regex::new(IF_MATCH).unwrap().is_match(text)
    }

    #[test]
    fn the_if_match_pattern_is_entity_tags() {
        for case in [
            "*",
            "\"abc\"",
            "W/\"abc\"",
            "\"\"",
            "\"a,b\"",
            "\"a\", W/\"b\"",
            "\"a\",\"b\"",
            "\"a\" , \"b\"",
            "*, \"a\"",
            "\"a\",",
            ",\"a\"",
            "abc",
            "\"a b\"",
            "w/\"a\"",
            "\"a",
            "\"a\"\"b\"",
            "**",
            "",
            "W/",
            "\"\u{e9}\"",
            " *\t",
            " \"a\" ",
            ",",
            " , ,\"a\",, ",
            "\"a\" \"b\"",
            "*,",
        ] {
            assert_eq!(
                schema_takes_if_match(case),
                crate::api::entity_tags(case).is_some(),
                "{case:?}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn generated_if_match_agree(text in "(\\*|W/|\"|[a-z,]| |\t){0,10}") {
            proptest::prop_assert_eq!(
                schema_takes_if_match(&text),
                crate::api::entity_tags(&text).is_some(),
                "{:?}", text
            );
        }

        #[test]
        fn generated_addresses_agree(text in "[ \\t\\u{b}\\u{1c}\\u{85}\\u{a0}\\u{feff}]?[a-zA-Z0-9._+'@ \\u{e9}-]{0,12}(@[a-z0-9.-]{0,12})?[ \\n\\u{3000}]?") {
            proptest::prop_assert_eq!(schema_takes_email(&text), code_takes_email(&text), "{:?}", text);
        }
    }
}
