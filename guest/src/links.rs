//! Join links: find every candidate in an event's conference data, source URL,
//! location and description; unwrap what wraps it (Outlook SafeLinks, Google
//! redirects, HTML, percent-encoding); classify it by service; rank; choose.
//!
//! Ranking: source first (`conference_data` > `event_url` > `location` >
//! `description`), then tier (Webex and SIP first, since this service joins
//! through Webex; then every other meeting service; then dial-in numbers and
//! watch-only streams), then order of appearance. Two candidates for the same
//! meeting (same scheme, host and path) are one link, and the more complete
//! URL (`/j/123?pwd=...` over `/j/123`) is kept.
//!
//! The scan is a single linear pass over the text; regular expressions only
//! ever run on one short URL, against the few rules for its host.

use std::sync::OnceLock;

use regex_lite::Regex;

use crate::html;
use crate::model::{JoinLink, LinkOptions, LinkSource};

/// One text to search.
#[derive(Debug, Clone, Copy)]
pub struct Field<'a> {
    pub source: LinkSource,
    pub text: &'a str,
    /// Conference entry points are join links whatever their host.
    pub trusted: bool,
    /// Already plain text (a flattened description): never read as HTML.
    pub plain: bool,
}

impl<'a> Field<'a> {
    /// A text that may be HTML.
    pub fn new(source: LinkSource, text: &'a str) -> Field<'a> {
        Field {
            source,
            text,
            trusted: false,
            plain: false,
        }
    }
}

/// How good a service is as the way to join.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Tier {
    /// Webex and SIP video addresses: this service's own.
    Own = 0,
    /// Every other meeting service, and configured patterns.
    Meeting = 1,
    /// Dial-in numbers.
    Phone = 2,
    /// Streams you can only watch.
    Watch = 3,
}

/// A recognised service: its id (stable, in the contract) and display name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceInfo {
    pub id: &'static str,
    pub name: &'static str,
    tier: Tier,
}

macro_rules! services {
    ($($id:literal $name:literal $tier:ident;)*) => {
        /// Every service the extractor recognises.
        pub const SERVICES: &[ServiceInfo] = &[$(ServiceInfo { id: $id, name: $name, tier: Tier::$tier }),*];
    };
}

services! {
    "webex" "Cisco Webex" Own;
    "sip" "SIP video address" Own;
    "zoom" "Zoom" Meeting;
    "zoom_native" "Zoom native" Meeting;
    "zoomgov" "ZoomGov" Meeting;
    "meet" "Google Meet" Meeting;
    "meet_stream" "Google Meet Stream" Watch;
    "hangouts" "Google Hangouts" Meeting;
    "duo" "Google Duo" Meeting;
    "teams" "Microsoft Teams" Meeting;
    "jitsi" "Jitsi" Meeting;
    "chime" "Amazon Chime" Meeting;
    "ringcentral" "RingCentral" Meeting;
    "gotomeeting" "GoToMeeting" Meeting;
    "gotowebinar" "GoToWebinar" Meeting;
    "bluejeans" "BlueJeans" Meeting;
    "eight_x_eight" "8x8" Meeting;
    "demio" "Demio" Meeting;
    "join_me" "Join.me" Meeting;
    "whereby" "Whereby" Meeting;
    "uberconference" "UberConference" Meeting;
    "blizz" "Blizz" Meeting;
    "teamviewer_meeting" "TeamViewer Meeting" Meeting;
    "vsee" "VSee" Meeting;
    "starleaf" "StarLeaf" Meeting;
    "voov" "Tencent VooV" Meeting;
    "facebook_workspace" "Facebook Workspace" Meeting;
    "lifesize" "Lifesize" Meeting;
    "skype" "Skype" Meeting;
    "skype4biz" "Skype for Business" Meeting;
    "facetime" "Facetime" Meeting;
    "youtube" "YouTube" Watch;
    "vonage" "Vonage Meetings" Meeting;
    "around" "Around" Meeting;
    "jam" "Jam" Meeting;
    "discord" "Discord" Meeting;
    "blackboard_collab" "Blackboard Collaborate" Meeting;
    "coscreen" "CoScreen" Meeting;
    "vowel" "Vowel" Meeting;
    "zhumu" "Zhumu" Meeting;
    "lark" "Lark" Meeting;
    "feishu" "Feishu" Meeting;
    "vimeo" "Vimeo" Watch;
    "ovice" "oVice" Meeting;
    "luma" "Luma" Meeting;
    "preply" "Preply" Meeting;
    "userzoom" "UserZoom" Meeting;
    "venue" "Venue" Meeting;
    "teemyco" "Teemyco" Meeting;
    "demodesk" "Demodesk" Meeting;
    "zoho_cliq" "Zoho Cliq" Meeting;
    "slack" "Slack" Meeting;
    "gather" "Gather" Meeting;
    "reclaim" "Reclaim.ai" Meeting;
    "pop" "Pop" Meeting;
    "chorus" "Chorus" Meeting;
    "gong" "Gong" Meeting;
    "livestorm" "Livestorm" Meeting;
    "tuple" "Tuple" Meeting;
    "pumble" "Pumble" Meeting;
    "suit_conference" "Suit Conference" Meeting;
    "doxy_me" "Doxy.me" Meeting;
    "calcom" "Cal Video" Meeting;
    "zm_page" "zm.page" Meeting;
    "livekit" "LiveKit Meet" Meeting;
    "meetecho" "Meetecho" Meeting;
    "streamyard" "StreamYard" Meeting;
    "riverside" "Riverside" Meeting;
    "proton_meet" "Proton Meet" Meeting;
    "tel" "Phone" Phone;
    "other" "Other" Meeting;
}

fn service(id: &str) -> &'static ServiceInfo {
    SERVICES
        .iter()
        .find(|s| s.id == id)
        .unwrap_or(&SERVICES[SERVICES.len() - 1])
}

