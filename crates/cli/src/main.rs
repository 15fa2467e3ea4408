//! The `cang` binary: one subcommand per service (`kms`, `meta`, `gateway`), a single-node stack for a
//! laptop (`up`), and the operator's client (`admin`).

mod cmd;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// Cang: an OSS-compatible object store that encrypts every object server-side.
#[derive(Debug, Parser)]
#[command(name = "cang", version, about, propagate_version = true)]
struct Cli {
    /// File of CANG_NAME=value lines supplying flag defaults (environment and flags still win).
    #[arg(long, env = "CANG_CONFIG", global = true)]
    config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the crypto service (master keys, data keys, rotation, BYOK, audit).
    Kms(cmd::kms::KmsArgs),
    /// Run the metadata/blob service.
    Meta(cmd::meta::MetaArgs),
    /// Run the OSS REST gateway.
    Gateway(cmd::gateway::GatewayArgs),
    /// Run kms, meta and gateway on loopback from one data directory (first start provisions everything).
    Up(cmd::up::UpArgs),
    /// Manage accounts, users, access keys, policies and CMKs of a running instance.
    Admin(cmd::admin::AdminArgs),
    /// Measure throughput, latency, KMS calls, memory and disk use against this machine's ceiling.
    Bench(cmd::bench::BenchArgs),
}

/// Parses the command line, with defaults from the configuration file if one is named.
fn parse() -> Result<Cli, String> {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let command = cmd::config_file::apply(Cli::command(), &argv).map_err(|e| format!("{e:#}"))?;
    let matches = command.get_matches_from(argv);
    Cli::from_arg_matches(&matches).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    cang_tls::install_crypto_provider();
    let cli = match parse() {
        Ok(cli) => cli,
        Err(e) => {
            eprintln!("cang: error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (name, result) = match cli.command {
        Command::Kms(args) => ("kms", cmd::kms::main(args)),
        Command::Meta(args) => ("meta", cmd::meta::main(args)),
        Command::Gateway(args) => ("gateway", cmd::gateway::main(args)),
        Command::Up(args) => ("up", cmd::up::main(args)),
        Command::Admin(args) => ("admin", cmd::admin::main(args)),
        Command::Bench(args) => ("bench", cmd::bench::main(args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, the whole cause chain, no backtrace: what an operator needs to fix it.
            eprintln!("cang {name}: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
