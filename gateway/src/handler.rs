//! The `wasi:http/incoming-handler` export: routes, bodies, and the calls
//! into the core's `processor`, which the composition links to the real core.

use std::io::Write as _;
use std::sync::OnceLock;

use hcal_core::model;
use serde::de::IntoDeserializer as _;
use serde::{Deserialize, Serialize};
use wasip2::http::types::{
    Fields, IncomingBody, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use wasip2::io::streams::StreamError;

use crate::config::Config;
use crate::reply::{Reply, core_error_status};
use crate::{clock, query};

// The same wit/ as the core's, so the composition links the import to the
// core's export by its exact name, `hcal:core/processor@0.5.0`.
wit_bindgen::generate!({
    inline: "package hcal:gateway@0.1.0; world gateway { import hcal:core/processor@0.5.0; }",
    path: "../wit",
    world: "hcal:gateway/gateway",
    // The contract's own interfaces, generated here (the core is not a
    // Rust dependency of the gateway).
    generate_all,
});

use hcal::core::processor;
use hcal::core::types as wit;

// The host's conversions between the model and the contract's types, one
// file for both: wasmtime's and wit-bindgen's bindings name every type and
// field alike.
#[allow(dead_code)] // the host uses conversions the gateway does not
#[path = "../../host/src/runtime/convert.rs"]
mod convert;

struct Gateway;

wasip2::http::proxy::export!(Gateway);

impl wasip2::exports::http::incoming_handler::Guest for Gateway {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let reply = route(&request);
        send(out, reply);
    }
}

/// Read once per instance: `wasmtime serve` makes one per request, `jco
/// serve` keeps one for all.
fn config() -> &'static Result<Config, String> {
    static CONFIG: OnceLock<Result<Config, String>> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let config = Config::from_env();
        if let Err(e) = &config {
            eprintln!("hcal-gateway: {e}");
        }
        config
    })
}

fn method_name(method: &Method) -> String {
    match method {
        Method::Get => "GET".into(),
        Method::Head => "HEAD".into(),
        Method::Post => "POST".into(),
        Method::Put => "PUT".into(),
        Method::Delete => "DELETE".into(),
        Method::Connect => "CONNECT".into(),
        Method::Options => "OPTIONS".into(),
        Method::Trace => "TRACE".into(),
        Method::Patch => "PATCH".into(),
        Method::Other(other) => other.clone(),
    }
}

/// A route's answer: its reply, or the error reply that ended it early.
type Answer = Result<Reply, Reply>;

fn route(request: &IncomingRequest) -> Reply {
    let method = method_name(&request.method());
    let target = request.path_with_query().unwrap_or_else(|| "/".into());
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let Ok(config) = config() else {
        return Reply::error(
            500,
            "configuration",
            "the gateway's configuration cannot be read; its host's log says what to fix",
        );
    };
    type Handler = fn(&Config, &IncomingRequest, &str) -> Answer;
    let (allow, handler): (&'static str, Handler) = match path {
        "/" | "/v1" => ("GET", |_, _, query| index(query)),
        "/v1/services" => ("GET", |_, _, query| services(query)),
        "/v1/process" => ("POST", process),
        "/v1/links" => ("POST", links),
        "/v1/keyword" => ("POST", keyword),
        _ => {
            return Reply::error(
                404,
                "not-found",
                &format!("no route `{path}`; `GET /` lists them"),
            );
        }
    };
    if method != allow {
        return Reply::method_not_allowed(&method, path, allow);
    }
    handler(config, request, query).unwrap_or_else(|reply| reply)
}

/// The parameters of `query`, each one of `known`.
fn params(query: &str, known: &'static [&'static str]) -> Result<Vec<(String, String)>, Reply> {
    query::parse(query, known).map_err(|e| Reply::error(422, "invalid-request", &e.to_string()))
}

