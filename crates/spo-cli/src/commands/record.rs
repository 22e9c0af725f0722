//! `spoc record -o OUT [options] -- CMD ARGS...`: run a command, record
//! every syscall it and its descendants make, and write the seccomp profile
//! that allows exactly those (default action `SCMP_ACT_ERRNO`).
//!
//! With `--trigger`, CMD is a long-running server: once it is ready the
//! trigger command line runs (unrecorded), and when the trigger exits the
//! server is stopped and the profile written. `--base` adds the calls a
//! container runtime makes between installing the filter and exec'ing the
//! workload, without which a recorded profile would stop the container
//! from starting at all.

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::Value;
use spo_model::seccomp::{merge, SeccompProfile, SeccompSpec};
use spo_model::Arch;
use spo_node::record::base::{CRUN as BASE_CRUN, RUNC as BASE_RUNC};
use spo_node::record::{record, Plan, RecorderKind};

/// How a profile is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProfileFormat {
    /// A `SeccompProfile` custom resource, YAML.
    Crd,
    /// An OCI runtime-spec `linux.seccomp` object, JSON.
    Oci,
}

/// Which profile `--from-audit` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuditKind {
    /// A `SelinuxProfile` whose `allow` map permits the AVC denials.
    Selinux,
    /// An `AppArmorProfile` abstract permitting the APPARMOR records.
    Apparmor,
}

/// Arguments of `spoc record`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write the profile.
    #[arg(long, short, value_name = "FILE")]
    pub output: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "crd")]
    pub format: ProfileFormat,
    /// How to observe syscalls: ebpf, ptrace or logs (default: ebpf where the kernel allows it, else ptrace).
    #[arg(long, value_name = "RECORDER")]
    pub recorder: Option<RecorderKind>,
    /// A shell command line that exercises the workload once it is ready; the workload is stopped when it exits.
    #[arg(long, value_name = "CMD")]
    pub trigger: Option<String>,
    /// Seconds to wait after the start (and after --ready-port) before the trigger runs (default: 1 without --ready-port).
    #[arg(long, value_name = "SECS")]
    pub ready_delay: Option<f64>,
    /// The workload is ready when this loopback TCP port accepts connections.
    #[arg(long, value_name = "PORT")]
    pub ready_port: Option<u16>,
    /// Seconds between SIGTERM and SIGKILL when stopping the workload.
    #[arg(long, value_name = "SECS", default_value = "5")]
    pub grace: f64,
    /// Calls of a container runtime to allow too: runc, crun, none, or a profile file.
    #[arg(long, value_name = "BASE", default_value = "runc")]
    pub base: String,
    /// With the logs recorder: install no filter and record what the workload's own SCMP_ACT_LOG filter logs
    /// (a container runtime given a logging profile).
    #[arg(long)]
    pub workload_filter: bool,
    /// Profile name (default: the output file's stem).
    #[arg(long)]
    pub name: Option<String>,
    /// Instead of running a workload, read audit records (raw, auditd log or kernel log form) from FILE.
    #[arg(long, value_name = "FILE", requires = "kind")]
    pub from_audit: Option<PathBuf>,
    /// With --from-audit: the kind of profile to write.
    #[arg(long, value_enum)]
    pub kind: Option<AuditKind>,
    /// With --from-audit: only records of this SELinux source type or AppArmor profile.
    #[arg(long, value_name = "NAME")]
    pub domain: Option<String>,
    /// With --from-audit --kind selinux: the container template the profile inherits.
    #[arg(long, value_name = "TEMPLATE", default_value = "container")]
    pub inherit: String,
    /// The workload and its arguments.
    #[arg(required_unless_present = "from_audit", last = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

fn seconds(s: f64, what: &str) -> Result<Duration> {
    Duration::try_from_secs_f64(s).with_context(|| format!("{what} must be a non-negative number of seconds"))
}

