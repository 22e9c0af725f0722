//! `spo-e2e`: a real Kubernetes control plane on loopback for tests and
//! for people.
//!
//! `spo-e2e up --dir DIR` builds (first time) or reuses the cached binaries,
//! starts the cluster in the background and returns when the API server is
//! ready; `spo-e2e down --dir DIR` stops it.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use spo_e2e::spo::{self, SpoBinaries, Stack};
use spo_e2e::{binaries, cluster, Binaries, Cluster, Options};

#[derive(Parser)]
#[command(name = "spo-e2e", about = "Run a local Kubernetes control plane for spo-rs end-to-end tests")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Build the control plane binaries into the cache (if missing).
    Build,
    /// Start etcd, kube-apiserver and kube-controller-manager; print the
    /// kubeconfig path when the API server is ready.
    Up {
        /// Directory for certificates, data, logs, pid file and kubeconfig.
        #[arg(long)]
        dir: PathBuf,
        /// Start only the control plane, not spo-operator and spod.
        #[arg(long)]
        no_spo: bool,
        /// Run no node (no containerd, kubelet or scheduler): pods are
        /// stored but never run.
        #[arg(long)]
        no_node: bool,
    },
    /// Stop everything `up` started in DIR.
    Down {
        /// The directory given to `up`.
        #[arg(long)]
        dir: PathBuf,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Cmd::Build => {
            let b = Binaries::build()?;
            println!("{}", b.dir().display());
        }
        Cmd::Up { dir, no_spo, no_node } => {
            let spo_bins = if no_spo { None } else { Some(SpoBinaries::find()?) };
            let bins = match Binaries::cached() {
                Ok(b) => b,
                Err(_) => {
                    eprintln!(
                        "spo-e2e: building Kubernetes {} binaries into {} (first time only; this takes a while)",
                        binaries::kubernetes_version(),
                        Binaries::cache_dir().display()
                    );
                    Binaries::build()?
                }
            };
            let missing = bins.missing();
            if !missing.is_empty() {
                eprintln!("spo-e2e: not built yet, running without: {}", missing.join(", "));
            }
            let start = Instant::now();
            let c = Cluster::up_with(&dir, &bins, Options { node: !no_node })
                .with_context(|| format!("starting the cluster in {}", dir.display()))?;
            eprintln!("spo-e2e: API server {} ready in {:.1} s", c.server(), start.elapsed().as_secs_f64());
            if c.has_kubelet() {
                eprintln!("spo-e2e: node {} runs pods (image {})", spo_e2e::node::NODE, spo_e2e::node::images::BUSYBOX);
            }
            if bins.has("kubectl") {
                eprintln!("spo-e2e: kubectl is {}", bins.path("kubectl").display());
            }
            if let Some(spo_bins) = spo_bins {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
                let stack = match rt.block_on(Stack::start(&c, &spo_bins)) {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = c.down();
                        bail!("starting spo-operator and spod: {e}");
                    }
                };
                eprintln!(
                    "spo-e2e: spo-operator (webhooks on {}) and spod (node {}, {}) ready in {:.1} s",
                    stack.webhook_url(),
                    spo::NODE,
                    stack.spod_url(),
                    start.elapsed().as_secs_f64()
                );
                stack.detach();
            }
            println!("KUBECONFIG={}", c.kubeconfig().display());
            c.detach();
        }
        Cmd::Down { dir } => {
            let stopped = cluster::down(&dir).with_context(|| format!("stopping the cluster in {}", dir.display()))?;
            if stopped.is_empty() {
                eprintln!("spo-e2e: nothing was running in {}", dir.display());
            } else {
                eprintln!("spo-e2e: stopped {}", stopped.join(", "));
            }
        }
    }
    Ok(())
}
