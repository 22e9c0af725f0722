//! Recording the containers of this node that a `ProfileRecording`
//! selected (the webhook marked their pods, see
//! `spo_api::recording`).
//!
//! `recorder: logs`: the webhook gave the recorded containers the
//! log-everything profile [`LOG_PROFILE`] (written by
//! [`install_log_profile`]); once a container's ID is known the enricher's
//! events for it are counted ([`LogRecordings`]) until it ends.
//!
//! `recorder: bpf`: the node-wide eBPF recorder ([`ContainerRecorder`]) is loaded when the
//! first marked pod is scheduled here, before its containers start, and
//! counts every cgroup's calls; once a container's ID shows in the pod's
//! status its cgroup is looked up, and when the container ends (or its pod
//! is removed) its calls are read, the runtime's own calls (the shipped `runc`
//! base list) and `exit`/`exit_group`/`rt_sigreturn` added, and the result
//! is server-side applied into the recording's `status.recorded` under
//! this node's field manager. The recorder is dropped when nothing here is
//! recorded any more.
//!
//! A container that starts and ends between two looks at its pod (well
//! under a second) cannot be found by its cgroup and is reported with an
//! error rather than with a silently empty profile.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use ::kube::api::{Api, Patch, PatchParams};
use ::kube::runtime::watcher::{self, Event};
use ::kube::runtime::WatchStreamExt;
use ::kube::Client;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use spo_api::crds::{ProfileRecording, RecordedContainer, RecordedSyscalls, Recorder, GROUP, VERSION};
use spo_api::recording::{CONTAINERS_ANNOTATION, LOG_PROFILE, RECORDER_ANNOTATION, RECORDING_ANNOTATION};
use spo_model::Arch;

use crate::SpodError;
use spo_node::enrich::recordings::LogRecordings;

use spo_node::record::{cgroup_tree_ids, container_cgroup, ContainerRecorder, SyscallSet, ALWAYS_ALLOWED};

/// Write the log-everything profile `logs` recordings run under, at
/// `KUBELET_ROOT/seccomp/`[`LOG_PROFILE`].
pub fn install_log_profile(kubelet_root: &Path) -> Result<(), SpodError> {
    let path = kubelet_root.join("seccomp").join(LOG_PROFILE);
    if let Some(dir) = path.parent() {
        spo_node::store::atomic::ensure_dir(dir)?;
    }
    Ok(spo_node::store::atomic::write_atomic(&path, b"{\"defaultAction\": \"SCMP_ACT_LOG\"}\n")?)
}

/// A container being recorded.
#[derive(Debug, Default)]
struct Tracked {
    /// Its runtime ID, once the pod's status shows it.
    id: Option<String>,
    /// Its cgroup and the cgroups below it.
    cgroups: Vec<u64>,
    /// Reported already.
    done: bool,
}

/// A marked pod of this node.
#[derive(Debug)]
struct Marked {
    recording: String,
    recorder: Recorder,
    containers: BTreeSet<String>,
    tracked: BTreeMap<String, Tracked>,
}

/// Everything this node records.
struct Recordings {
    client: Client,
    node: String,
    recorder: Option<Result<ContainerRecorder, String>>,
    logs: Arc<LogRecordings>,
    /// Which recorders the daemon configuration lets run.
    shared: Arc<spo_node::agent::Shared>,
    /// `(namespace, pod)` -> what is recorded of it.
    pods: HashMap<(String, String), Marked>,
    /// `(namespace, recording)` -> this node's entries, all re-applied with
    /// each new one (a server-side apply states every field it owns).
    results: HashMap<(String, String), Vec<RecordedContainer>>,
}

/// Watch this node's pods and record the marked ones, until the watch ends.
pub async fn run(client: Client, node: String, shared: Arc<spo_node::agent::Shared>) {
    let logs = shared.log_recordings.clone();
    let api: Api<Pod> = Api::all(client.clone());
    let config = watcher::Config::default().fields(&format!("spec.nodeName={node}"));
    let mut events = watcher::watcher(api, config).default_backoff().boxed();
    let mut r =
        Recordings { client, node, recorder: None, logs, shared, pods: HashMap::new(), results: HashMap::new() };
    while let Some(event) = events.next().await {
        match event {
            Ok(Event::Apply(pod) | Event::InitApply(pod)) => r.seen(&pod, false).await,
            Ok(Event::Delete(pod)) => r.seen(&pod, true).await,
            Ok(Event::Init | Event::InitDone) => {}
            Err(e) => eprintln!("spod: watching this node's pods: {e}"),
        }
        r.logs.expect(r.pods.values().filter(|p| p.recorder == Recorder::Logs).count());
        if !r.pods.values().any(|p| p.recorder == Recorder::Bpf) && r.recorder.take().is_some() {
            eprintln!("spod: nothing left to record; the eBPF recorder is detached");
        }
    }
}