/// A URL rule: `(service, scheme, host, path)`. Host `zoom.us` matches the
/// host and its subdomains, `=meet.google.com` only itself, `.zm.page` only
/// subdomains. `path` is matched, anchored, against everything after the
/// host (path, query and fragment); `@name` names a hand-written matcher
/// (see [`HAND_WRITTEN`]) for the services seen most, which would otherwise
/// spend most of classification in the regex engine.
#[rustfmt::skip]
const RULES: &[(&str, &str, &str, &str)] = &[
    ("webex", "https", "webex.com", "@webex"),
    ("zoom", "https", "zoom.us", "@zoom"),
    ("zoom", "https", "zoom.com", "@zoom"),
    ("zoom", "https", "zoom.com.cn", "@zoom"),
    ("zoom", "https", "zoom-x.de", "@zoom"),
    ("zoom", "https", "zoom.de", "@zoom"),
    ("zoom_native", "zoommtg", "zoom.us", r"/join.*"),
    ("zoom_native", "zoommtg", "zoom.com", r"/join.*"),
    ("zoom_native", "zoommtg", "zoom-x.de", r"/join.*"),
    ("zoomgov", "https", "zoomgov.com", r"/j/[A-Za-z0-9?&=]+.*"),
    ("meet", "https", "=meet.google.com", "@meet"),
    ("meet_stream", "https", "=stream.meet.google.com", r"/stream/[a-z0-9-]+.*"),
    ("hangouts", "https", "=hangouts.google.com", r"/.+"),
    ("duo", "https", "=duo.app.goo.gl", r"/.+"),
    ("teams", "https", "teams.microsoft.com", "@teams"),
    ("teams", "https", "teams.microsoft.us", "@teams"),
    ("teams", "https", "=teams.live.com", r"/meet/[0-9]+.*"),
    ("jitsi", "https", "=meet.jit.si", r"/.+"),
    ("chime", "https", "chime.aws", r"/[0-9]+.*"),
    ("ringcentral", "https", "ringcentral.com", r"/.+"),
    ("gotomeeting", "https", "gotomeeting.com", r"/.+"),
    ("gotomeeting", "https", "=meet.goto.com", r"/[0-9]+.*"),
    ("gotowebinar", "https", "gotowebinar.com", r"/.+"),
    ("bluejeans", "https", "bluejeans.com", r"/.+"),
    ("eight_x_eight", "https", "=8x8.vc", r"/.+"),
    ("demio", "https", "=event.demio.com", r"/.+"),
    ("join_me", "https", "=join.me", r"/.+"),
    ("whereby", "https", "whereby.com", r"/.+"),
    ("uberconference", "https", "uberconference.com", r"/.+"),
    ("blizz", "https", "=go.blizz.com", r"/.+"),
    ("teamviewer_meeting", "https", "=go.teamviewer.com", r"/.+"),
    ("vsee", "https", "=vsee.com", r"/.+"),
    ("starleaf", "https", "=meet.starleaf.com", r"/.+"),
    ("voov", "https", "voovmeeting.com", r"/.+"),
    ("facebook_workspace", "https", "workplace.com", r"/groupcall/.+"),
    ("lifesize", "https", "=call.lifesizecloud.com", r"/.+"),
    ("skype", "https", "=join.skype.com", r"/.+"),
    ("skype4biz", "https", "=meet.lync.com", r"/.+"),
    ("facetime", "https", "=facetime.apple.com", r"/join.*"),
    ("youtube", "https", "youtube.com", r"/(?:watch|live|embed)\b.*"),
    ("youtube", "https", "=youtu.be", r"/.+"),
    ("vonage", "https", "=meetings.vonage.com", r"/[0-9]{9}.*"),
    ("around", "https", "around.co", r"/.+"),
    ("jam", "https", "=jam.systems", r"/.+"),
    ("discord", "https", "discord.gg", r"/.+"),
    ("discord", "https", "discord.com", r"/(?:invite|channels)/.+"),
    ("blackboard_collab", "https", "bbcollab.com", r"/(?:guest|invite|collab)/.+"),
    ("coscreen", "https", "=join.coscreen.co", r"/.+"),
    ("vowel", "https", "vowel.com", r"/#/g/.+"),
    ("zhumu", "https", "=welink.zhumu.com", r"/j/[0-9]+(?:\?.*)?|/wc/join/[0-9]+\?(?:.*&)?wpk=.+"),
    ("lark", "https", "=vc.larksuite.com", r"/j/[0-9]+.*"),
    ("feishu", "https", "=vc.feishu.cn", r"/j/[0-9]+.*"),
    ("vimeo", "https", "=vimeo.com", r"/(?:showcase|event)/[0-9]+.*"),
    ("vimeo", "https", "=venues.vimeo.com", r"/.+"),
    ("ovice", "https", "ovice.in", r"/.+"),
    ("ovice", "https", "ovice.com", r"/.+"),
    ("luma", "https", "=lu.ma", r"/join/.+"),
    ("preply", "https", "=preply.com", r"/.+"),
    ("userzoom", "https", "=go.userzoom.com", r"/participate/[a-z0-9-]+.*"),
    ("venue", "https", "=app.venue.live", r"/app/.+"),
    ("teemyco", "https", "=app.teemyco.com", r"/room/.+"),
    ("demodesk", "https", "=demodesk.com", r"/.+"),
    ("zoho_cliq", "https", "=cliq.zoho.eu", r"/meetings/.+"),
    ("zoho_cliq", "https", "=cliq.zoho.com", r"/meetings/.+"),
    ("slack", "https", "=app.slack.com", r"/huddle/[A-Za-z0-9./]+"),
    ("gather", "https", "=app.gather.town", r"/app/[A-Za-z0-9]+/[A-Za-z0-9_%-]+\?(?:spawnToken|meeting)=.+"),
    ("reclaim", "https", "=reclaim.ai", r"/z/[A-Za-z0-9./]+"),
    ("pop", "https", "=pop.com", r"/j/[0-9-]+"),
    ("chorus", "https", "=go.chorus.ai", r"/.+"),
    ("gong", "https", "join.gong.io", r"/.+"),
    ("livestorm", "https", "=app.livestorm.com", r"/p/.+"),
    ("tuple", "https", "=tuple.app", r"/c/.+"),
    ("pumble", "https", "=meet.pumble.com", r"/[a-z-]+"),
    ("suit_conference", "https", "conference.istesuit.com", r"/.+"),
    ("doxy_me", "https", "doxy.me", r"/.+"),
    ("calcom", "https", "=app.cal.com", r"/video/[A-Za-z0-9./]+"),
    ("zm_page", "https", ".zm.page", r".*"),
    ("livekit", "https", "livekit.io", r"/rooms/[A-Za-z0-9-]+.*"),
    ("meetecho", "https", "=meetings.conf.meetecho.com", r"/.+"),
    ("streamyard", "https", "streamyard.com", r"/(?:guest/)?[a-z0-9]{8,13}(?:/|\?.*)?"),
    ("riverside", "https", "riverside.com", r"/studio/.+"),
    ("riverside", "https", "riverside.fm", r"/studio/.+"),
    ("proton_meet", "https", "=meet.proton.me", r"/join/.+"),
];

