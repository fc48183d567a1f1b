//! The core, in the component and natively, side by side.
//!
//! - `process_page/{component,native}`: the batch call on a realistic page of
//!   250 events (throughput in events/s; the ratio is component/native time).
//! - `empty_batch/component`: the cost of one boundary crossing.
//! - `start/{cold,warm}`: a runtime compiling the component, and loading it
//!   from the on-disk cache.
//!
//! Component size and the guest's peak linear memory are printed before the
//! measurements. `make bench` runs this and prints the medians and ratios.

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hcal::runtime::{Runtime, RuntimeConfig};

const EVENTS: usize = 250;

fn config(cache: bool) -> RuntimeConfig {
    let mut config = RuntimeConfig::new(hcal::runtime::default_component_path());
    config.cache_dir = cache.then(|| std::env::temp_dir().join("hcal-bench-cache"));
    config
}

fn report_sizes(runtime: &Runtime, page: &str) {
    let path = &runtime.config().component;
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let before = runtime.peak_memory_bytes();
    runtime
        .process(&[page.to_string()], &hcal_benches::request())
        .expect("the benchmark page processes");
    eprintln!(
        "component: {size} bytes ({}); guest peak linear memory for the {EVENTS}-event page: {} KiB (before it: {} KiB); page: {} KiB",
        path.display(),
        runtime.peak_memory_bytes() >> 10,
        before >> 10,
        page.len() >> 10,
    );
}

fn benches(c: &mut Criterion) {
    let page = hcal_benches::realistic_page(EVENTS);
    let request = hcal_benches::request();
    let runtime = Runtime::new(config(true)).expect("the core component loads (run `make guest`)");
    report_sizes(&runtime, &page);

    let pages = vec![page.clone()];
    let mut group = c.benchmark_group("process_page");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.bench_function("component", |b| {
        b.iter(|| runtime.process(&pages, &request).unwrap())
    });
    group.bench_function("native", |b| {
        b.iter(|| hcal_core::process(&[page.as_str()], &request).unwrap())
    });
    group.finish();

    // As the service stores it: title, location, agenda and e-mails sealed.
    let mut sealed = request.clone();
    sealed.seal_with = Some(hcal_benches::seal_key());
    let mut group = c.benchmark_group("process_page_sealed");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.sample_size(30);
    group.bench_function("component", |b| {
        b.iter(|| runtime.process(&pages, &sealed).unwrap())
    });
    group.bench_function("native", |b| {
        b.iter(|| hcal_core::process(&[page.as_str()], &sealed).unwrap())
    });
    group.finish();

    let empty = vec![r#"{"items":[]}"#.to_string()];
    c.benchmark_group("empty_batch")
        .bench_function("component", |b| {
            b.iter(|| runtime.process(&empty, &request).unwrap())
        });

    let mut group = c.benchmark_group("start");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("cold", |b| b.iter(|| Runtime::new(config(false)).unwrap()));
    group.bench_function("warm", |b| b.iter(|| Runtime::new(config(true)).unwrap()));
    group.finish();
}

criterion_group! {
    name = core;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(6)).warm_up_time(Duration::from_secs(2));
    targets = benches
}
criterion_main!(core);