impl Recordings {
    fn bpf_on(&self) -> bool {
        self.shared.bpf_recorder.load(std::sync::atomic::Ordering::Relaxed)
    }

    async fn seen(&mut self, pod: &Pod, deleted: bool) {
        let (Some(ns), Some(name)) = (pod.metadata.namespace.clone(), pod.metadata.name.clone()) else {
            return;
        };
        let annotations = pod.metadata.annotations.clone().unwrap_or_default();
        let Some(recording) = annotations.get(RECORDING_ANNOTATION) else {
            return;
        };
        let key = (ns.clone(), name.clone());
        if !self.pods.contains_key(&key) {
            if deleted {
                return;
            }
            let containers = annotations
                .get(CONTAINERS_ANNOTATION)
                .map(|c| c.split(',').map(str::to_owned).collect())
                .unwrap_or_default();
            let recorder =
                annotations.get(RECORDER_ANNOTATION).and_then(|r| Recorder::from_name(r)).unwrap_or(Recorder::Bpf);
            self.pods.insert(
                key.clone(),
                Marked { recording: recording.clone(), recorder, containers, tracked: BTreeMap::new() },
            );
            if recorder == Recorder::Bpf && self.recorder.is_none() && self.bpf_on() {
                let started = ContainerRecorder::start().map_err(|e| e.to_string());
                match &started {
                    Ok(_) => eprintln!("spod: eBPF recorder attached for ProfileRecording {ns}/{recording}"),
                    Err(e) => eprintln!("spod: cannot record ProfileRecording {ns}/{recording}: {e}"),
                }
                self.recorder = Some(started);
            }
        }
        let statuses = pod.status.as_ref().and_then(|s| s.container_statuses.clone()).unwrap_or_default();
        // A pod being deleted still runs until its containers stop (their
        // shutdown is part of the recording): only a terminated container
        // or the pod's removal ends a recording.
        let mut finished = Vec::new();
        if let Some(marked) = self.pods.get_mut(&key) {
            for cs in statuses.iter().filter(|cs| marked.containers.contains(&cs.name)) {
                let t = marked.tracked.entry(cs.name.clone()).or_default();
                if t.id.is_none() {
                    t.id = cs.container_id.as_deref().map(|i| i.rsplit_once("://").map_or(i, |(_, id)| id).to_owned());
                    if let (Some(id), Recorder::Logs) = (&t.id, marked.recorder) {
                        self.logs.watch(id);
                    }
                }
                if t.cgroups.is_empty() && marked.recorder == Recorder::Bpf {
                    if let Some(dir) = cs.container_id.as_deref().and_then(container_cgroup) {
                        t.cgroups = cgroup_tree_ids(&dir).unwrap_or_default();
                    }
                }
                let terminated = cs.state.as_ref().is_some_and(|s| s.terminated.is_some());
                if (terminated || deleted) && !t.done {
                    finished.push(cs.name.clone());
                }
            }
            if deleted {
                // Containers the status never showed.
                for c in &marked.containers {
                    if !marked.tracked.get(c).is_some_and(|t| t.done) && !finished.contains(c) {
                        finished.push(c.clone());
                    }
                }
            }
        }
        for container in finished {
            self.report(&key, &container).await;
        }
        if deleted {
            self.pods.remove(&key);
        }
    }