/// How a rule checks what follows the host. Most rules only need "something";
/// those never pay for a regex.
enum PathRule {
    Any,
    NonEmpty,
    Written(fn(&str) -> bool),
    Pattern(Regex),
}

impl PathRule {
    fn matches(&self, rest: &str) -> bool {
        match self {
            PathRule::Any => true,
            PathRule::NonEmpty => rest.len() > 1 && rest.starts_with('/'),
            PathRule::Written(matcher) => matcher(rest),
            PathRule::Pattern(regex) => regex.is_match(rest),
        }
    }
}

struct Rule {
    service: &'static ServiceInfo,
    scheme: &'static str,
    host: &'static str,
    path: PathRule,
}

/// The rules, and their positions sorted by host key (the pattern without its
/// `=` or `.`), so a host finds its few candidates by binary search.
struct Rules {
    all: Vec<Rule>,
    by_host: Vec<(&'static str, usize)>,
}

fn rules() -> &'static Rules {
    static RULES_COMPILED: OnceLock<Rules> = OnceLock::new();
    RULES_COMPILED.get_or_init(|| {
        let all: Vec<Rule> = RULES
            .iter()
            .map(|(id, scheme, host, path)| Rule {
                service: service(id),
                scheme,
                host,
                path: match *path {
                    ".*" => PathRule::Any,
                    "/.+" => PathRule::NonEmpty,
                    named if named.starts_with('@') => PathRule::Written(
                        HAND_WRITTEN
                            .iter()
                            .find(|(n, ..)| *n == named)
                            .map(|(_, f, _)| *f)
                            .expect("RULES names a known matcher"),
                    ),
                    // The table is ours and tested; an invalid entry is a build bug.
                    _ => PathRule::Pattern(
                        Regex::new(&format!("^(?:{path})$")).expect("RULES holds valid patterns"),
                    ),
                },
            })
            .collect();
        let mut by_host: Vec<(&'static str, usize)> = all
            .iter()
            .enumerate()
            .map(|(i, r)| (r.host.trim_start_matches(['=', '.']), i))
            .collect();
        by_host.sort();
        Rules { all, by_host }
    })
}

/// `host` ends with `.suffix` (case-insensitively).
fn is_subdomain_of(host: &str, suffix: &str) -> bool {
    host.len() > suffix.len() + 1
        && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
        && host[host.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
}

fn host_matches(pattern: &str, host: &str) -> bool {
    if let Some(exact) = pattern.strip_prefix('=') {
        host.eq_ignore_ascii_case(exact)
    } else if let Some(suffix) = pattern.strip_prefix('.') {
        is_subdomain_of(host, suffix)
    } else {
        host.eq_ignore_ascii_case(pattern) || is_subdomain_of(host, pattern)
    }
}

/// A URL split at its host, borrowed. Compare scheme and host
/// case-insensitively.
struct Parts<'a> {
    scheme: &'a str,
    host: &'a str,
    /// Everything after the host (and port): path, query, fragment.
    rest: &'a str,
}

fn split_url(uri: &str) -> Option<Parts<'_>> {
    use crate::bytes::{equal_to, find, find_byte};
    // The first `://` (every found token is split here, some twice: no
    // substring searcher for three bytes).
    let bytes = uri.as_bytes();
    let mut from = 0;
    let colon = loop {
        let colon = find_byte(bytes, from, b':')?;
        if bytes[colon + 1..].starts_with(b"//") {
            break colon;
        }
        from = colon + 1;
    };
    let (scheme, after) = (&uri[..colon], &uri[colon + 3..]);
    let host_end = find(
        after.as_bytes(),
        0,
        |w| equal_to(w, b'/') | equal_to(w, b'?') | equal_to(w, b'#'),
        |b| matches!(b, b'/' | b'?' | b'#'),
    )
    .unwrap_or(after.len());
    let authority = &after[..host_end];
    let authority = crate::bytes::rsplit_once_byte(authority, b'@')
        .map(|(_, h)| h)
        .unwrap_or(authority);
    let host = &authority[..find_byte(authority.as_bytes(), 0, b':').unwrap_or(authority.len())];
    if host.is_empty() {
        return None;
    }
    Some(Parts {
        scheme,
        host,
        rest: &after[host_end..],
    })
}

/// Which service a (clean, unwrapped) URI belongs to.
///
/// ```
/// use hcal_core::links::classify;
/// assert_eq!(classify("https://acme.webex.com/meet/alice"), Some("webex"));
/// assert_eq!(classify("https://acme.webex.com/m/2569032436"), Some("webex"));
/// assert_eq!(classify("sip:123@acme.webex.com"), Some("sip"));
/// assert_eq!(classify("https://teams.microsoft.com/meet/123"), None); // no passcode
/// ```
pub fn classify(uri: &str) -> Option<&'static str> {
    let scheme = &uri[..crate::bytes::find_byte(uri.as_bytes(), 0, b':').unwrap_or(uri.len())];
    if scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips") {
        return valid_sip(uri).then_some("sip");
    }
    if scheme.eq_ignore_ascii_case("tel") {
        return valid_tel(uri).then_some("tel");
    }
    let parts = split_url(uri)?;
    let scheme = if parts.scheme.eq_ignore_ascii_case("http") {
        "https"
    } else {
        parts.scheme
    };
    let host: std::borrow::Cow<str> = if parts.host.bytes().any(|b| b.is_ascii_uppercase()) {
        parts.host.to_ascii_lowercase().into()
    } else {
        parts.host.into()
    };
    let rules = rules();
    // The host and each of its parent domains are keys to look up; the
    // earliest matching rule in the table wins.
    let mut best: Option<usize> = None;
    let mut key: &str = &host;
    loop {
        let from = rules.by_host.partition_point(|(k, _)| *k < key);
        for &(_, index) in rules.by_host[from..].iter().take_while(|(k, _)| *k == key) {
            let rule = &rules.all[index];
            if best.is_none_or(|b| index < b)
                && rule.scheme.eq_ignore_ascii_case(scheme)
                && host_matches(rule.host, &host)
                && rule.path.matches(parts.rest)
            {
                best = Some(index);
            }
        }
        match crate::bytes::find_byte(key.as_bytes(), 0, b'.') {
            Some(dot) if dot + 1 < key.len() => key = &key[dot + 1..],
            _ => break,
        }
    }
    best.map(|i| rules.all[i].service.id)
}

