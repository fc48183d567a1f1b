//! The runtime's promises: bounded memory and time, survival after a trap,
//! a cache that is used, pooled instances, and clear errors for a missing or
//! foreign component.

mod common;

use std::time::Duration;

use hcal::runtime::{CallError, LoadError, LoadKind, Runtime};

fn small_page() -> String {
    r#"{"items":[{"id":"a","summary":"Small","start":{"dateTime":"2026-12-01T09:00:00Z"},"end":{"dateTime":"2026-12-01T10:00:00Z"},"hangoutLink":"https://meet.google.com/abc-defg-hij"}]}"#.into()
}

/// The runtime still answers an ordinary call correctly.
fn serves_a_small_page(runtime: &Runtime) {
    let list = runtime
        .process(&[small_page()], &common::request())
        .expect("a small page is processed");
    assert_eq!(list.meetings.len(), 1);
}

fn event(id: usize, description: &str) -> serde_json::Value {
    serde_json::json!({
        "id": format!("e{id}"), "summary": format!("Meeting {id}"),
        "start": {"dateTime": "2026-12-01T09:00:00Z"}, "end": {"dateTime": "2026-12-01T10:00:00Z"},
        "description": description,
    })
}

fn page(events: Vec<serde_json::Value>) -> String {
    serde_json::json!({ "items": events }).to_string()
}

#[test]
fn the_memory_limit_is_enforced_and_the_runtime_survives() {
    let mut config = common::test_config();
    config.memory_limit_bytes = 8 << 20;
    let runtime = Runtime::new(config).unwrap();
    let huge = page(vec![event(1, &"x".repeat(12 << 20))]);
    match runtime.process(&[huge], &common::request()) {
        Err(CallError::MemoryLimit(limit)) => assert_eq!(limit, 8 << 20),
        other => panic!("expected the memory limit, got {other:?}"),
    }
    // A fresh instance serves the next call.
    serves_a_small_page(&runtime);
}

#[test]
fn an_instance_that_grew_is_not_kept() {
    let mut config = common::test_config();
    config.recycle_above_bytes = 16 << 20;
    let runtime = Runtime::new(config).unwrap();
    serves_a_small_page(&runtime);
    assert_eq!(runtime.idle_instances(), 1);
    // A 24 MB page grows the instance past the threshold: it serves its
    // call, then goes, and with it the memory it can never give back.
    let big = page(vec![event(1, &"x".repeat(24 << 20))]);
    assert_eq!(
        runtime
            .process(&[big], &common::request())
            .unwrap()
            .meetings
            .len(),
        1
    );
    assert_eq!(runtime.idle_instances(), 0);
    serves_a_small_page(&runtime);
    assert_eq!(runtime.idle_instances(), 1);
}

#[test]
fn the_deadline_is_enforced_and_the_runtime_survives() {
    let mut config = common::test_config();
    // Ten epoch ticks: the heavy call below takes far longer, the small one
    // after it far less (a one-tick deadline would catch any call a tick
    // happens to land in).
    config.deadline = Duration::from_millis(50);
    // Room enough that only the deadline can stop this call, however slowly
    // a loaded machine runs it.
    config.memory_limit_bytes = 2 << 30;
    let runtime = Runtime::new(config).unwrap();
    let description =
        "<p>Join https://zoom.us/j/123 or https://acme.webex.com/meet/bob</p>".repeat(40);
    let heavy = page((0..10_000).map(|i| event(i, &description)).collect());
    match runtime.process(&[heavy], &common::request()) {
        Err(e @ CallError::Deadline(_)) => assert!(e.is_trap()),
        other => panic!(
            "expected the deadline, got {:?}",
            other.map(|l| l.meetings.len())
        ),
    }
    serves_a_small_page(&runtime);
}

#[test]
fn instances_are_pooled_and_shared_between_threads() {
    let runtime = common::runtime();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..10 {
                    serves_a_small_page(runtime);
                }
            });
        }
    });
    assert!(runtime.idle_instances() >= 1);
    assert!(runtime.idle_instances() <= runtime.config().max_idle_instances);
}

