//! Timing helpers shared by the benchmark binaries.

use std::time::Duration;

/// One warm-up run (page cache, template compilation, connection caches), then the
/// median of `runs` timed runs; the first failure stops the benchmark.
pub fn median(runs: usize, mut run: impl FnMut() -> Result<Duration, String>) -> Result<Duration, String> {
    run()?;
    let mut times = (0..runs).map(|_| run()).collect::<Result<Vec<_>, _>>()?;
    times.sort();
    Ok(times[runs / 2])
}

pub fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
