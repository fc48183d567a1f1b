//! Writes the benchmark page and its request as JSON, so runtimes outside
//! Rust (the browser package's Node benchmark) measure the very same input:
//! `cargo run -p hcal-benches --example bench_page -- DIR` writes
//! `DIR/bench-page.json` and `DIR/bench-request.json`.
fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "target".into());
    let dir = std::path::Path::new(&dir);
    if let Err(error) = std::fs::create_dir_all(dir)
        .and_then(|()| {
            std::fs::write(
                dir.join("bench-page.json"),
                hcal_benches::realistic_page(250),
            )
        })
        .and_then(|()| {
            let request = serde_json::to_string_pretty(&hcal_benches::request())
                .map_err(std::io::Error::other)?;
            std::fs::write(dir.join("bench-request.json"), request)
        })
    {
        eprintln!("bench_page: cannot write to {}: {error}", dir.display());
        std::process::exit(1);
    }
}
