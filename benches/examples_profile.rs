//! Runs the benchmark page natively in a loop, for `perf record` or a quick
//! figure; `HCAL_ROUNDS` (default 200) sets how many pages, so that
//! `valgrind --tool=callgrind` can count the instructions of a few.
fn main() {
    let page = hcal_benches::realistic_page(250);
    let mut request = hcal_benches::request();
    // HCAL_SEAL=1: seal the sensitive fields too, as the service stores them.
    if std::env::var_os("HCAL_SEAL").is_some() {
        request.seal_with = Some(hcal_core::model::OrgKey {
            key_url: "kms://bench/keys/1".into(),
            key: vec![7; 32],
        });
    }
    let rounds: u32 = std::env::var("HCAL_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
        .max(1);
    let started = std::time::Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(hcal_core::process(&[page.as_str()], &request).unwrap());
    }
    let per_round = started.elapsed() / rounds;
    eprintln!(
        "{per_round:?} per page, {:.0} events/s",
        250.0 / per_round.as_secs_f64()
    );
}
