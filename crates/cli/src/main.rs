//! The `taxonomist` binary: arguments, settings, messages, progress bars and exit codes.
//! Everything else lives in the library crates; nothing below this crate prints.

mod args;
mod cmd;
mod engines;
mod output;
mod progress;
mod settings;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};

/// Exit codes: 0 ok, 1 findings (bad files, pages that would change, ...), 2 error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    Findings = 1,
    Error = 2,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.global.verbose);
    let code = match run(cli) {
        Ok(code) => code,
        Err(err) => {
            if output::is_broken_pipe(&err) {
                Exit::Ok
            } else {
                eprintln!("taxonomist: {}", output::one_line(&err));
                Exit::Error
            }
        }
    };
    ExitCode::from(code as u8)
}

fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("TAXONOMIST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .try_init();
}

fn run(cli: Cli) -> anyhow::Result<Exit> {
    if cli.global.format == args::Format::Reference && !matches!(cli.command, Command::Cache(_)) {
        anyhow::bail!("--format reference is only for `cache export`; use text or json");
    }
    match &cli.command {
        Command::Inspect(a) => cmd::inspect::run(&cli.global, a),
        Command::Init(a) => cmd::init::run(&cli.global, a),
        Command::Bench(a) => cmd::bench::run(&cli.global, a),
        Command::Classify(a) => cmd::classify::run(&cmd::load_ctx(&cli.global)?, &cli.global, a),
        Command::Explain(a) => cmd::explain::run(&cmd::load_ctx(&cli.global)?, &cli.global, a),
        Command::Eval(a) => cmd::eval::run(&cmd::load_ctx(&cli.global)?, &cli.global, a),
        Command::Model(a) => cmd::model::run(&cli.global, a),
        Command::Status(a) => cmd::status::run(&cmd::load_ctx(&cli.global)?, &cli.global, a),
        Command::Cache(a) => cmd::cache::run(&cmd::load_ctx(&cli.global)?, &cli.global, a),
        Command::Apply(a) => cmd::apply::run(&cmd::load_ctx(&cli.global)?, &cli.global, a),
    }
}
