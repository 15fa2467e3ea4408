//! Flags of `cang bench` and the two size profiles (`--quick` for the smoke check, the default for
//! the numbers in the docs).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

/// Flags of `cang bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Only the crypto-service benchmark.
    #[command(subcommand)]
    pub command: Option<BenchCommand>,
    /// OSS endpoint of a running instance (default: start `cang up` in a temporary directory).
    #[arg(long, requires = "credentials")]
    pub endpoint: Option<String>,
    /// credentials.env of the running instance (OSS_ENDPOINT, OSS_ACCESS_KEY_ID, OSS_ACCESS_KEY_SECRET).
    #[arg(long)]
    pub credentials: Option<PathBuf>,
    /// Data directory of a running `cang up` instance: credentials, KMS audit, disk use and the
    /// gateway's memory are read from it.
    #[arg(long, conflicts_with_all = ["endpoint", "credentials"])]
    pub data_dir: Option<PathBuf>,
    /// Small sizes and short phases: the whole run in well under two minutes.
    #[arg(long, global = true)]
    pub quick: bool,
    /// Seconds per timed phase (default: 5, or 0.4 with --quick).
    #[arg(long, global = true)]
    pub duration: Option<f64>,
    /// Large-object size, MiB (default: 256, or 4 with --quick).
    #[arg(long)]
    pub large_mib: Option<u64>,
    /// Size of the big object sent up and back for the memory and range measurements, MiB
    /// (default: 4096, or 16 with --quick).
    #[arg(long)]
    pub big_mib: Option<u64>,
    /// Parallel streams of the multi-stream large-object phases.
    #[arg(long, default_value_t = 4)]
    pub streams: usize,
    /// Write the results as JSON here.
    #[arg(long, global = true)]
    pub json: Option<PathBuf>,
    /// Write an SVG bar chart of large-object throughput here.
    #[arg(long, global = true)]
    pub svg: Option<PathBuf>,
}

/// Subcommands of `cang bench`.
#[derive(Debug, Clone, Subcommand)]
pub enum BenchCommand {
    /// GenerateDataKey and Decrypt rates and latencies over loopback mTLS at 1, 8 and 64 callers.
    Kms {
        /// Use the crypto service of this running `cang up` instance instead of an in-process one.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Rewrap rate over many small objects after a rotation, and encrypt-existing throughput of a large object
    /// beside a plain PUT of it, against a fresh `cang up`.
    Jobs {
        /// Small objects to rewrap (default: 100000, or 500 with --quick).
        #[arg(long)]
        objects: Option<u64>,
        /// The large object encrypted in place, MiB (default: 1024, or 16 with --quick).
        #[arg(long)]
        object_mib: Option<u64>,
    },
}

/// Sizes and durations of one run.
#[derive(Debug, Clone)]
pub struct Profile {
    /// `quick` or `full`.
    pub name: &'static str,
    /// Per-phase duration.
    pub duration: Duration,
    /// Large-object size, bytes.
    pub large_size: u64,
    /// Streams of the parallel phases.
    pub streams: usize,
    /// The big object, bytes.
    pub big_size: u64,
    /// Object sizes of the range measurement below the big object.
    pub range_objects: Vec<u64>,
    /// Range lengths.
    pub range_lens: Vec<u64>,
    /// Most requests per range cell.
    pub range_requests: usize,
    /// Concurrent small-object clients.
    pub small_clients: Vec<usize>,
    /// Rounds of the interleaved small-object comparison.
    pub interleave_rounds: usize,
    /// One mode's slice in each round.
    pub interleave_slice: Duration,
    /// Concurrent KMS callers.
    pub kms_callers: Vec<usize>,
    /// Bytes run through each ceiling stage.
    pub ceiling_bytes: u64,
    /// Size of the pre-generated random buffer.
    pub buffer: usize,
}

const MIB: u64 = 1 << 20;

impl Profile {
    /// The profile the flags ask for.
    pub fn from_args(args: &BenchArgs) -> Result<Self, crate::BenchError> {
        let quick = args.quick;
        let duration = args.duration.unwrap_or(if quick { 0.4 } else { 5.0 });
        if !(duration.is_finite() && duration > 0.0 && duration <= 3600.0) {
            return Err(crate::BenchError::Usage(
                "--duration must be in (0, 3600] seconds".into(),
            ));
        }
        let large_size = args.large_mib.unwrap_or(if quick { 4 } else { 256 }) * MIB;
        let big_size = args.big_mib.unwrap_or(if quick { 16 } else { 4096 }) * MIB;
        if large_size == 0 || big_size < 2 * MIB || args.streams == 0 {
            return Err(crate::BenchError::Usage(
                "--large-mib and --streams must be positive, --big-mib at least 2".into(),
            ));
        }
        Ok(Self {
            name: if quick { "quick" } else { "full" },
            duration: Duration::from_secs_f64(duration),
            large_size,
            streams: args.streams,
            big_size,
            range_objects: if quick {
                vec![MIB, 16 * MIB]
            } else {
                vec![MIB, 64 * MIB, 1024 * MIB]
            }
            .into_iter()
            .filter(|&s| s < big_size)
            .collect(),
            range_lens: vec![1, 64 << 10, MIB],
            range_requests: if quick { 20 } else { 2000 },
            small_clients: vec![1, 16, 64],
            interleave_rounds: if quick { 2 } else { 5 },
            // Long enough for a few hundred small requests even at 64 clients.
            interleave_slice: Duration::from_secs_f64((duration / 5.0).clamp(0.15, 2.0)),
            kms_callers: vec![1, 8, 64],
            ceiling_bytes: if quick { 16 * MIB } else { 1024 * MIB },
            buffer: if quick { 4 << 20 } else { 16 << 20 },
        })
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        bench: BenchArgs,
    }

    #[test]
    fn quick_profile_is_small_and_full_is_the_issue_sizes() -> Result<(), crate::BenchError> {
        let quick = Profile::from_args(&Cli::parse_from(["cang", "--quick"]).bench)?;
        assert_eq!(quick.large_size, 4 * MIB);
        assert!(quick.range_objects.iter().all(|&s| s < quick.big_size));
        let full = Profile::from_args(&Cli::parse_from(["cang"]).bench)?;
        assert_eq!(full.big_size, 4096 * MIB);
        assert_eq!(full.small_clients, vec![1, 16, 64]);
        assert!(Profile::from_args(&Cli::parse_from(["cang", "--duration", "0"]).bench).is_err());
        Ok(())
    }

    #[test]
    fn endpoint_needs_credentials_and_excludes_a_data_dir() {
        assert!(Cli::try_parse_from(["cang", "--endpoint", "http://x"]).is_err());
        assert!(Cli::try_parse_from(["cang", "--data-dir", "d", "--credentials", "c"]).is_err());
        assert!(Cli::try_parse_from(["cang", "--endpoint", "http://x", "--credentials", "c"]).is_ok());
    }
}
