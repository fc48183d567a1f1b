//! The presence precedence on the cases of `fixtures/presence/`: the Gmail
//! responder and Calendar's out-of-office, focus-time and working-location
//! blocks at one moment, and the presence hcal derives from them.
//! `HCAL_BLESS=1 cargo test -p hcal --test presence` writes each `expected`.

mod common;

use hcal::presence::{Responder, derive};
use hcal_core::model::PresenceBlock;
use serde_json::Value;

#[test]
fn every_presence_case_derives_its_expected_presence() {
    let dir = common::workspace().join("fixtures/presence");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "{} cases", files.len());
    let bless = std::env::var_os("HCAL_BLESS").is_some();
    let mut failures = Vec::new();
    for file in &files {
        let mut case: Value =
            serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        let now: jiff::Timestamp = case["now"].as_str().unwrap().parse().unwrap();
        let responder: Option<Responder> =
            serde_json::from_value(case["responder"].clone()).unwrap();
        let blocks: Vec<PresenceBlock> = serde_json::from_value(case["blocks"].clone()).unwrap();
        let user = case["user"].as_str().unwrap().to_string();
        let got = serde_json::to_value(derive(
            &user,
            now.as_millisecond(),
            responder.as_ref(),
            &blocks,
        ))
        .unwrap();
        if bless {
            case["expected"] = got;
            std::fs::write(file, serde_json::to_string_pretty(&case).unwrap() + "\n").unwrap();
        } else if case["expected"] != got {
            failures.push(format!(
                "{}:\n--- expected\n{:#}\n--- derived\n{got:#}",
                file.display(),
                case["expected"]
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
