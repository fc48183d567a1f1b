fn main() {
    let page = hcal_benches::realistic_page(250);
    let request = hcal_benches::request();
    for _ in 0..200 {
        std::hint::black_box(hcal_core::process(&[page.as_str()], &request).unwrap());
    }
}