/// Run `spoc record`.
pub fn main(args: &Args) -> Result<u8> {
    if let Some(path) = &args.from_audit {
        return from_audit(args, path);
    }
    let recorder = args.recorder.unwrap_or_else(RecorderKind::best_available);
    let base = base_spec(&args.base)?;
    let name = args.name.clone().unwrap_or_else(|| name_from(&args.output));
    spo_model::objname::check_object_name(&name).map_err(|e| anyhow::anyhow!("--name: {e}"))?;
    let mut plan = Plan::new(args.command.clone(), recorder);
    plan.trigger = args.trigger.clone();
    plan.ready_port = args.ready_port;
    plan.ready_delay = args.ready_delay.map(|s| seconds(s, "--ready-delay")).transpose()?;
    plan.grace = seconds(args.grace, "--grace")?;
    plan.workload_filter = args.workload_filter;
    if args.workload_filter && recorder != RecorderKind::Logs {
        bail!("--workload-filter needs --recorder logs");
    }
    if plan.trigger.is_none() && (plan.ready_port.is_some() || plan.ready_delay.is_some()) {
        bail!("--ready-port and --ready-delay only make sense with --trigger");
    }

    survive_interrupt();
    let tty = std::io::stderr().is_terminal();
    let mut last = Duration::ZERO;
    let mut progress = |elapsed: Duration, seen: usize| {
        if tty && elapsed >= last + Duration::from_millis(200) {
            last = elapsed;
            eprint!("\rspoc: recording with {recorder}: {:.1}s, {seen} syscalls seen ", elapsed.as_secs_f64());
            let _ = std::io::stderr().flush();
        }
    };
    let rec = record(&plan, &mut progress).with_context(|| format!("recording with {recorder} failed"))?;
    if tty {
        eprintln!();
    }
    for note in &rec.notes {
        eprintln!("spoc: note: {note}");
    }
    for arch in rec.syscalls.arches() {
        let (_, unknown) = rec.syscalls.names(arch);
        if !unknown.is_empty() {
            eprintln!("spoc: warning: syscall numbers unknown on {arch} were left out: {unknown:?}");
        }
    }
    let native = Arch::native().context("spo-rs has no syscall table for this machine's architecture")?;
    let mut spec = rec.syscalls.to_spec(native);
    if let Some(base) = &base {
        spec = merge(&[spec, base.clone()]).context("cannot merge the base profile")?;
    }
    write_profile(&args.output, &name, &spec, args.format)?;
    eprintln!(
        "spoc: recorded {} distinct syscalls ({} calls) in {:.1}s with {recorder}; wrote {}",
        rec.syscalls.distinct(),
        rec.syscalls.total(),
        rec.elapsed.as_secs_f64(),
        args.output.display()
    );
    if let Some(t) = rec.trigger {
        if !t.success() {
            eprintln!("spoc: error: the trigger failed ({t}); the profile may miss what a passing run needs");
            return Ok(1);
        }
    } else if !rec.workload.success() {
        eprintln!("spoc: warning: the workload exited with {}", rec.workload);
    }
    Ok(0)
}

