fn main() {
    let page = vec![hcal_benches::realistic_page(250)];
    let request = hcal_benches::request();
    let mut config = hcal::runtime::RuntimeConfig::new(hcal::runtime::default_component_path());
    config.cache_dir = Some(std::env::temp_dir().join("hcal-bench-cache"));
    let runtime = hcal::runtime::Runtime::new(config).unwrap();
    for _ in 0..100 {
        std::hint::black_box(runtime.process(&page, &request).unwrap());
    }
}