/// Hand-written path matchers, and the pattern each one implements (a test
/// checks that they agree).
/// `(name, matcher, the pattern it implements)`
type HandWritten = (&'static str, fn(&str) -> bool, &'static str);

const HAND_WRITTEN: &[HandWritten] = &[
    (
        "@webex",
        webex_path,
        r"/(?:meet|join)/[A-Za-z0-9._@-]+(?:[/?#].*)?|/[A-Za-z0-9-]+/j\.php\?(?:.*&)?MTID=[A-Za-z0-9]+.*|/wbxmjs/joinservice/.+|/[A-Za-z0-9-]+/(?:meet|join)/[A-Za-z0-9._@-]+.*|/webappng/sites/[^/]+/meeting/.+",
    ),
    ("@zoom", zoom_path, r"/(?:my|webinar|[a-z]{1,2})/.+"),
    (
        "@meet",
        meet_path,
        r"/(?:_meet/)?(?:lookup/)?[a-z][a-z0-9-]+(?:[/?#].*)?",
    ),
    (
        "@teams",
        teams_path,
        r"/l/meetup-join/[A-Za-z0-9_%/=+.?&:-]+.*|/meet/[0-9]+\?(?:.*&)?p=[A-Za-z0-9]+.*",
    ),
];

/// `rest` is `/SEGMENT/TAIL` with `segment(SEGMENT)`: the tail.
fn after_segment(rest: &str, segment: impl Fn(&str) -> bool) -> Option<&str> {
    let (head, tail) = rest.strip_prefix('/')?.split_once('/')?;
    segment(head).then_some(tail)
}

fn all_bytes(text: &str, ok: impl Fn(u8) -> bool) -> bool {
    !text.is_empty() && text.bytes().all(ok)
}

fn webex_name_len(text: &str) -> usize {
    text.bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'-'))
        .count()
}

fn site_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

/// `/meet/NAME`, `/join/NAME`, `/m/ID` (a space's meeting link),
/// `/SITE/meet/NAME`, `/SITE/j.php?...MTID=...`, `/wbxmjs/joinservice/...`,
/// `/webappng/sites/SITE/meeting/...`.
fn webex_path(rest: &str) -> bool {
    let meet_or_join = |s: &str| s == "meet" || s == "join" || s == "m";
    if let Some(tail) = after_segment(rest, meet_or_join) {
        let len = webex_name_len(tail);
        if len > 0 && (len == tail.len() || matches!(tail.as_bytes()[len], b'/' | b'?' | b'#')) {
            return true;
        }
    }
    if rest
        .strip_prefix("/wbxmjs/joinservice/")
        .is_some_and(|t| !t.is_empty())
    {
        return true;
    }
    // `/webappng/sites/SITE/meeting/...`
    if let Some((site, after)) = rest
        .strip_prefix("/webappng/sites/")
        .and_then(|t| t.split_once('/'))
        && !site.is_empty()
        && after
            .strip_prefix("meeting/")
            .is_some_and(|m| !m.is_empty())
    {
        return true;
    }

    let Some((site, tail)) = rest.strip_prefix('/').and_then(|r| r.split_once('/')) else {
        return false;
    };
    if !all_bytes(site, site_byte) {
        return false;
    }
    if let Some(query) = tail.strip_prefix("j.php?") {
        return has_param(query, "MTID");
    }
    after_segment(&rest[1 + site.len()..], meet_or_join).is_some_and(|t| webex_name_len(t) > 0)
}

/// `query` has `NAME=` followed by an alphanumeric, as its first parameter
/// or after an `&`.
fn has_param(query: &str, name: &str) -> bool {
    let value_ok = |at: usize| {
        query[at..]
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
    };
    let first = query
        .strip_prefix(name)
        .and_then(|r| r.strip_prefix('='))
        .is_some()
        && value_ok(name.len() + 1);
    first
        || query.match_indices('&').any(|(at, _)| {
            query[at + 1..]
                .strip_prefix(name)
                .is_some_and(|r| r.starts_with('='))
                && value_ok(at + name.len() + 2)
        })
}

/// `/j/...`, `/my/...`, `/webinar/...`, `/w/...` and other short prefixes.
fn zoom_path(rest: &str) -> bool {
    let prefix = |s: &str| {
        s == "my"
            || s == "webinar"
            || ((1..=2).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_lowercase()))
    };
    after_segment(rest, prefix).is_some_and(|tail| !tail.is_empty())
}

/// `/abc-defg-hij`, `/_meet/...`, `/lookup/...`.
fn meet_path(rest: &str) -> bool {
    let Some(mut code) = rest.strip_prefix('/') else {
        return false;
    };
    code = code.strip_prefix("_meet/").unwrap_or(code);
    code = code.strip_prefix("lookup/").unwrap_or(code);
    let len = code
        .bytes()
        .take_while(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        .count();
    len >= 2
        && code.as_bytes()[0].is_ascii_lowercase()
        && (len == code.len() || matches!(code.as_bytes()[len], b'/' | b'?' | b'#'))
}

/// `/l/meetup-join/...`, or `/meet/DIGITS?...p=PASSCODE`.
fn teams_path(rest: &str) -> bool {
    if let Some(tail) = rest.strip_prefix("/l/meetup-join/") {
        return tail.bytes().next().is_some_and(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'_' | b'%' | b'/' | b'=' | b'+' | b'.' | b'?' | b'&' | b':' | b'-'
                )
        });
    }
    let Some(tail) = rest.strip_prefix("/meet/") else {
        return false;
    };
    let digits = tail.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && tail.as_bytes().get(digits) == Some(&b'?') && has_param(&tail[digits + 1..], "p")
}

