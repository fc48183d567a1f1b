//! Sealed values: arbitrary text as a compact JWE under the right key URL
//! must fail to open with a typed error (only the key's holder can make one
//! that opens, and the seed corpus holds none made with this key), never
//! panic; and the input's lines sealed in one batch open to exactly
//! themselves.
#![no_main]

use hcal_core::CoreError;
use hcal_core::model::{OrgKey, Sealed};
use hcal_core::seal::Sealer;
use libfuzzer_sys::fuzz_target;

const KEY_URL: &str = "kms://kms.example.com/keys/fuzz";

fn key() -> OrgKey {
    OrgKey {
        key_url: KEY_URL.into(),
        key: (0u8..32).map(|b| b.wrapping_mul(37) ^ 0x5a).collect(),
    }
}

fuzz_target!(|data: &[u8]| {
    let sealer = Sealer::new(&key()).expect("a good key");
    let text = String::from_utf8_lossy(data);

    let forged = Sealed {
        jwe: text.trim().to_string(),
        key_url: KEY_URL.into(),
    };
    match sealer.open(&forged) {
        Err(CoreError::OpenFailed(_)) => {}
        other => panic!("a value nobody sealed opened: {other:?}"),
    }
    // Under another key URL, whatever it holds.
    let elsewhere = Sealed {
        key_url: "kms://elsewhere/keys/1".into(),
        ..forged
    };
    assert!(matches!(
        sealer.open(&elsewhere),
        Err(CoreError::OpenFailed(_))
    ));

    // Round trip: each line sealed (in one batch, and the first one alone),
    // then opened.
    let lines: Vec<&str> = text.split('\n').collect();
    let sealed = sealer.seal_many(&lines).expect("sealing never fails");
    assert_eq!(sealed.len(), lines.len());
    for (value, line) in sealed.iter().zip(&lines) {
        assert_eq!(sealer.open(value).expect("what was sealed opens"), *line);
    }
    let one = hcal_core::seal::seal(&text, &key()).expect("sealing never fails");
    assert_eq!(hcal_core::seal::open(&one, &key()).expect("opens"), text);
});
