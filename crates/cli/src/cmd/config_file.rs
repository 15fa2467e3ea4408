//! `--config FILE` (or `CANG_CONFIG`): a file of `CANG_NAME=value` lines, using the names of the
//! environment variables, whose values become the defaults of the matching flags. The environment and the
//! command line still win, so one file can carry a deployment's settings and a flag can override one.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Arg, Command};

/// The environment variable naming the configuration file.
pub const CONFIG_ENV: &str = "CANG_CONFIG";

/// `command` with the defaults from the configuration file named on `argv` or by `CANG_CONFIG`, if any.
pub fn apply(command: Command, argv: &[OsString]) -> anyhow::Result<Command> {
    let Some(path) = config_path(argv).or_else(|| std::env::var_os(CONFIG_ENV).map(PathBuf::from)) else {
        return Ok(command);
    };
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    with_settings(command, &path, &text)
}

/// `command` with the defaults in `text` (read from `path`, named in errors).
pub fn with_settings(command: Command, path: &Path, text: &str) -> anyhow::Result<Command> {
    let settings = parse(text).with_context(|| format!("in {}", path.display()))?;
    let mut known = HashSet::new();
    collect_env_names(&command, &mut known);
    if let Some(unknown) = settings.keys().find(|k| !known.contains(k.as_str())) {
        bail!("{}: unknown setting {unknown}", path.display());
    }
    Ok(command.mut_subcommands(|sub| sub.mut_args(|arg| with_default(arg, &settings))))
}

fn with_default(arg: Arg, settings: &HashMap<String, String>) -> Arg {
    let value = arg
        .get_env()
        .and_then(|name| name.to_str())
        .and_then(|name| settings.get(name));
    match value {
        // A required flag is satisfied by the file.
        Some(value) => arg.default_value(value.clone()).required(false),
        None => arg,
    }
}

fn collect_env_names(command: &Command, names: &mut HashSet<String>) {
    for arg in command.get_arguments() {
        if let Some(name) = arg.get_env().and_then(|n| n.to_str()) {
            names.insert(name.to_owned());
        }
    }
    for sub in command.get_subcommands() {
        collect_env_names(sub, names);
    }
}

/// The value of `--config PATH` or `--config=PATH` on the command line.
fn config_path(argv: &[OsString]) -> Option<PathBuf> {
    let mut args = argv.iter();
    while let Some(arg) = args.next() {
        if arg == "--" {
            return None;
        }
        if arg == "--config" {
            return args.next().map(PathBuf::from);
        }
        if let Some(value) = arg.to_str().and_then(|a| a.strip_prefix("--config=")) {
            return Some(PathBuf::from(value));
        }
    }
    None
}

/// Parses `CANG_NAME=value` lines; blank lines and `#` comments are skipped, an `export ` prefix and
/// matching quotes around the value are accepted.
fn parse(text: &str) -> anyhow::Result<HashMap<String, String>> {
    let mut settings = HashMap::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            bail!("line {}: expected CANG_NAME=value", number + 1);
        };
        let key = key.trim();
        if !key.starts_with("CANG_") || key == CONFIG_ENV {
            bail!(
                "line {}: {key} is not a setting (names start with CANG_)",
                number + 1
            );
        }
        let value = value.trim();
        let value = ['"', '\'']
            .iter()
            .find_map(|q| value.strip_prefix(*q).and_then(|v| v.strip_suffix(*q)))
            .unwrap_or(value);
        if settings.insert(key.to_owned(), value.to_owned()).is_some() {
            bail!("line {}: {key} is set twice", number + 1);
        }
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, FromArgMatches};

    fn gateway(text: &str, argv: &[&str]) -> anyhow::Result<crate::cmd::gateway::GatewayArgs> {
        let command = with_settings(crate::Cli::command(), Path::new("test.env"), text)?;
        let matches = command.try_get_matches_from(argv)?;
        match crate::Cli::from_arg_matches(&matches)?.command {
            crate::Command::Gateway(args) => Ok(args),
            other => bail!("parsed {other:?}"),
        }
    }

    #[test]
    fn file_values_fill_flags_and_the_command_line_wins() -> anyhow::Result<()> {
        let text = "# gateway\nCANG_KMS_ENDPOINT=kms:9100\nexport CANG_META_ENDPOINT=\"meta:9200\"\n\
                    CANG_BASE_DOMAINS=a.example,b.example\nCANG_BUCKET_KEYS_FOR_KMS=true\n\
                    CANG_ROOT_KEY_FILE=/only/for/kms\n";
        let args = gateway(text, &["cang", "gateway"])?;
        assert_eq!(
            args.kms_endpoint, "kms:9100",
            "a required flag is satisfied by the file"
        );
        assert_eq!(args.meta_endpoint, "meta:9200");
        assert_eq!(args.base_domains, ["a.example", "b.example"]);
        assert!(args.bucket_keys_for_kms);
        let args = gateway(
            text,
            &[
                "cang",
                "gateway",
                "--kms-endpoint",
                "other:1",
                "--bucket-keys-for-kms",
                "false",
            ],
        )?;
        assert_eq!(args.kms_endpoint, "other:1");
        assert!(!args.bucket_keys_for_kms);
        Ok(())
    }

    #[test]
    fn mistakes_in_the_file_are_refused() {
        assert!(
            gateway("CANG_KMS_ENDPIONT=x\n", &["cang", "gateway"]).is_err(),
            "typo"
        );
        assert!(gateway("PATH=/bin\n", &["cang", "gateway"]).is_err(), "not ours");
        assert!(
            gateway("CANG_REGION=a\nCANG_REGION=b\n", &["cang", "gateway"]).is_err(),
            "twice"
        );
        assert!(gateway("just words\n", &["cang", "gateway"]).is_err());
    }

    #[test]
    fn config_path_is_found_anywhere_before_a_double_dash() {
        let argv = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            config_path(&argv(&["cang", "kms", "--config", "a.env"])),
            Some("a.env".into())
        );
        assert_eq!(
            config_path(&argv(&["cang", "--config=b.env", "meta"])),
            Some("b.env".into())
        );
        assert_eq!(config_path(&argv(&["cang", "kms", "--", "--config", "c"])), None);
        assert_eq!(config_path(&argv(&["cang", "kms"])), None);
    }
}
