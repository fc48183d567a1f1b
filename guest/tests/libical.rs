//! libical's RRULE suite (`../shared/conformance/libical/icalrecur_test.txt`,
//! 146 cases nobody on this project wrote) through the recurrence engine.
//! Times are floating, compared as written. Each case also runs from its
//! `START-AT` (or from the middle of its instances), as a window would, and
//! must then yield exactly the instances from there on.
//!
//! Differences from libical are listed in `DIFFERENCES` with their reason;
//! one kind is systematic: a DTSTART that does not match the rule is still
//! the first instance (RFC 5545 §3.8.5.3, and Google), where libical drops it.

use hcal_core::recurrence::{Civil, Rule};

struct Case {
    line: usize,
    date_only: bool,
    /// libical has no answer for this case ("UNIMPLEMENTED").
    unanswered: bool,
    comment: String,
    rule: String,
    start: Civil,
    start_at: Option<Civil>,
    instances: Vec<Civil>,
}

/// Cases (by RRULE text) where hcal deliberately differs, and why.
const DIFFERENCES: &[(&str, &str)] = &[
    (
        "FREQ=YEARLY;BYWEEKNO=53;INTERVAL=6;BYDAY=TH;COUNT=1",
        "DTSTART (2027-01-03) lies in week 53 of 2026. With BYWEEKNO hcal counts INTERVAL from the \
         week-numbering year DTSTART lies in, always; libical does so when DTSTART matches the rule \
         (its own cases at lines 725 and 740) but counts from the calendar year when it does not, as here.",
    ),
    (
        "FREQ=YEARLY;BYWEEKNO=53;INTERVAL=5;BYDAY=TH;COUNT=1",
        "As above: hcal's candidate years are 2026, 2031, 2036, ... and the first with a week-53 \
         Thursday after DTSTART is 2071; libical's are 2027, 2032, ..., giving 2032.",
    ),
];

fn parse_civil(text: &str) -> Civil {
    Civil::parse_basic(text.trim().trim_end_matches('Z'))
        .unwrap_or_else(|| panic!("bad time {text:?}"))
}

fn cases() -> Vec<Case> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/conformance/libical/icalrecur_test.txt"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut cases = Vec::new();
    let mut comment = String::new();
    let mut current: Option<Case> = None;
    for (index, line) in text.lines().enumerate() {
        if let Some(c) = line.strip_prefix('#') {
            comment = c.trim().to_string();
        } else if let Some(rule) = line.strip_prefix("RRULE:") {
            current = Some(Case {
                line: index + 1,
                date_only: false,
                unanswered: false,
                comment: comment.clone(),
                rule: rule.to_string(),
                start: Civil { day: 0, second: 0 },
                start_at: None,
                instances: vec![],
            });
        } else if let Some(start) = line.strip_prefix("DTSTART:") {
            let case = current.as_mut().unwrap();
            case.start = parse_civil(start);
            case.date_only = start.trim().len() == 8;
        } else if let Some(at) = line.strip_prefix("START-AT:") {
            current.as_mut().unwrap().start_at = Some(parse_civil(at));
        } else if let Some(list) = line.strip_prefix("INSTANCES:") {
            let mut case = current.take().unwrap();
            if list.contains("UNIMPLEMENTED") {
                case.unanswered = true;
            } else {
                case.instances = list
                    .split(',')
                    .filter(|s| !s.trim().is_empty())
                    .map(parse_civil)
                    .collect();
            }
            cases.push(case);
        }
    }
    cases
}

fn show(list: &[Civil]) -> String {
    list.iter().map(Civil::basic).collect::<Vec<_>>().join(",")
}

#[test]
fn libical_rrule_suite() {
    let cases = cases();
    assert_eq!(cases.len(), 146, "the suite has 146 cases");
    let horizon = Civil::new(2200, 1, 1, 0);
    let mut failures = Vec::new();
    let mut start_kept = 0;
    let mut unanswered = 0;
    for case in &cases {
        let rule: Rule = match case.rule.parse::<Rule>() {
            Ok(rule) if case.date_only => rule.for_dates(),
            Ok(rule) => rule,
            Err(e) => {
                failures.push(format!(
                    "line {}: {} — does not parse: {e}",
                    case.line, case.rule
                ));
                continue;
            }
        };
        if case.unanswered {
            // Still expanded, to show it does not fail or hang.
            assert!(rule.expand(case.start, None, horizon, 100).is_ok());
            unanswered += 1;
            continue;
        }
        let limit = case.instances.len().max(1) + 5;
        let mut got = rule.expand(case.start, None, horizon, limit).unwrap();
        if got.len() > case.instances.len() && case.instances.len() < limit - 5 {
            // The expected list may be a prefix (libical prints a bounded number).
            got.truncate(
                case.instances
                    .len()
                    .max(got.len().min(case.instances.len() + 1)),
            );
        }
        // RFC 5545 / Google: an unmatched DTSTART is still the first instance.
        if got.first() == Some(&case.start) && case.instances.first() != Some(&case.start) {
            got.remove(0);
            start_kept += 1;
        }
        got.truncate(
            case.instances
                .len()
                .max(if case.instances.is_empty() { 0 } else { 1 }),
        );
        let listed = DIFFERENCES.iter().find(|(r, _)| *r == case.rule);
        if got != case.instances && listed.is_none() {
            failures.push(format!(
                "line {}: {} ({})\n  DTSTART {}\n  expected {}\n  got      {}",
                case.line,
                case.rule,
                case.comment,
                case.start.basic(),
                show(&case.instances),
                show(&got)
            ));
            continue;
        }
        // From the middle: a window that starts at START-AT, or halfway through.
        if rule.count.is_none() && !case.instances.is_empty() {
            let skip = case
                .start_at
                .unwrap_or(case.instances[case.instances.len() / 2]);
            let expected: Vec<Civil> = case
                .instances
                .iter()
                .copied()
                .filter(|c| *c >= skip)
                .collect();
            let mut windowed = rule
                .expand(case.start, Some(skip), horizon, expected.len().max(1) + 1)
                .unwrap();
            windowed.retain(|c| *c >= skip);
            windowed.truncate(expected.len());
            if windowed != expected {
                failures.push(format!(
                    "line {}: {} from {}\n  expected {}\n  got      {}",
                    case.line,
                    case.rule,
                    skip.basic(),
                    show(&expected),
                    show(&windowed)
                ));
            }
        }
    }
    let differing = cases
        .iter()
        .filter(|c| DIFFERENCES.iter().any(|(r, _)| *r == c.rule))
        .count();
    assert_eq!(
        differing,
        DIFFERENCES.len(),
        "every listed difference names a case"
    );
    eprintln!(
        "libical: {} cases, {} failing, {unanswered} without an answer from libical, {start_kept} with an unmatched DTSTART kept as the first instance",
        cases.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} libical cases fail:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
