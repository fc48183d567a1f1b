//! Recurrence expansion, instances per second, side by side in one run: the
//! core in the component, the core natively, and the `rrule` crate natively
//! (the baseline the recurrence issue names). `make bench` prints the medians
//! and the component/`rrule` ratio per rule.

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hcal::runtime::{Runtime, RuntimeConfig, SeriesStart};
use hcal_core::event::EventTime;
use hcal_core::model::Window;

struct Case {
    name: &'static str,
    zone: &'static str,
    /// DTSTART, local, `YYYYMMDDTHHMMSS`.
    start: &'static str,
    rule: &'static str,
}

const CASES: &[Case] = &[
    Case {
        name: "weekly_mo_we_fr_10y_utc",
        zone: "UTC",
        start: "20200106T090000",
        rule: "FREQ=WEEKLY;BYDAY=MO,WE,FR;UNTIL=20300106T090000Z",
    },
    Case {
        name: "weekly_mo_we_fr_10y_new_york",
        zone: "America/New_York",
        start: "20200106T090000",
        rule: "FREQ=WEEKLY;BYDAY=MO,WE,FR;UNTIL=20300106T140000Z",
    },
    Case {
        name: "monthly_last_friday_1200_berlin",
        zone: "Europe/Berlin",
        start: "20200131T100000",
        rule: "FREQ=MONTHLY;BYDAY=-1FR;COUNT=1200",
    },
    Case {
        name: "daily_100000_new_york",
        zone: "America/New_York",
        start: "20200101T083000",
        rule: "FREQ=DAILY;COUNT=100000",
    },
    Case {
        name: "monthly_last_workday_1200_utc",
        zone: "UTC",
        start: "20200131T170000",
        rule: "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;COUNT=1200",
    },
];

/// Far enough for every case (100,000 days is 274 years).
const WINDOW_END: &str = "2400-01-01T00:00:00Z";
const MAX: u32 = 200_000;

fn rfc3339_local(basic: &str) -> String {
    format!(
        "{}-{}-{}T{}:{}:{}",
        &basic[0..4],
        &basic[4..6],
        &basic[6..8],
        &basic[9..11],
        &basic[11..13],
        &basic[13..15]
    )
}

fn event_time(case: &Case) -> EventTime {
    EventTime {
        date: None,
        date_time: Some(rfc3339_local(case.start)),
        time_zone: Some(case.zone.to_string()),
    }
}

fn window(case: &Case) -> Window {
    // From midnight UTC of DTSTART's day: every instance is in the window.
    Window {
        from: format!("{}T00:00:00Z", &rfc3339_local(case.start)[..10]),
        to: WINDOW_END.to_string(),
    }
}

fn rrule_set(case: &Case) -> rrule::RRuleSet {
    format!(
        "DTSTART;TZID={}:{}\nRRULE:{}",
        case.zone, case.start, case.rule
    )
    .parse()
    .expect("rrule parses the case")
}

fn benches(c: &mut Criterion) {
    let mut config = RuntimeConfig::new(hcal::runtime::default_component_path());
    config.cache_dir = Some(std::env::temp_dir().join("hcal-bench-cache"));
    let runtime = Runtime::new(config).expect("the core component loads (run `make guest`)");
    let mut group = c.benchmark_group("recurrence");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    for case in CASES {
        let lines = vec![format!("RRULE:{}", case.rule)];
        let start = event_time(case);
        let window = window(case);
        let native = hcal_core::expand_recurrence(&start, &lines, &window, MAX).unwrap();
        let baseline: Vec<_> = rrule_set(case).into_iter().take(MAX as usize).collect();
        // Same instants from all three, or the comparison means nothing. Up to
        // 2100 only: chrono-tz's transition table (under `rrule`) ends there
        // and drops DST afterwards, where jiff keeps applying the zone's rule.
        const Y2100: i64 = 4_102_444_800;
        let baseline_seconds: Vec<i64> = baseline
            .iter()
            .map(|d| d.timestamp())
            .filter(|s| *s < Y2100)
            .collect();
        let native_until_2100: Vec<i64> = native.iter().copied().filter(|s| *s < Y2100).collect();
        assert_eq!(
            native.len(),
            baseline.len(),
            "{}: hcal and rrule count differently",
            case.name
        );
        assert_eq!(
            native_until_2100, baseline_seconds,
            "{}: hcal and rrule disagree",
            case.name
        );
        let series_start = SeriesStart {
            date: None,
            date_time: start.date_time.clone(),
            time_zone: start.time_zone.clone(),
        };
        assert_eq!(
            runtime
                .expand_recurrence(&series_start, &lines, &window, MAX)
                .unwrap(),
            native
        );
        eprintln!("{}: {} instances", case.name, native.len());

        group.throughput(Throughput::Elements(native.len() as u64));
        group.bench_with_input(BenchmarkId::new("component", case.name), case, |b, _| {
            b.iter(|| {
                runtime
                    .expand_recurrence(&series_start, &lines, &window, MAX)
                    .unwrap()
            })
        });
        group.bench_with_input(BenchmarkId::new("native", case.name), case, |b, _| {
            b.iter(|| hcal_core::expand_recurrence(&start, &lines, &window, MAX).unwrap())
        });
        let set = rrule_set(case);
        group.bench_with_input(BenchmarkId::new("rrule_crate", case.name), case, |b, _| {
            b.iter(|| set.clone().into_iter().take(MAX as usize).count())
        });
    }
    group.finish();
}

criterion_group!(recurrence, benches);
criterion_main!(recurrence);
