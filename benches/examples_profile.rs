//! Runs the benchmark page natively in a loop, for `perf record` or a quick
//! figure; `HCAL_ROUNDS` (default 200) sets how many pages, so that
//! `valgrind --tool=callgrind` can count the instructions of a few.
fn main() {
    let page = hcal_benches::realistic_page(250);
    // HCAL_SEAL=1: seal the sensitive fields too, as the service stores them.
    let request = hcal_benches::request_from_env();
    let rounds = hcal_benches::count_from_env("HCAL_ROUNDS", 200);
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
