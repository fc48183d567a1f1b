//! Runs the benchmark page through the component in a loop, for `perf record`
//! (`HCAL_PERFMAP=1`) or a quick events/s figure. `HCAL_ROUNDS=1 HCAL_BATCHES=1`
//! under `valgrind --tool=callgrind` counts the instructions of a page, which
//! a shared machine's noise does not move.
fn main() {
    let page = vec![hcal_benches::realistic_page(250)];
    // HCAL_SEAL=1: seal the sensitive fields too, as the service stores them.
    let request = hcal_benches::request_from_env();
    let mut config = hcal::runtime::RuntimeConfig::new(hcal::runtime::default_component_path());
    config.cache_dir = Some(std::env::temp_dir().join("hcal-bench-cache"));
    let runtime = hcal::runtime::Runtime::new(config).unwrap();
    runtime.process(&page, &request).unwrap();
    // The best of five batches: the machine is shared, noise only adds.
    let rounds = hcal_benches::count_from_env("HCAL_ROUNDS", 100);
    let per_round = (0..hcal_benches::count_from_env("HCAL_BATCHES", 5))
        .map(|_| {
            let started = std::time::Instant::now();
            for _ in 0..rounds {
                std::hint::black_box(runtime.process(&page, &request).unwrap());
            }
            started.elapsed() / rounds
        })
        .min()
        .unwrap();
    eprintln!(
        "{per_round:?} per page, {:.0} events/s",
        250.0 / per_round.as_secs_f64()
    );
}