    /// Read what `container` of pod `key` did and add it to its recording.
    async fn report(&mut self, key: &(String, String), container: &str) {
        let Some(marked) = self.pods.get_mut(key) else { return };
        let t = marked.tracked.entry(container.to_owned()).or_default();
        t.done = true;
        let mut entry = RecordedContainer {
            pod: key.1.clone(),
            container: container.to_owned(),
            node: self.node.clone(),
            recorder: marked.recorder.as_str().to_owned(),
            syscalls: Vec::new(),
            error: None,
        };
        let off = match marked.recorder {
            Recorder::Bpf => (!self.shared.bpf_recorder.load(std::sync::atomic::Ordering::Relaxed)).then_some(
                "the BPF recorder is off in the SecurityProfilesOperatorDaemon (spec.enricher.enableBpfRecorder)",
            ),
            Recorder::Logs => (!self.shared.enrich_logs.load(std::sync::atomic::Ordering::Relaxed)).then_some(
                "the log enricher is off in the SecurityProfilesOperatorDaemon (spec.enricher.enableLogEnricher)",
            ),
        };
        let recorded = match marked.recorder {
            _ if off.is_some() => Err(off.unwrap_or_default().to_owned()),
            Recorder::Logs => match t.id.as_deref().and_then(|id| self.logs.take(id)) {
                Some(set) if set.is_empty() => {
                    Err("no audit event was attributed to the container; is an audit source open (see spod's log)?"
                        .to_owned())
                }
                Some(set) => Ok(set),
                None => Err("the container ended before its ID was known".to_owned()),
            },
            Recorder::Bpf => match &self.recorder {
                Some(Ok(_)) if t.cgroups.is_empty() => {
                    Err("the container ended before its cgroup could be found".to_owned())
                }
                Some(Ok(rec)) => rec.counts_of(&t.cgroups).map_err(|e| format!("cannot read the recorded calls: {e}")),
                Some(Err(why)) => Err(format!("the eBPF recorder is not available: {why}")),
                None => Err("the eBPF recorder was not started".to_owned()),
            },
        };
        match recorded {
            Ok(set) => entry.syscalls = with_runtime(&set),
            Err(why) => entry.error = Some(why),
        }
        if let Some(Ok(rec)) = &self.recorder {
            for id in &t.cgroups {
                let _ = rec.forget(*id);
            }
        }
        let recording = marked.recording.clone();
        let calls: usize = entry.syscalls.iter().map(|s| s.names.len()).sum();
        eprintln!(
            "spod: recorded {}/{} container {container} for ProfileRecording {recording}: {}",
            key.0,
            key.1,
            entry.error.clone().unwrap_or_else(|| format!("{calls} syscalls"))
        );
        let rkey = (key.0.clone(), recording.clone());
        if !self.results.contains_key(&rkey) {
            let adopted = self.adopt(&rkey).await;
            self.results.insert(rkey.clone(), adopted);
        }
        let list = self.results.entry(rkey.clone()).or_default();
        list.retain(|e| !(e.pod == entry.pod && e.container == entry.container));
        list.push(entry);
        let body = serde_json::json!({
            "apiVersion": format!("{GROUP}/{VERSION}"),
            "kind": "ProfileRecording",
            "metadata": {"name": recording, "namespace": key.0},
            "status": {"recorded": list},
        });
        let api: Api<ProfileRecording> = Api::namespaced(self.client.clone(), &key.0);
        let pp = PatchParams::apply(&format!("spod-{}", self.node)).force();
        if let Err(e) = api.patch_status(&recording, &pp, &Patch::Apply(&body)).await {
            eprintln!("spod: cannot report to ProfileRecording {}/{recording}: {e}", key.0);
        }
    }

    /// This node's entries already in the recording's status (written
    /// before a restart), so applying the list again keeps them.
    async fn adopt(&self, (ns, recording): &(String, String)) -> Vec<RecordedContainer> {
        let api: Api<ProfileRecording> = Api::namespaced(self.client.clone(), ns);
        match api.get_opt(recording).await {
            Ok(Some(r)) => {
                r.status.map(|s| s.recorded).unwrap_or_default().into_iter().filter(|e| e.node == self.node).collect()
            }
            Ok(None) => Vec::new(),
            Err(e) => {
                eprintln!("spod: cannot read ProfileRecording {ns}/{recording}: {e}");
                Vec::new()
            }
        }
    }
}

/// The recorded calls per architecture, the runtime's own added to the
/// native list.
fn with_runtime(set: &SyscallSet) -> Vec<RecordedSyscalls> {
    let native = Arch::native().unwrap_or(Arch::X86_64);
    let mut by_arch: BTreeMap<Arch, BTreeSet<String>> = BTreeMap::new();
    for arch in set.arches() {
        by_arch.entry(arch).or_default().extend(set.names(arch).0.into_iter().map(str::to_owned));
    }
    let base = by_arch.entry(native).or_default();
    base.extend(ALWAYS_ALLOWED.iter().map(|s| (*s).to_owned()));
    base.extend(spo_node::record::base::runc_names().iter().cloned());
    by_arch
        .into_iter()
        .map(|(arch, names)| RecordedSyscalls {
            architecture: arch.scmp_name().to_owned(),
            names: names.into_iter().filter(|n| arch.syscall_number(n).is_some()).collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_carry_the_runtime_base_and_the_exit_calls() {
        let native = Arch::native().unwrap_or(Arch::X86_64);
        let mut set = SyscallSet::new();
        set.add(native, native.syscall_number("getcpu").expect("getcpu"), 3);
        let out = with_runtime(&set);
        let list = out.iter().find(|s| s.architecture == native.scmp_name()).expect("native");
        for name in ["getcpu", "exit_group", "rt_sigreturn", "execve", "capset"] {
            assert!(list.names.contains(&name.to_owned()), "{name} missing from {:?}", list.names);
        }
        assert!(list.names.windows(2).all(|w| w[0] < w[1]), "sorted and unique");
    }
}