/// `--from-audit`: SELinux or AppArmor denials to a profile, like
/// audit2allow.
fn from_audit(args: &Args, path: &Path) -> Result<u8> {
    let text = crate::input::read(path)?;
    let name = args.name.clone().unwrap_or_else(|| name_from(&args.output));
    spo_model::objname::check_object_name(&name).map_err(|e| anyhow::anyhow!("--name: {e}"))?;
    let domain = args.domain.as_deref();
    let (value, diags, used) = match args.kind {
        Some(AuditKind::Selinux) => {
            let (avcs, diags) = spo_parse::audit::avc::parse(&text);
            let allow = spo_parse::audit::avc::allow_map(&avcs, domain);
            let n = allow.values().map(|c| c.len()).sum::<usize>();
            let spec = spo_model::selinux::SelinuxProfileSpec {
                inherit: vec![spo_model::selinux::PolicyRef { kind: "System".into(), name: args.inherit.clone() }],
                allow,
                ..Default::default()
            };
            let profile = serde_json::json!({
                "apiVersion": format!("{}/v1", spo_model::seccomp::API_GROUP),
                "kind": "SelinuxProfile",
                "metadata": {"name": name},
                "spec": spec,
            });
            (profile, diags, n)
        }
        Some(AuditKind::Apparmor) => {
            let (events, diags) = spo_parse::audit::apparmor::parse(&text);
            let abs = spo_parse::audit::apparmor::to_abstract(&events, domain);
            let n = events.len();
            let spec = spo_model::apparmor::AppArmorSpec { abstract_: Some(abs), ..Default::default() };
            let profile = spo_model::apparmor::AppArmorProfile::new(&name, spec);
            (serde_json::to_value(profile)?, diags, n)
        }
        None => bail!("--from-audit needs --kind selinux or --kind apparmor"),
    };
    if !diags.is_empty() {
        eprint!("{}", crate::render::render(crate::render::OutputFormat::Human, path, &text, &diags, super::color()));
    }
    if used == 0 {
        bail!("{} holds no record a rule can be made from", path.display());
    }
    std::fs::write(&args.output, to_yaml(&value)).with_context(|| format!("cannot write {}", args.output.display()))?;
    eprintln!("spoc: wrote {} from {}", args.output.display(), path.display());
    Ok(0)
}

/// Ctrl-C reaches the workload and the trigger too (one process group):
/// they stop, and spoc must live on to write the profile and remove the
/// workload's cgroup. A handler rather than `SIG_IGN`, because an ignored
/// signal would stay ignored in the workload across exec, and a handler is
/// reset there.
fn survive_interrupt() {
    extern "C" fn noted(_: libc::c_int) {}
    // SAFETY: installs an async-signal-safe handler that does nothing.
    #[allow(unsafe_code)]
    unsafe {
        libc::signal(libc::SIGINT, noted as *const () as libc::sighandler_t);
    }
}

/// The base profile `--base` names, if any.
fn base_spec(base: &str) -> Result<Option<SeccompSpec>> {
    let (origin, text) = match base {
        "none" => return Ok(None),
        "runc" => ("the runc base list".to_owned(), BASE_RUNC.to_owned()),
        "crun" => ("the crun base list".to_owned(), BASE_CRUN.to_owned()),
        path => {
            let t = crate::input::read(std::path::Path::new(path)).context("--base")?;
            (path.to_owned(), t)
        }
    };
    Ok(Some(read_one(&origin, &text)?))
}

/// The single valid profile in `text`.
pub fn read_one(origin: &str, text: &str) -> Result<SeccompSpec> {
    let file = spo_parse::seccomp::parse_file(text);
    if file.has_errors() {
        eprint!(
            "{}",
            crate::render::render(
                crate::render::OutputFormat::Human,
                Path::new(origin),
                text,
                &file.diagnostics,
                super::color()
            )
        );
        bail!("{origin} is not a valid seccomp profile");
    }
    let mut specs: Vec<SeccompSpec> = file.documents.into_iter().map(|d| d.spec).collect();
    if specs.len() == 1 {
        return Ok(specs.remove(0));
    }
    merge(&specs).with_context(|| format!("{origin} holds {} profiles that cannot be merged", specs.len()))
}

/// A valid object name from a file name: lowercase, other characters `-`.
fn name_from(path: &Path) -> String {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let stem = stem.strip_suffix(".profile").unwrap_or(&stem).to_ascii_lowercase();
    let n: String = stem
        .chars()
        .map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-' { c } else { '-' })
        .collect();
    let n = n.trim_matches(|c| c == '-' || c == '.').to_owned();
    if n.is_empty() {
        "recorded".to_owned()
    } else {
        n
    }
}

