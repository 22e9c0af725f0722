//! `spod`: the spo-rs node agent.
//!
//! Watches a directory of profile manifests (standalone) or the profile
//! resources of a cluster (`--kubernetes`, reporting one
//! `SecurityProfileNodeStatus` per profile), installs them (seccomp for
//! the kubelet under `--kubelet-root`), verifies running processes,
//! enriches audit events, and serves `/status`, `/metrics`,
//! `/violations`, `/healthz` and `/readyz` on `--listen`.
//!
//! There is no shutdown hook on purpose: every write is atomic, so the
//! default action of SIGTERM (or a SIGKILL) cannot leave a partial file.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, ValueEnum};
use spo_node::agent::lsm::{offline_policy_root, store_name, AppArmorProfiles, SelinuxProfiles};
use spo_node::agent::{Agent, AgentConfig, Shared};
use spo_node::apparmor::ApparmorParser;
use spo_node::enrich::bundle::DEFAULT_BUNDLE_PATTERNS;
use spo_node::enrich::source::{self, RecordSource, AUDITD_LOG};
use spo_node::enrich::{Enricher, EventLog};
use spo_node::http::HttpServer;
use spo_node::selinux::Semodule;
use spo_node::status::ProfileKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum AuditSource {
    /// The best available: netlink, else auditd's log, else /dev/kmsg.
    Auto,
    /// The audit netlink multicast group.
    Netlink,
    /// auditd's log file (`--auditd-log`).
    Auditd,
    /// /dev/kmsg (rate-limited by the kernel).
    Kmsg,
    /// No enrichment.
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SelinuxStore {
    /// `semodule -p STATE/selinux/root -n`: no kernel policy is touched.
    Offline,
    /// `semodule` on the running system, reloading the policy.
    System,
    /// SELinux profiles stay Pending.
    None,
}

/// The spo-rs node agent.
#[derive(Debug, Parser)]
#[command(name = "spod", version)]
struct Args {
    /// Directory of profile manifests (YAML or JSON, several documents per file).
    #[arg(long, value_name = "DIR", required_unless_present = "kubernetes")]
    manifests: Option<PathBuf>,
    /// Install the profile resources of the cluster (kubeconfig from
    /// KUBECONFIG or the pod's service account) and report their state on
    /// this node as SecurityProfileNodeStatus objects.
    #[arg(long, conflicts_with_all = ["manifests", "once"])]
    kubernetes: bool,
    /// The kubelet root; seccomp profiles go to KUBELET_ROOT/seccomp/operator/NAME.json
    /// (as SPO v1 writes them).
    #[arg(long, value_name = "DIR", default_value = "/var/lib/kubelet")]
    kubelet_root: PathBuf,
    /// The agent's own state: policy stores and the event log.
    #[arg(long, value_name = "DIR", default_value = "/var/lib/spod")]
    state: PathBuf,
    /// Address of the status, metrics and health endpoints.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9100")]
    listen: String,
    /// Node name in status, events and metrics (default: $NODE_NAME, else
    /// the host name).
    #[arg(long, alias = "node-name")]
    node: Option<String>,
    /// Where audit records come from.
    #[arg(long, value_enum, default_value = "auto")]
    audit_source: AuditSource,
    /// auditd's log, for `--audit-source auditd` or as a fallback.
    #[arg(long, value_name = "FILE", default_value = AUDITD_LOG)]
    auditd_log: PathBuf,
    /// The JSON-lines event log (default: STATE/events.jsonl).
    #[arg(long, value_name = "FILE")]
    events: Option<PathBuf>,
    /// Where runtime bundles are, `{id}` standing for the container id and
    /// `*` for one directory level (repeatable; default: containerd,
    /// CRI-O/podman and Docker locations).
    #[arg(long = "bundle-pattern", value_name = "PATTERN")]
    bundle_patterns: Vec<String>,
    /// Manifest scan interval in milliseconds (default: 250; 100 with
    /// --kubernetes, whose mirror is written atomically).
    #[arg(long)]
    interval_ms: Option<u64>,
    /// Where SELinux modules go: a policy store under STATE/selinux/root
    /// (seeded from the system's), the running system's store, or nowhere.
    #[arg(long, value_enum, default_value = "offline")]
    selinux_store: SelinuxStore,
    /// The SELinux policy store's name (`semodule -s`; `/var/lib/selinux/NAME`);
    /// default: `SELINUXTYPE=` of /etc/selinux/config, else `default`.
    #[arg(long, value_name = "NAME")]
    selinux_store_name: Option<String>,
    /// Scan and install once, print the status as JSON, and exit (1 if any
    /// profile is in Error).
    #[arg(long)]
    once: bool,
    /// Change a limit on manifests, NAME=VALUE (repeatable; see --help).
    #[arg(long = "limit", value_name = "NAME=VALUE", long_help = limits_help())]
    limit: Vec<String>,
}

fn limits_help() -> String {
    format!(
        "Change a limit on what a manifest may hold, as NAME=VALUE (repeatable); the same limits `spoc` and the \
         admission webhook apply. A manifest past a limit is refused, and the profiles it defined keep their \
         installed versions. Limits and defaults:\n{}",
        spo_parse::Limits::describe()
    )
}

fn open_source(args: &Args) -> std::result::Result<Box<dyn RecordSource>, String> {
    match args.audit_source {
        AuditSource::Auto => source::open_best(&args.auditd_log),
        AuditSource::Netlink => {
            source::NetlinkSource::open().map(|s| Box::new(s) as Box<dyn RecordSource>).map_err(|e| e.to_string())
        }
        AuditSource::Auditd => source::AuditdLogSource::open(&args.auditd_log)
            .map(|s| Box::new(s) as Box<dyn RecordSource>)
            .map_err(|e| e.to_string()),
        AuditSource::Kmsg => {
            source::KmsgSource::open().map(|s| Box::new(s) as Box<dyn RecordSource>).map_err(|e| e.to_string())
        }
        AuditSource::None => Err("disabled with --audit-source none".into()),
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    let manifests = match &args.manifests {
        Some(m) => m.clone(),
        // The mirror of the cluster's profiles (see spod::kube::mirror).
        None => args.state.join("mirror"),
    };
    let mut cfg = AgentConfig::new(manifests, args.kubelet_root.clone(), args.state.clone());
    cfg.limits =
        spo_parse::Limits::default().with_settings(&args.limit).map_err(|e| anyhow::anyhow!("--limit: {e}"))?;
    if let Some(n) = args.node.clone().or_else(|| std::env::var("NODE_NAME").ok().filter(|n| !n.is_empty())) {
        cfg.node = n;
    }
    let default_interval = if args.kubernetes { 100 } else { 250 };
    cfg.interval = Duration::from_millis(args.interval_ms.unwrap_or(default_interval).max(10));
    cfg.atomic_writer = args.kubernetes;
    cfg.keep_versions = args.kubernetes;
    if args.kubernetes {
        std::fs::create_dir_all(&cfg.manifests)
            .with_context(|| format!("cannot create {}", cfg.manifests.display()))?;
    }
    let patterns = if args.bundle_patterns.is_empty() {
        DEFAULT_BUNDLE_PATTERNS.iter().map(|s| (*s).to_owned()).collect()
    } else {
        args.bundle_patterns.clone()
    };
    let shared = Arc::new(Shared::new(patterns));
    let mut agent = Agent::new(cfg.clone(), shared.clone()).context("cannot start the agent")?;
    agent.add_installer(Box::new(
        AppArmorProfiles::new(&args.state, ApparmorParser::default()).context("cannot set up AppArmor")?,
    ));
    let store_name =
        args.selinux_store_name.clone().unwrap_or_else(|| store_name(std::path::Path::new("/etc/selinux")));
    let semodule = match args.selinux_store {
        SelinuxStore::Offline => {
            offline_policy_root(&args.state, &store_name).map(|root| Semodule::offline(&root).with_store(&store_name))
        }
        SelinuxStore::System => Ok(Semodule::system().with_store(&store_name)),
        SelinuxStore::None => Err("disabled with --selinux-store none".to_owned()),
    };
    match semodule {
        Ok(s) => agent.add_installer(Box::new(SelinuxProfiles::new(&args.state, s).context("cannot set up SELinux")?)),
        Err(why) => {
            for kind in [ProfileKind::SelinuxProfile, ProfileKind::RawSelinuxProfile] {
                agent.explain_missing(kind, &why);
            }
        }
    }

    if args.once {
        while !agent.is_ready() {
            agent.tick();
            std::thread::sleep(Duration::from_millis(20));
        }
        agent.verify();
        let status = shared.snapshot();
        println!("{}", serde_json::to_string_pretty(&status)?);
        let errors = status.profiles.iter().any(|p| p.status == spo_node::status::Phase::Error);
        std::process::exit(i32::from(errors || !status.file_errors.is_empty()));
    }

    let server = HttpServer::start(&args.listen, shared.clone())?;
    eprintln!("spod: listening on {}", server.addr());

    match open_source(&args) {
        Ok(mut src) => {
            // Forks are followed so that a process gone before its audit
            // record is read is attributed through its parent.
            if let Err(e) = shared.attributor.follow_forks() {
                eprintln!("spod: process events unavailable, exited processes stay unattributed: {e}");
            }
            if let Ok(mut g) = shared.source.write() {
                *g = (src.name().to_owned(), None);
            }
            let events = args.events.clone().unwrap_or_else(|| args.state.join("events.jsonl"));
            let log = EventLog::open(&events).with_context(|| format!("cannot open {}", events.display()))?;
            let mut enricher = Enricher::new(
                cfg.node.clone(),
                shared.attributor.clone(),
                shared.metrics.clone(),
                shared.ring.clone(),
                shared.counters.clone(),
                Some(log),
            );
            let sh = shared.clone();
            std::thread::Builder::new().name("spod-audit".into()).spawn(move || loop {
                match src.next(Duration::from_millis(100)) {
                    // The daemon configuration may switch the log enricher
                    // off (Kubernetes mode): records are then read and dropped.
                    Ok(Some(_)) if !sh.enrich_logs.load(std::sync::atomic::Ordering::Relaxed) => {}
                    Ok(Some((ty, text))) => {
                        if let Some(event) = enricher.handle(ty, &text) {
                            sh.log_recordings.observe(&event);
                        }
                    }
                    Ok(None) => enricher.flush(),
                    Err(e) => {
                        eprintln!("spod: audit source failed: {e}");
                        if let Ok(mut g) = sh.source.write() {
                            g.1 = Some(e.to_string());
                        }
                        std::thread::sleep(Duration::from_secs(1));
                    }
                }
                sh.counters.lost.store(src.lost(), std::sync::atomic::Ordering::Relaxed);
            })?;
        }
        Err(why) => {
            eprintln!("spod: no audit source, enrichment is off: {why}");
            if let Ok(mut g) = shared.source.write() {
                *g = ("none".into(), Some(why));
            }
        }
    }

    if args.kubernetes {
        return run_kubernetes(&cfg, shared, agent);
    }
    let stop = AtomicBool::new(false);
    agent.run(&stop);
    Ok(())
}

/// Watch the cluster's profiles; the agent starts once they are mirrored.
#[cfg(feature = "kubernetes")]
fn run_kubernetes(cfg: &AgentConfig, shared: Arc<Shared>, mut agent: Agent) -> Result<()> {
    let namespace = std::env::var("SPO_NAMESPACE")
        .ok()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "security-profiles-operator".to_owned());
    let kcfg = spod::kube::KubeConfig {
        namespace,
        node: cfg.node.clone(),
        mirror: cfg.manifests.clone(),
        kubelet_root: cfg.kubelet_root.clone(),
        report_interval: Duration::from_millis(100),
    };
    let start = Box::new(move || {
        let spawned = std::thread::Builder::new().name("spod-agent".into()).spawn(move || {
            let stop = AtomicBool::new(false);
            agent.run(&stop);
        });
        if let Err(e) = spawned {
            eprintln!("spod: cannot start the agent thread: {e}");
            std::process::exit(1);
        }
    });
    spod::kube::run(kcfg, shared, start).context("Kubernetes mode failed")
}

#[cfg(not(feature = "kubernetes"))]
fn run_kubernetes(_cfg: &AgentConfig, _shared: Arc<Shared>, _agent: Agent) -> Result<()> {
    anyhow::bail!("this spod was built without the `kubernetes` feature")
}
