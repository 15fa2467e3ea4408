//! CPU seconds each process spends per GiB a phase moves: `utime + stime` from `/proc/<pid>/stat` before and
//! after the phase (Linux reports them in USER_HZ, 100 ticks a second), for the gateway, meta, kms and the
//! load generator itself.

use serde::Serialize;

const TICKS_PER_SECOND: f64 = 100.0;
const GIB: f64 = (1u64 << 30) as f64;

/// The processes a phase is charged to.
#[derive(Debug, Clone, Default)]
pub struct CpuMeter {
    procs: Vec<(&'static str, u32)>,
}

/// Ticks of each process at the start of a phase.
#[derive(Debug, Clone)]
pub struct Mark(Vec<Option<u64>>);

/// One process's CPU time over a phase.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessCpu {
    /// `gateway`, `meta`, `kms` or `client`.
    pub process: &'static str,
    /// CPU seconds per GiB moved.
    pub seconds_per_gib: f64,
}

impl CpuMeter {
    /// Meters `procs` and the load generator itself.
    pub fn new(mut procs: Vec<(&'static str, u32)>) -> Self {
        procs.push(("client", std::process::id()));
        Self { procs }
    }

    /// The same processes with the gateway replaced (a second gateway on the same services).
    pub fn with_gateway(&self, pid: Option<u32>) -> Self {
        let mut procs: Vec<_> = self
            .procs
            .iter()
            .copied()
            .filter(|(name, _)| *name != "gateway")
            .collect();
        if let Some(pid) = pid {
            procs.insert(0, ("gateway", pid));
        }
        Self { procs }
    }

    /// Reads every process's ticks now.
    pub fn mark(&self) -> Mark {
        Mark(self.procs.iter().map(|(_, pid)| ticks(*pid)).collect())
    }

    /// CPU seconds per GiB since `mark` for `bytes` moved; processes that could not be read are left out.
    pub fn since(&self, mark: &Mark, bytes: u64) -> Vec<ProcessCpu> {
        if bytes == 0 {
            return Vec::new();
        }
        let gib = bytes as f64 / GIB;
        self.procs
            .iter()
            .zip(&mark.0)
            .filter_map(|((process, pid), before)| {
                let spent = ticks(*pid)?.checked_sub((*before)?)?;
                Some(ProcessCpu {
                    process,
                    seconds_per_gib: spent as f64 / TICKS_PER_SECOND / gib,
                })
            })
            .collect()
    }
}

/// `utime + stime` of a process, in ticks.
fn ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_ticks(&stat)
}

/// Fields 14 and 15 of a stat line; the command name (field 2) may hold spaces and parentheses, so the fields
/// are counted from its closing parenthesis.
fn parse_ticks(stat: &str) -> Option<u64> {
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    utime.checked_add(stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_names_parse() {
        let line = "4242 (cang (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 1234 567 0 0 20 0 9 0 100 0 0";
        assert_eq!(parse_ticks(line), Some(1234 + 567));
        assert_eq!(parse_ticks("garbage"), None);
        assert_eq!(parse_ticks("1 (a) S 1 2"), None);
    }

    #[test]
    fn this_process_is_metered() {
        let meter = CpuMeter::new(Vec::new());
        let mark = meter.mark();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let used = meter.since(&mark, 1 << 30);
        assert_eq!(used.len(), 1);
        assert_eq!(used[0].process, "client");
        assert!(used[0].seconds_per_gib >= 0.0);
        assert!(meter.since(&mark, 0).is_empty());
    }
}