fn valid_sip(uri: &str) -> bool {
    let rest = uri.split_once(':').map(|(_, r)| r).unwrap_or("");
    let addr = rest.split([';', '?']).next().unwrap_or("");
    let host = addr.rsplit_once('@').map(|(_, h)| h).unwrap_or(addr);
    let host = host.split(':').next().unwrap_or("");
    !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'[' || b == b']')
}

fn valid_tel(uri: &str) -> bool {
    // After `tel:`; a bare `tel` (no colon) has no number.
    let number = uri.get(4..).unwrap_or("").split(';').next().unwrap_or("");
    number.bytes().filter(u8::is_ascii_digit).count() >= 3
        && number.bytes().all(|b| {
            b.is_ascii_digit()
                || matches!(
                    b,
                    b'+' | b'-' | b'.' | b'(' | b')' | b' ' | b',' | b'*' | b'#' | b'p' | b'w'
                )
        })
}

// ---- scanning ---------------------------------------------------------------

/// A URI found in text, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Found {
    uri: String,
    start: usize,
    end: usize,
}

const WEB_SCHEMES: &[&str] = &["https", "http", "zoommtg", "zoomus", "msteams"];

/// Bytes that end a URL token: white space and controls, non-ASCII, and the
/// characters RFC 3986 leaves out of URIs that text puts around them.
const ENDS_URL: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = b <= b' ' as usize
            || b >= 0x7f
            || matches!(
                b as u8,
                b'<' | b'>' | b'"' | b'\'' | b'`' | b'{' | b'}' | b'|' | b'\\' | b'^'
            );
        b += 1;
    }
    table
};

/// Where a URL token that starts at `start` ends.
fn token_end(bytes: &[u8], start: usize) -> usize {
    let mut end = start;
    // Eight bytes a step with one branch (in wasm each loop step also pays
    // a deadline check), then byte by byte within the step that stops.
    while let Some(step) = bytes.get(end..end + 8) {
        if step
            .iter()
            .fold(false, |stop, &b| stop | ENDS_URL[usize::from(b)])
        {
            break;
        }
        end += 8;
    }
    while end < bytes.len() && !ENDS_URL[usize::from(bytes[end])] {
        end += 1;
    }
    // Trailing punctuation belongs to the sentence, unbalanced closers to it too.
    while end > start {
        let last = bytes[end - 1];
        let strip = match last {
            b'.' | b',' | b';' | b':' | b'!' | b'?' | b'*' => true,
            b')' => count(&bytes[start..end], b'(') < count(&bytes[start..end], b')'),
            b']' => count(&bytes[start..end], b'[') < count(&bytes[start..end], b']'),
            _ => false,
        };
        if !strip {
            break;
        }
        end -= 1;
    }
    end
}

fn count(bytes: &[u8], b: u8) -> usize {
    bytes.iter().filter(|&&x| x == b).count()
}

/// Find every URI-like token in `text`, in order, up to `limit`.
fn scan(text: &str, limit: usize, out: &mut Vec<Found>) {
    let bytes = text.as_bytes();
    let interesting = |b: u8| matches!(b, b':' | b'%' | b'@');
    let mask = |w: u64| {
        crate::bytes::equal_to(w, b':')
            | crate::bytes::equal_to(w, b'%')
            | crate::bytes::equal_to(w, b'@')
    };
    let mut i = 0;
    while out.len() < limit {
        let Some(at) = crate::bytes::find(bytes, i, mask, interesting) else {
            break;
        };
        i = at;
        let found = match bytes[i] {
            b':' => scheme_token(text, i),
            b'%' => encoded_token(text, i),
            b'@' => video_address(text, i),
            _ => None,
        };
        match found {
            Some(f) => {
                i = f.end.max(i + 1);
                out.push(f);
            }
            None => i += 1,
        }
    }
}

/// The run of ASCII letters that ends at `end`.
fn letters_before(bytes: &[u8], end: usize) -> usize {
    let mut start = end;
    while start > 0 && bytes[start - 1].is_ascii_alphabetic() {
        start -= 1;
    }
    start
}

/// A `scheme:...` token whose colon is at `colon`.
fn scheme_token(text: &str, colon: usize) -> Option<Found> {
    let bytes = text.as_bytes();
    let start = letters_before(bytes, colon);
    if start == colon || colon - start > 8 {
        return None;
    }
    let scheme = &text[start..colon];
    let is = |s: &str| scheme.eq_ignore_ascii_case(s);
    if WEB_SCHEMES.iter().any(|s| is(s)) {
        if !text[colon..].starts_with("://") {
            return None;
        }
    } else if !(is("sip") || is("sips") || is("tel")) {
        return None;
    }
    let mut end = token_end(bytes, colon + 1);
    if is("tel") {
        // Phone numbers stop at the first character a number cannot hold.
        let len = bytes[colon + 1..end]
            .iter()
            .take_while(|b| {
                b.is_ascii_alphanumeric()
                    || matches!(
                        b,
                        b'+' | b'-' | b'.' | b'(' | b')' | b',' | b'*' | b'#' | b';' | b'='
                    )
            })
            .count();
        end = colon + 1 + len;
        while end > colon + 1 && matches!(bytes[end - 1], b'.' | b',' | b';' | b')') {
            end -= 1;
        }
    }
    if end <= colon + 1 || (WEB_SCHEMES.iter().any(|s| is(s)) && end <= colon + 3) {
        return None;
    }
    let mut uri = String::with_capacity(end - start);
    uri.push_str(&scheme.to_ascii_lowercase());
    uri.push_str(&text[colon..end]);
    Some(Found { uri, start, end })
}

/// `https%3A%2F%2F...`: a whole URL percent-encoded in text.
fn encoded_token(text: &str, percent: usize) -> Option<Found> {
    let bytes = text.as_bytes();
    let tail = bytes.get(percent..percent + 9)?;
    if !tail.eq_ignore_ascii_case(b"%3a%2f%2f") {
        return None;
    }
    let start = letters_before(bytes, percent);
    let scheme = &text[start..percent];
    if !(scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http")) {
        return None;
    }
    let end = token_end(bytes, percent);
    let uri = percent_decode(&text[start..end])?;
    Some(Found { uri, start, end })
}

