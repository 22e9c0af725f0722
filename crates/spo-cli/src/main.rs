//! `spoc`: the spo-rs command line. Argument parsing only; each verb lives
//! in `commands/<verb>.rs` and the logic in the library crates.

mod commands;
mod input;
mod kinds;
mod render;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Validate, compile, simulate and run seccomp, SELinux and AppArmor profiles.
#[derive(Debug, Parser)]
#[command(name = "spoc", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Change a limit on input, NAME=VALUE (repeatable; see --help for the limits).
    #[arg(long = "limit", value_name = "NAME=VALUE", global = true, long_help = input::limits_help())]
    limit: Vec<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check profiles and report every problem, located.
    Validate(commands::validate::Args),
    /// Compile a profile to what the kernel or policy tools consume.
    Compile(commands::compile::Args),
    /// Show what a syscall would get from a seccomp profile.
    Simulate(commands::simulate::Args),
    /// Run a command under a seccomp profile.
    Run(commands::RunArgs),
    /// Record a workload's syscalls into a profile.
    Record(commands::record::Args),
    /// Union several seccomp profiles.
    Merge(commands::merge::Args),
    /// Show syscalls added and removed between two seccomp profiles.
    Diff(commands::diff::Args),
    /// Install a SELinux or AppArmor profile with the system's policy tools.
    Install(commands::install::Args),
    /// Show the profiles a node agent (spod) has installed, and their state.
    Status(commands::status::Args),
    /// Summarise would-be violations of complain-mode profiles.
    Violations(commands::violations::Args),
    /// Print the CustomResourceDefinitions for a Kubernetes cluster.
    Crds,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match spo_parse::Limits::default().with_settings(&cli.limit) {
        Ok(limits) => input::set_limits(limits),
        Err(e) => {
            eprintln!("error: --limit: {e}");
            return ExitCode::from(2);
        }
    }
    let result = match cli.command {
        Command::Validate(a) => commands::validate::main(&a),
        Command::Compile(a) => commands::compile::main(&a),
        Command::Simulate(a) => commands::simulate::main(&a),
        Command::Record(a) => commands::record::main(&a),
        Command::Merge(a) => commands::merge::main(&a),
        Command::Diff(a) => commands::diff::main(&a),
        Command::Install(a) => commands::install::main(&a),
        Command::Status(a) => commands::status::main(&a),
        Command::Violations(a) => commands::violations::main(&a),
        Command::Crds => commands::crds::main(),
        Command::Run(a) => {
            commands::run::run(&a.profile, a.complain, &a.command).map(|code| u8::try_from(code).unwrap_or(1))
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