#[derive(Serialize)]
struct Index {
    name: &'static str,
    contract: String,
    routes: [&'static str; 5],
}

fn index(query: &str) -> Answer {
    params(query, &[])?;
    Ok(Reply::json(
        200,
        &Index {
            name: "hcal gateway",
            contract: processor::contract_version(),
            routes: [
                "GET /v1/services",
                "POST /v1/process?user=&from=&to=&now=&locale=",
                "POST /v1/links?source=",
                "POST /v1/keyword",
                "GET /",
            ],
        },
    ))
}

#[derive(Serialize)]
struct Service {
    id: String,
    name: String,
}

#[derive(Serialize)]
struct Services {
    services: Vec<Service>,
}

fn services(query: &str) -> Answer {
    params(query, &[])?;
    let services = processor::services()
        .into_iter()
        .map(|s| Service {
            id: s.id,
            name: s.name,
        })
        .collect();
    Ok(Reply::json(200, &Services { services }))
}

/// The media type of the request, lower-cased and without parameters.
fn media_type(request: &IncomingRequest) -> Option<String> {
    let values = request.headers().get("content-type");
    let value = values.first()?;
    let text = String::from_utf8_lossy(value);
    let media = text
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    Some(media)
}

fn check_media(request: &IncomingRequest, accepted: &[&str]) -> Result<Option<String>, Reply> {
    match media_type(request) {
        None => Ok(None),
        Some(media) if accepted.contains(&media.as_str()) => Ok(Some(media)),
        Some(media) => Err(Reply::error(
            415,
            "unsupported-media-type",
            &format!(
                "the body is `{media}`; this route reads {}",
                accepted
                    .iter()
                    .map(|a| format!("`{a}`"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        )),
    }
}

/// The whole body as UTF-8, at most `max` bytes.
fn read_body(request: &IncomingRequest, max: usize) -> Result<String, Reply> {
    let too_large = || {
        Reply::error(
            413,
            "too-large",
            &format!("the body is larger than this gateway's {max} bytes (`max_body_bytes`)"),
        )
    };
    let declared = request.headers().get("content-length");
    if let Some(value) = declared.first() {
        let length: Option<usize> = std::str::from_utf8(value)
            .ok()
            .and_then(|v| v.trim().parse().ok());
        match length {
            Some(n) if n > max => return Err(too_large()),
            Some(_) => {}
            None => {
                return Err(Reply::error(
                    400,
                    "bad-request",
                    "the Content-Length header is not a number",
                ));
            }
        }
    }
    let unreadable = || Reply::error(400, "bad-request", "the request body cannot be read");
    let body = request.consume().map_err(|()| unreadable())?;
    let mut bytes = Vec::new();
    {
        // The stream is the body's child: dropped before the body finishes.
        let stream = body.stream().map_err(|()| unreadable())?;
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => {
                    if bytes.len() + chunk.len() > max {
                        return Err(too_large());
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(_)) => return Err(unreadable()),
            }
        }
    }
    drop(IncomingBody::finish(body));
    String::from_utf8(bytes).map_err(|e| {
        Reply::error(
            400,
            "bad-request",
            &format!(
                "the body is not UTF-8 (at byte {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

fn core_error(e: &wit::Error) -> Reply {
    let code = convert::core_error_code(e);
    let position = match e {
        wit::Error::MalformedJson(j) => Some((j.line, j.column)),
        _ => None,
    };
    let message = convert::describe_core_error(e);
    Reply::error_at(core_error_status(code), code, &message, position)
}

/// Malformed JSON in a body the gateway reads itself, with where.
fn malformed(what: &str, e: &serde_json::Error) -> Reply {
    Reply::error_at(
        400,
        "malformed-json",
        &format!("malformed JSON: the body is not {what}: {e}"),
        Some((e.line() as u32, e.column() as u32)),
    )
}

fn invalid_request(message: &str) -> Reply {
    Reply::error(422, "invalid-request", message)
}

const PROCESS_PARAMS: &[&str] = &["user", "from", "to", "now", "locale"];
const DAY: i64 = 86_400;

/// `POST /v1/process`: the meeting list of an `events.list` page (or a JSON
/// array of pages), exactly what `hcal process` prints.
fn process(config: &Config, request: &IncomingRequest, query: &str) -> Answer {
    let params = params(query, PROCESS_PARAMS)?;
    let user = query::get(&params, "user")
        .filter(|u| !u.is_empty())
        .ok_or_else(|| invalid_request("whose meetings? add `?user=alice@example.com`"))?;
    check_media(request, &["application/json"])?;
    // `now` defaults to the host's clock; the window to `now` minus 7 days
    // to plus 31, as `hcal process`.
    let now = query::get(&params, "now")
        .map(str::to_string)
        .unwrap_or_else(|| clock::format_utc(wall_clock()));
    let bound = |name: &str, days: i64| -> Result<String, Reply> {
        if let Some(given) = query::get(&params, name) {
            return Ok(given.to_string());
        }
        let now = clock::parse(&now).ok_or_else(|| {
            invalid_request(&format!(
                "`now` ({now}) is not an RFC 3339 time such as 2026-12-01T09:00:00Z, \
                 so the window cannot default around it; give `from` and `to`"
            ))
        })?;
        Ok(clock::format_utc(now + days * DAY))
    };
    let window = model::Window {
        from: bound("from", -7)?,
        to: bound("to", 31)?,
    };
    let body = read_body(request, config.max_body_bytes)?;
    let pages = model::pages(&body).map_err(|e| malformed("a JSON array of pages", &e))?;
    let model_request = model::ProcessRequest {
        user: user.to_string(),
        window,
        now,
        options: config.options.clone(),
        profiles: config.profiles.clone(),
        provided: config.provided.clone(),
        locale: query::get(&params, "locale").map(str::to_string),
        seal_with: config.key.clone(),
    };
    processor::process(&pages, &convert::request(&model_request))
        .map(|list| Reply::json(200, &convert::meeting_list(list)))
        .map_err(|e| core_error(&e))
}

fn wall_clock() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The fields `POST /v1/links` searches when the body is JSON.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkFields {
    conference_data: Option<String>,
    event_url: Option<String>,
    location: Option<String>,
    description: Option<String>,
}

#[derive(Serialize)]
struct Links {
    links: Vec<model::JoinLink>,
}

/// `POST /v1/links`: every join link of a text (`text/plain`, searched as
/// `?source=`, by default a description) or of an event's fields (JSON
/// `{"conference_data", "event_url", "location", "description"}`), ranked.
fn links(config: &Config, request: &IncomingRequest, query: &str) -> Answer {
    let params = params(query, &["source"])?;
    let media = check_media(request, &["text/plain", "application/json"])?;
    let body = read_body(request, config.max_body_bytes)?;
    let source = query::get(&params, "source");
    let fields: Vec<(model::LinkSource, String)> = if media.as_deref() == Some("application/json") {
        if source.is_some() {
            return Err(invalid_request(
                "`source` is for a text/plain body; a JSON body names its fields",
            ));
        }
        let f: LinkFields = serde_json::from_str(&body).map_err(|e| {
            malformed(
                "{\"conference_data\", \"event_url\", \"location\", \"description\"}",
                &e,
            )
        })?;
        [
            (model::LinkSource::ConferenceData, f.conference_data),
            (model::LinkSource::EventUrl, f.event_url),
            (model::LinkSource::Location, f.location),
            (model::LinkSource::Description, f.description),
        ]
        .into_iter()
        .filter_map(|(source, text)| Some((source, text?)))
        .collect()
    } else {
        let source = source.unwrap_or("description");
        // The model's own names for the sources (snake_case).
        let source = model::LinkSource::deserialize(source.into_deserializer()).map_err(
            |_: serde::de::value::Error| {
                invalid_request(&format!(
                    "`source` is `{source}`; it is one of `conference_data`, `event_url`, \
                     `location`, `description`"
                ))
            },
        )?;
        vec![(source, body)]
    };
    let found = processor::extract_links(
        &convert::link_fields(&fields),
        &convert::link_options(&config.options.links),
    );
    Ok(Reply::json(
        200,
        &Links {
            links: convert::links(found),
        },
    ))
}

#[derive(Serialize)]
struct Keyword {
    /// As found, lower-cased: `@webex`, `@meet:space`.
    text: String,
    /// `webex`, `meet` or `spark`.
    service: &'static str,
    meeting_type: model::MeetingType,
    /// Byte offset in the location.
    offset: u32,
}

#[derive(Serialize)]
struct KeywordAnswer {
    keyword: Option<Keyword>,
}

/// `POST /v1/keyword`: the keyword of a location (`text/plain`), with the
/// meeting it asks for under the configured defaults; `null` when none.
fn keyword(config: &Config, request: &IncomingRequest, query: &str) -> Answer {
    params(query, &[])?;
    check_media(request, &["text/plain"])?;
    let body = read_body(request, config.max_body_bytes)?;
    let defaults = &config.options.keyword_defaults;
    let defaults = wit::KeywordDefaults {
        webex: convert::meeting_type(defaults.webex),
        meet: convert::meeting_type(defaults.meet),
    };
    let keyword = processor::detect_keyword(&body, defaults).map(|k| Keyword {
        text: k.text,
        service: match k.service {
            wit::KeywordService::Webex => "webex",
            wit::KeywordService::Meet => "meet",
            wit::KeywordService::Spark => "spark",
        },
        meeting_type: convert::from_meeting_type(k.meeting_type),
        offset: k.offset,
    });
    Ok(Reply::json(200, &KeywordAnswer { keyword }))
}

/// Write `reply` to the host. Always an `Ok` response, 4xx and 5xx too:
/// an error result ends `jco serve`'s process.
fn send(out: ResponseOutparam, reply: Reply) {
    let mut headers: Vec<(String, Vec<u8>)> = vec![
        (
            "content-type".into(),
            reply.content_type.as_bytes().to_vec(),
        ),
        (
            "content-length".into(),
            reply.body.len().to_string().into_bytes(),
        ),
        ("x-content-type-options".into(), b"nosniff".to_vec()),
    ];
    if let Some(allow) = reply.allow {
        headers.push(("allow".into(), allow.as_bytes().to_vec()));
    }
    let Ok(headers) = Fields::from_list(&headers) else {
        return;
    };
    let response = OutgoingResponse::new(headers);
    let _ = response.set_status_code(reply.status);
    let Ok(body) = response.body() else {
        return;
    };
    ResponseOutparam::set(out, Ok(response));
    if let Ok(mut stream) = body.write() {
        // `Write` waits for the host's room; `blocking-write-and-flush`
        // takes at most 4,096 bytes.
        if stream.write_all(&reply.body).is_err() || stream.flush().is_err() {
            return;
        }
    }
    let _ = OutgoingBody::finish(body, None);
}