#[test]
fn the_compiled_component_is_cached() {
    let dir = std::env::temp_dir().join(format!("hcal-cache-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut config = common::test_config();
    config.cache_dir = Some(dir.clone());
    let first = Runtime::new(config.clone()).unwrap();
    assert_eq!(first.load_report().0, LoadKind::Compiled);
    let second = Runtime::new(config.clone()).unwrap();
    assert_eq!(second.load_report().0, LoadKind::Cached);
    // A corrupt cache file is replaced, not trusted. (Replaced by rename, as
    // the runtime itself writes: the loaded code is memory-mapped.)
    drop((first, second));
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let tmp = path.with_extension("corrupt");
        std::fs::write(&tmp, b"not machine code").unwrap();
        std::fs::rename(&tmp, &path).unwrap();
    }
    let third = Runtime::new(config).unwrap();
    assert_eq!(third.load_report().0, LoadKind::Compiled);
    serves_a_small_page(&third);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_component_says_how_to_build_it() {
    let mut config = common::test_config();
    config.component = "/nonexistent/hcal_core.wasm".into();
    let error = Runtime::new(config)
        .err()
        .expect("no component, no runtime");
    assert!(matches!(error, LoadError::Missing { .. }));
    assert!(error.to_string().contains("make build"), "{error}");
}

#[test]
fn a_foreign_component_is_refused_clearly() {
    let dir = std::env::temp_dir().join(format!("hcal-foreign-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut config = common::test_config();
    config.cache_dir = None;

    config.component = dir.join("garbage.wasm");
    std::fs::write(&config.component, b"this is not wasm").unwrap();
    assert!(matches!(
        Runtime::new(config.clone()),
        Err(LoadError::Invalid { .. })
    ));

    // A valid, empty component: it exports no hcal:core processor.
    config.component = dir.join("empty.wasm");
    std::fs::write(
        &config.component,
        [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00],
    )
    .unwrap();
    match Runtime::new(config) {
        Err(e @ LoadError::WrongContract { .. }) => {
            assert!(e.to_string().contains(hcal::runtime::CONTRACT), "{e}")
        }
        other => panic!("expected WrongContract, got {:?}", other.err()),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn core_errors_are_typed_not_traps() {
    let runtime = common::runtime();
    let error = runtime
        .process(&["{not json".to_string()], &common::request())
        .unwrap_err();
    assert!(
        matches!(error, CallError::Core(_)) && !error.is_trap(),
        "{error}"
    );
    assert!(error.to_string().starts_with("malformed JSON"), "{error}");
}

/// The component's sealed values are exactly AES-256-GCM under the key, in
/// canonical base64url: the component encodes with WebAssembly SIMD, twelve
/// bytes at a time with a padded last group, so every length up to 300
/// bytes (each remainder after each number of whole groups) and some long
/// ones are opened here by `aes-gcm` natively, whose base64 decoder refuses
/// a stray bit in a last character.
#[test]
fn sealed_values_of_every_length_open_natively() {
    let runtime = Runtime::new(common::test_config()).unwrap();
    let key = hcal_core::model::OrgKey {
        key_url: "kms://kms.example.com/keys/lengths".into(),
        key: (0..32).collect(),
    };
    let lengths = (0..=300).chain([1_000, 4_097, 9_999, 10_000]);
    for len in lengths {
        // Printable ASCII; the ciphertext the encoder sees is random bytes.
        let text: String = (0..len)
            .map(|i| char::from_u32(0x20 + (i * 7 + len) as u32 % 0x5f).unwrap())
            .collect();
        let sealed = runtime.seal(&text, &key).unwrap();
        let opened = hcal_core::seal::open(&sealed, &key)
            .unwrap_or_else(|e| panic!("length {len}: {e}: {}", sealed.jwe));
        assert_eq!(opened, text, "length {len}");
    }
}