/// A bare video address `USER@SITE.webex.com`, as a `sip:` URI.
fn video_address(text: &str, at: usize) -> Option<Found> {
    let bytes = text.as_bytes();
    let user_ok = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'+' | b'-');
    let mut start = at;
    while start > 0 && user_ok(bytes[start - 1]) {
        start -= 1;
    }
    if start == at || (start > 0 && matches!(bytes[start - 1], b':' | b'/' | b'=')) {
        return None;
    }
    let mut end = at + 1;
    while end < bytes.len()
        && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'.' || bytes[end] == b'-')
    {
        end += 1;
    }
    while end > at + 1 && matches!(bytes[end - 1], b'.' | b'-') {
        end -= 1;
    }
    let host = text[at + 1..end].to_ascii_lowercase();
    let site = host.strip_suffix(".webex.com")?;
    if site.is_empty() {
        return None; // user@webex.com is an e-mail address
    }
    Some(Found {
        uri: format!("sip:{}@{host}", &text[start..at]),
        start,
        end,
    })
}

// ---- unwrapping ---------------------------------------------------------------

/// Decode `%XX` escapes; `None` when an escape is malformed or the result is
/// not UTF-8.
pub fn percent_decode(text: &str) -> Option<String> {
    if !text.contains('%') {
        return Some(text.to_string());
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn query_param<'a>(rest: &'a str, names: &[&str]) -> Option<&'a str> {
    let query = rest.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or(query);
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        names.contains(&key).then_some(value)
    })
}

fn is_safelinks_host(host: &str) -> bool {
    is_subdomain_of(host, "safelinks.protection.outlook.com")
}

/// One layer of wrapping removed, if `uri` is a wrapper whose format can be
/// reversed: Outlook SafeLinks, Google's redirect, Proofpoint URL Defense
/// v1, v2 and v3, Barracuda Link Protection. Others (Mimecast's
/// `protect.mimecast.com/s/...` holds only a key) stay as they are.
fn unwrap_once(uri: &str) -> Option<String> {
    let parts = split_url(uri)?;
    let host = parts.host;
    let path = |prefix: &str| {
        parts
            .rest
            .get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
    };
    let target = if is_safelinks_host(host) {
        percent_decode(query_param(parts.rest, &["url"])?)?
    } else if (host.eq_ignore_ascii_case("www.google.com")
        || host.eq_ignore_ascii_case("google.com"))
        && path("/url?")
    {
        percent_decode(query_param(parts.rest, &["q", "url"])?)?
    } else if host.eq_ignore_ascii_case("urldefense.proofpoint.com") && path("/v1/url?") {
        percent_decode(query_param(parts.rest, &["u"])?)?
    } else if host.eq_ignore_ascii_case("urldefense.proofpoint.com") && path("/v2/url?") {
        // `-XX` is `%XX`, `_` is `/`.
        let u = query_param(parts.rest, &["u"])?;
        percent_decode(&u.replace('-', "%").replace('_', "/"))?
    } else if (host.eq_ignore_ascii_case("urldefense.com")
        || host.eq_ignore_ascii_case("urldefense.proofpoint.com"))
        && path("/v3/__")
    {
        proofpoint_v3(&parts.rest["/v3/__".len()..])?
    } else if is_subdomain_of(host, "cudasvc.com") && path("/url?") {
        percent_decode(query_param(parts.rest, &["a"])?)?
    } else {
        return None;
    };
    // A wrapper around nothing (`?url=` empty, or only white space) wraps no
    // link: it stays what it is.
    Some(target).filter(|target| !target.trim().is_empty())
}

/// Proofpoint URL Defense v3: `__URL__;BYTES!...`, where each `*` in URL
/// stands for the next character of BYTES (URL-safe base64) and `**X` for a
/// run of them (`A` = 2, `B` = 3, ...).
fn proofpoint_v3(rest: &str) -> Option<String> {
    use base64::Engine as _;
    let (url, after) = rest.split_once("__;")?;
    let encoded = after.split('!').next().unwrap_or("");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded.trim_end_matches('='))
        .ok()?;
    let replacements: Vec<char> = String::from_utf8(bytes).ok()?.chars().collect();
    const RUNS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(url.len());
    let mut next = 0;
    let mut chars = url.chars();
    while let Some(c) = chars.next() {
        if c != '*' {
            out.push(c);
            continue;
        }
        let mut ahead = chars.clone();
        let run = match (ahead.next(), ahead.next()) {
            (Some('*'), Some(length)) => {
                chars = ahead;
                RUNS.iter().position(|&b| char::from(b) == length)? + 2
            }
            _ => 1,
        };
        out.extend(replacements.get(next..next + run)?);
        next += run;
    }
    Some(out)
}

/// Remove every layer of SafeLinks and Google redirects (at most 8).
pub fn unwrap(uri: &str) -> std::borrow::Cow<'_, str> {
    let mut current = std::borrow::Cow::Borrowed(uri);
    for _ in 0..8 {
        match unwrap_once(&current) {
            Some(next) if next != *current => current = std::borrow::Cow::Owned(next),
            _ => break,
        }
    }
    current
}

/// Replace every Outlook SafeLink in `text` by the link it wraps. A SafeLink
/// whose target cannot be decoded is left as it is.
///
/// ```
/// let text = "Join https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fzoom.us%2Fj%2F1&data=x today";
/// assert_eq!(hcal_core::links::unwrap_safelinks(text), "Join https://zoom.us/j/1 today");
/// ```
pub fn unwrap_safelinks(text: &str) -> String {
    let mut found = Vec::new();
    scan(text, usize::MAX, &mut found);
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for f in found {
        let original = &text[f.start..f.end];
        let is_safelink = split_url(original).is_some_and(|p| is_safelinks_host(p.host));
        if !is_safelink {
            continue;
        }
        let unwrapped = unwrap(original);
        if unwrapped != original {
            out.push_str(&text[last..f.start]);
            out.push_str(&unwrapped);
            last = f.end;
        }
    }
    out.push_str(&text[last..]);
    out
}

// ---- extraction and ranking -----------------------------------------------------

/// Compiled configured patterns, built once per call to [`extract`] or
/// [`crate::process`].
pub struct CustomPatterns(Vec<Regex>);

impl CustomPatterns {
    /// Compile; invalid patterns are skipped (and a real deployment validates
    /// them when it loads its configuration).
    pub fn new(patterns: &[String]) -> CustomPatterns {
        CustomPatterns(patterns.iter().filter_map(|p| Regex::new(p).ok()).collect())
    }
}