/// Write `spec` to `path` as a custom resource (YAML) or OCI JSON.
pub fn write_profile(path: &Path, name: &str, spec: &SeccompSpec, format: ProfileFormat) -> Result<()> {
    let text = match format {
        ProfileFormat::Crd => {
            let v = serde_json::to_value(SeccompProfile::new(name, spec.clone()))?;
            to_yaml(&v)
        }
        ProfileFormat::Oci => {
            let mut v = serde_json::to_value(spec)?;
            // OCI has no comments and no SPO-only fields.
            if let Some(o) = v.as_object_mut() {
                o.remove("baseProfileName");
                o.remove("disabled");
            }
            if let Some(rules) = v.get_mut("syscalls").and_then(Value::as_array_mut) {
                for r in rules {
                    if let Some(o) = r.as_object_mut() {
                        o.remove("comment");
                    }
                }
            }
            serde_json::to_string_pretty(&v)? + "\n"
        }
    };
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// YAML for a JSON value: block style, strings quoted (as JSON, which YAML
/// reads the same) unless they are plain words.
pub fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    yaml_value(v, 0, &mut out);
    out
}

fn plain(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
        && s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '/')
        && !matches!(s, "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n" | "Y" | "N")
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) if plain(s) => s.clone(),
        Value::Array(a) if a.is_empty() => "[]".into(),
        Value::Object(o) if o.is_empty() => "{}".into(),
        other => other.to_string(),
    }
}

fn yaml_value(v: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(o) if !o.is_empty() => {
            for (k, val) in o {
                out.push_str(&pad);
                out.push_str(&scalar(&Value::String(k.clone())));
                out.push(':');
                match val {
                    Value::Object(m) if !m.is_empty() => {
                        out.push('\n');
                        yaml_value(val, indent + 2, out);
                    }
                    Value::Array(a) if !a.is_empty() => {
                        out.push('\n');
                        yaml_value(val, indent, out);
                    }
                    _ => {
                        out.push(' ');
                        out.push_str(&scalar(val));
                        out.push('\n');
                    }
                }
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for item in a {
                out.push_str(&pad);
                out.push_str("- ");
                match item {
                    Value::Object(m) if !m.is_empty() => {
                        let mut inner = String::new();
                        yaml_value(item, indent + 2, &mut inner);
                        out.push_str(inner.trim_start());
                    }
                    Value::Array(x) if !x.is_empty() => {
                        out.push('\n');
                        yaml_value(item, indent + 2, out);
                    }
                    _ => {
                        out.push_str(&scalar(item));
                        out.push('\n');
                    }
                }
            }
        }
        other => {
            out.push_str(&pad);
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_reads_back_as_the_same_profile() {
        let mut spec = SeccompSpec::new(spo_model::seccomp::ActionName::Errno);
        spec.architectures = vec![Arch::X86_64, Arch::X86];
        let mut rule = spo_model::seccomp::SyscallRule::new(&["read", "write"], spo_model::seccomp::ActionName::Allow);
        rule.comment = Some("recorded on SCMP_ARCH_X86_64: \"x\" # y".into());
        spec.syscalls.push(rule);
        let yaml = to_yaml(&serde_json::to_value(SeccompProfile::new("demo", spec.clone())).unwrap());
        let back = read_one("test", &yaml).unwrap();
        assert_eq!(back, spec, "{yaml}");
        assert!(BASE_RUNC.contains("exit_group") && BASE_CRUN.contains("rt_sigreturn"));
        for text in [BASE_RUNC, BASE_CRUN] {
            read_one("base", text).unwrap();
        }
    }

    #[test]
    fn names_come_from_file_names() {
        assert_eq!(name_from(Path::new("/tmp/My_Nginx.yaml")), "my-nginx");
        assert_eq!(name_from(Path::new("x/nginx.profile.yaml")), "nginx");
        assert_eq!(name_from(Path::new("___.json")), "recorded");
    }
}
