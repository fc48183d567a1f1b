//! Runs the benchmark page natively in a loop, for `perf record` or a quick figure.
fn main() {
    let page = hcal_benches::realistic_page(250);
    let request = hcal_benches::request();
    let started = std::time::Instant::now();
    let rounds = 200;
    for _ in 0..rounds {
        std::hint::black_box(hcal_core::process(&[page.as_str()], &request).unwrap());
    }
    let per_round = started.elapsed() / rounds;
    eprintln!(
        "{per_round:?} per page, {:.0} events/s",
        250.0 / per_round.as_secs_f64()
    );
}