struct Candidate {
    uri: String,
    service: &'static ServiceInfo,
    source: LinkSource,
    order: usize,
}

/// Every join-link candidate in `fields`, ranked best first, at most
/// `options.max_links`.
///
/// ```
/// use hcal_core::links::{extract, Field, CustomPatterns};
/// use hcal_core::model::{LinkOptions, LinkSource};
/// let fields = [
///     Field::new(LinkSource::Location, "https://zoom.us/j/1"),
///     Field::new(LinkSource::Description, "<a href=\"https://acme.webex.com/meet/bob\">Webex</a>"),
/// ];
/// let links = extract(&fields, &LinkOptions::default(), &CustomPatterns::new(&[]));
/// assert_eq!(links[0].service, "zoom"); // the location outranks the description
/// assert_eq!(links[1].uri, "https://acme.webex.com/meet/bob");
/// ```
pub fn extract(
    fields: &[Field<'_>],
    options: &LinkOptions,
    custom: &CustomPatterns,
) -> Vec<JoinLink> {
    let max = options.max_links.max(1) as usize;
    // Scan a few more than we keep: duplicates collapse.
    let scan_limit = max.saturating_mul(4);
    let mut candidates: Vec<Candidate> = Vec::new();
    let mut found = Vec::new();
    let mut order = 0;
    for field in fields {
        if field.text.is_empty() {
            continue;
        }
        let flattened;
        let text = if !field.plain && html::looks_like_html(field.text) {
            flattened = html::flatten(field.text).text;
            flattened.as_str()
        } else {
            field.text
        };
        // Character references in plain text (`&#104;ttps://`, how some mail
        // gateways hide links from scanners) are read as what they stand for.
        let decoded;
        let text = if has_character_reference(text) {
            decoded = html::decode_entities(text);
            decoded.as_ref()
        } else {
            text
        };
        found.clear();
        scan(text, scan_limit, &mut found);
        // A conference entry is a link whatever its host, but only when it
        // holds something: a blank `uri` is no way to join.
        if field.trusted && found.is_empty() && !text.trim().is_empty() {
            found.push(Found {
                uri: text.trim().to_string(),
                start: 0,
                end: text.len(),
            });
        }
        // Scanned tokens and configured-pattern matches, in text order; at the
        // same position a recognised service goes first (ranking then merges
        // the two if they are the same link).
        let mut here: Vec<(usize, bool, String, &'static ServiceInfo)> = Vec::new();
        for f in found.drain(..) {
            // Most links wrap nothing: keep the string already made.
            let uri = match unwrap(&f.uri) {
                std::borrow::Cow::Owned(inner) => inner,
                std::borrow::Cow::Borrowed(_) => f.uri,
            };
            let known = classify(&uri)
                .map(service)
                .or_else(|| field.trusted.then(|| service("other")));
            if let Some(known) = known {
                here.push((f.start, false, uri, known));
            }
        }
        for pattern in &custom.0 {
            here.extend(
                pattern
                    .find_iter(text)
                    .take(scan_limit)
                    .map(|m| (m.start(), true, m.as_str().to_string(), service("other"))),
            );
        }
        here.sort_by_key(|(at, configured, ..)| (*at, *configured));
        for (_, _, uri, service) in here {
            candidates.push(Candidate {
                uri,
                service,
                source: field.source,
                order,
            });
            order += 1;
        }
        if candidates.len() >= scan_limit {
            break;
        }
    }
    rank(candidates, max)
}

/// Whether `text` holds `&#`. `str::contains` with a pattern is the standard
/// library's Two-Way search, which in wasm32 (no SIMD path) cost 6% of a page
/// for this one check; a byte search for `&` skips eight bytes at a time.
fn has_character_reference(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(at) = crate::bytes::find_byte(bytes, from, b'&') {
        if bytes.get(at + 1) == Some(&b'#') {
            return true;
        }
        from = at + 1;
    }
    false
}

/// Which meeting a URI is: everything before its query, fragment or SIP
/// parameters, without a trailing `/`. Compare case-insensitively.
fn identity(uri: &str) -> &str {
    let cut: &[char] = if uri.contains("://") {
        &['?', '#']
    } else {
        &[';', '?']
    };
    uri.split(cut).next().unwrap_or(uri).trim_end_matches('/')
}

fn rank(mut candidates: Vec<Candidate>, max: usize) -> Vec<JoinLink> {
    candidates.sort_by_key(|c| (c.source, c.service.tier, c.order));
    // Each kept link with the length of its identity (a prefix of its URI).
    let mut kept: Vec<(usize, JoinLink)> = Vec::with_capacity(candidates.len().min(max));
    for c in candidates {
        let id = identity(&c.uri);
        let same = kept
            .iter_mut()
            .find(|(len, k)| *len == id.len() && k.uri[..*len].eq_ignore_ascii_case(id));
        if let Some((_, link)) = same {
            if c.uri.len() > link.uri.len() {
                link.uri = c.uri;
            }
            continue;
        }
        if kept.len() < max {
            kept.push((
                id.len(),
                JoinLink {
                    uri: c.uri,
                    service: c.service.id.to_string(),
                    source: c.source,
                },
            ));
        }
    }
    kept.into_iter().map(|(_, link)| link).collect()
}

/// The link to join by: the best candidate that is a real meeting link; a
/// dial-in number or a stream only when there is nothing better.
pub fn choose(links: &[JoinLink]) -> Option<&JoinLink> {
    links
        .iter()
        .find(|l| service(&l.service).tier <= Tier::Meeting)
        .or_else(|| links.first())
}

/// True for Webex meeting links and Webex video addresses.
pub fn is_webex(link: &JoinLink) -> bool {
    link.service == "webex"
        || (link.service == "sip" && link.uri.to_ascii_lowercase().contains(".webex.com"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn character_references_are_found_where_contains_finds_them() {
        for text in [
            "",
            "&",
            "#",
            "&#",
            "#&",
            "a&b&#104;",
            "&&&&&&&&&#",
            "&amp; then &#x68;",
            "eight by&tes, &then# more&",
            "no references at all in a long line of text",
            "ends with &",
            "é&#233;",
        ] {
            assert_eq!(
                has_character_reference(text),
                text.contains("&#"),
                "{text:?}"
            );
        }
    }

    fn find(text: &str) -> Vec<String> {
        let fields = [Field::new(LinkSource::Description, text)];
        extract(&fields, &LinkOptions::default(), &CustomPatterns::new(&[]))
            .into_iter()
            .map(|l| l.uri)
            .collect()
    }

    #[test]
    fn hand_written_matchers_agree_with_their_patterns() {
        let samples = [
            "",
            "/",
            "/meet/alice",
            "/meet/",
            "/join/a.b@c",
            "/meet/alice?x=1",
            "/meet/al ice",
            "/acme/j.php?MTID=m123",
            "/acme/j.php?ED=1&MTID=m1",
            "/acme/j.php?MTID=",
            "/acme/meet/bob",
            "/acme/join/x?y",
            "/wbxmjs/joinservice/sites/a",
            "/webappng/sites/acme/meeting/download/1",
            "/j/123",
            "/my/alice",
            "/webinar/register/1",
            "/wc/join/1",
            "/abc/1",
            "/J/1",
            "/j/",
            "/abc-defg-hij",
            "/_meet/abc-defg-hij?x",
            "/lookup/team",
            "/new",
            "/a",
            "/Abc",
            "/abc-defg-hij/x",
            "/l/meetup-join/19%3ameeting",
            "/l/meetup-join/",
            "/meet/123?p=Ab1",
            "/meet/123?x=1&p=Ab1",
            "/meet/123",
            "/meet/12a?p=1",
            "/meet/channel?p=x",
            "/l/meeting/new",
            "/acme/j.php?MTID=m1&x=2",
            "/x-y/join/z",
            "/meet/a/b",
            "/webappng/sites//meeting/x",
            "/meet/123?p=",
            "/meet/123?xp=1",
            "/acme/j.php?XMTID=1",
            "/acme/j.php?a&MTID=1",
            "/a/b/meet/c",
            "/acme/meet/",
            "/wc/x",
        ];
        for (name, matcher, pattern) in HAND_WRITTEN {
            let regex = Regex::new(&format!("^(?:{pattern})$")).unwrap();
            for sample in samples {
                assert_eq!(
                    matcher(sample),
                    regex.is_match(sample),
                    "{name} on {sample:?}"
                );
            }
        }
    }

    #[test]
    fn every_rule_compiles() {
        assert_eq!(rules().all.len(), RULES.len());
        for (id, ..) in RULES {
            assert_eq!(service(id).id, *id, "rule for unknown service {id}");
        }
    }

    #[test]
    fn addresses_of_every_form() {
        let text = "Video: 8812345@acme.webex.com or sip:room@acme.webex.com;transport=tls, call tel:+1-555-0100. \
                    Web: https://acme.webex.com/acme/j.php?MTID=m1234 (backup https://zoom.us/j/99).";
        assert_eq!(
            find(text),
            [
                "sip:8812345@acme.webex.com",
                "sip:room@acme.webex.com;transport=tls",
                "https://acme.webex.com/acme/j.php?MTID=m1234",
                "https://zoom.us/j/99",
                "tel:+1-555-0100",
            ]
        );
    }

    #[test]
    fn wrapped_links_are_unwrapped() {
        let google = "https://www.google.com/url?q=https%3A%2F%2Facme.webex.com%2Fmeet%2Fbob&sa=D";
        assert_eq!(find(google), ["https://acme.webex.com/meet/bob"]);
        let encoded = "see https%3A%2F%2Fzoom.us%2Fj%2F42 now";
        assert_eq!(find(encoded), ["https://zoom.us/j/42"]);
        let html = r#"<a href="https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fmeet.google.com%2Fabc-defg-hij&amp;data=1">join</a>"#;
        assert_eq!(find(html), ["https://meet.google.com/abc-defg-hij"]);
    }

    #[test]
    fn mail_security_wrappers_are_reversed_where_they_can_be() {
        let v2 =
            "https://urldefense.proofpoint.com/v2/url?u=https-3A__zoom.us_j_1-3Fpwd-3Dx&d=a&e=";
        assert_eq!(unwrap(v2), "https://zoom.us/j/1?pwd=x");
        // v3: `*` is the next replaced character, `**A` a run of two.
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("?&&");
        let v3 = format!(
            "https://urldefense.com/v3/__https://zoom.us/j/1*pwd=x**Ab=2__;{bytes}!!ID!sig$"
        );
        assert_eq!(unwrap(&v3), "https://zoom.us/j/1?pwd=x&&b=2");
        // Too few replacements, a bad escape: left wrapped, never guessed.
        let short = "https://urldefense.com/v3/__https://zoom.us/j/1**B__;Pw!!ID$";
        assert_eq!(unwrap(short), short);
        let bad = "https://urldefense.proofpoint.com/v2/url?u=https-3A__zoom.us_j_1-ZZ";
        assert_eq!(unwrap(bad), bad);
        let cuda =
            "https://linkprotect.cudasvc.com/url?a=https%3a%2f%2fzoom.us%2fj%2f1&c=E,1,x&typo=1";
        assert_eq!(unwrap(cuda), "https://zoom.us/j/1");
        let mimecast = "https://protect-eu.mimecast.com/s/AbCd?domain=zoom.us";
        assert_eq!(unwrap(mimecast), mimecast);
    }

    #[test]
    fn e_mail_addresses_are_not_video_addresses() {
        assert!(find("write to bob@webex.com or bob@example.com").is_empty());
    }

    #[test]
    fn the_same_meeting_twice_is_one_link_the_fuller_one() {
        assert_eq!(
            find("https://zoom.us/j/1 and https://zoom.us/j/1?pwd=x"),
            ["https://zoom.us/j/1?pwd=x"]
        );
    }

    #[test]
    fn thousands_of_links_are_capped() {
        let text: String = (0..5000)
            .map(|i| format!("https://zoom.us/j/{i} "))
            .collect();
        assert_eq!(find(&text).len(), 50);
    }

    #[test]
    fn dial_in_is_chosen_only_without_a_meeting_link() {
        let links = [
            JoinLink {
                uri: "tel:+15550100".into(),
                service: "tel".into(),
                source: LinkSource::ConferenceData,
            },
            JoinLink {
                uri: "https://zoom.us/j/1".into(),
                service: "zoom".into(),
                source: LinkSource::Description,
            },
        ];
        assert_eq!(choose(&links).unwrap().service, "zoom");
        assert_eq!(choose(&links[..1]).unwrap().service, "tel");
    }
}
