//! One tiny iteration of every benchmark case, so CI notices when the bench
//! no longer builds or runs (the numbers themselves are not checked: a
//! shared CI machine cannot promise them).
#[path = "../benches/suite/mod.rs"]
mod suite;

#[test]
fn every_bench_case_runs_once() {
    let started = std::time::Instant::now();
    let report = suite::run(&suite::Options::smoke());
    for case in [
        "1 kernel",
        "2 L16",
        "3 Opus",
        "4 vs AudioBridge",
        "6 codec floor",
        "7 ",
        "8 memory",
    ] {
        assert!(
            report.rows.iter().any(|r| r.case.starts_with(case)),
            "no result for {case}"
        );
    }
    assert!(report.results.len() >= 8);
    eprintln!("smoke run took {:?}", started.elapsed());
}
