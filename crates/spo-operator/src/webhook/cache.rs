//! In-memory copies of everything admission looks at: the four profile
//! kinds, the bindings and the namespaces, each kept current by a watch
//! (a kube-runtime reflector). A request is answered from memory, with no
//! call to the API server, so admission latency does not grow with the
//! API server's load and a pod burst does not turn into a request burst.
//!
//! The copies can lag the API server by the watch delay (milliseconds):
//! a binding created a moment before a pod may not apply to it yet. That
//! is the price every webhook with caches pays; the alternative, a read
//! per request, costs milliseconds on every request instead. The one
//! answer the lag could turn into a wrong refusal, a binding whose profile
//! is not cached, is asked again for up to 2 s before it is given.

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use crate::controller::references::{RefKey, RefKind};
use crate::OperatorError;
use spo_api::crds::{
    AppArmorProfile, ProfileBinding, ProfileRecording, RawSelinuxProfile, SeccompProfile,
    SecurityProfilesOperatorDaemon, SelinuxProfile, SpodSpec, SPOD_NAME,
};

/// The caches admission reads.
#[derive(Clone)]
pub struct Caches {
    /// Seccomp profiles.
    pub seccomp: Store<SeccompProfile>,
    /// Structured SELinux profiles.
    pub selinux: Store<SelinuxProfile>,
    /// Raw (CIL) SELinux profiles.
    pub raw_selinux: Store<RawSelinuxProfile>,
    /// AppArmor profiles.
    pub apparmor: Store<AppArmorProfile>,
    /// Profile bindings.
    pub bindings: Store<ProfileBinding>,
    /// Profile recordings.
    pub recordings: Store<ProfileRecording>,
    /// Namespaces (for the binding label).
    pub namespaces: Store<Namespace>,
    /// The daemon configuration (`allowedSyscalls` and friends).
    pub spod: Store<SecurityProfilesOperatorDaemon>,
    /// The namespace whose bindings apply cluster-wide (the operator's):
    /// shared profiles and their bindings live there, and a binding in a
    /// pod's own namespace wins over a shared one.
    pub shared_namespace: Option<String>,
}

impl std::fmt::Debug for Caches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caches")
            .field("seccomp", &self.seccomp.len())
            .field("selinux", &self.selinux.len())
            .field("raw_selinux", &self.raw_selinux.len())
            .field("apparmor", &self.apparmor.len())
            .field("bindings", &self.bindings.len())
            .field("recordings", &self.recordings.len())
            .field("namespaces", &self.namespaces.len())
            .field("spod", &self.spod.len())
            .field("shared_namespace", &self.shared_namespace)
            .finish()
    }
}

/// One profile a reference resolved to, with what admission needs of it.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundProfile {
    /// `SeccompProfile`, `SelinuxProfile`, ...
    pub kind: &'static str,
    /// Its name.
    pub name: String,
    /// `spec.allowedNamespaces`.
    pub allowed_namespaces: Option<Vec<String>>,
}

impl FoundProfile {
    fn of<K: Resource>(kind: &'static str, obj: &K, allowed: &Option<Vec<String>>) -> FoundProfile {
        FoundProfile { kind, name: obj.meta().name.clone().unwrap_or_default(), allowed_namespaces: allowed.clone() }
    }

    /// Whether a pod in `namespace` may use this profile.
    pub fn allows(&self, namespace: &str) -> bool {
        self.allowed_namespaces.as_ref().is_none_or(|list| list.iter().any(|n| n == namespace))
    }
}

fn key<K: Resource<DynamicType = ()>>(name: &str) -> ObjectRef<K> {
    ObjectRef::new(name)
}

impl Caches {
    /// Empty caches with the writers that fill them (for tests, and for
    /// [`Caches::start`]).
    pub fn empty() -> (Caches, Writers) {
        let (seccomp, w1) = reflector::store();
        let (selinux, w2) = reflector::store();
        let (raw_selinux, w3) = reflector::store();
        let (apparmor, w4) = reflector::store();
        let (bindings, w5) = reflector::store();
        let (namespaces, w6) = reflector::store();
        let (recordings, w7) = reflector::store();
        let (spod, w8) = reflector::store();
        (
            Caches {
                seccomp,
                selinux,
                raw_selinux,
                apparmor,
                bindings,
                recordings,
                namespaces,
                spod,
                shared_namespace: None,
            },
            Writers {
                seccomp: w1,
                selinux: w2,
                raw_selinux: w3,
                apparmor: w4,
                bindings: w5,
                namespaces: w6,
                recordings: w7,
                spod: w8,
            },
        )
    }

    /// Start one watch per kind and return once each has listed
    /// everything once.
    pub async fn start(client: &Client) -> Result<Caches, OperatorError> {
        let (caches, w) = Caches::empty();
        spawn_reflector(Api::<SeccompProfile>::all(client.clone()), w.seccomp);
        spawn_reflector(Api::<SelinuxProfile>::all(client.clone()), w.selinux);
        spawn_reflector(Api::<RawSelinuxProfile>::all(client.clone()), w.raw_selinux);
        spawn_reflector(Api::<AppArmorProfile>::all(client.clone()), w.apparmor);
        spawn_reflector(Api::<ProfileBinding>::all(client.clone()), w.bindings);
        spawn_reflector(Api::<Namespace>::all(client.clone()), w.namespaces);
        spawn_reflector(Api::<ProfileRecording>::all(client.clone()), w.recordings);
        spawn_reflector(Api::<SecurityProfilesOperatorDaemon>::all(client.clone()), w.spod);
        let never = |what| move |_| OperatorError::CacheNeverReady { what };
        caches.seccomp.wait_until_ready().await.map_err(never("SeccompProfile"))?;
        caches.selinux.wait_until_ready().await.map_err(never("SelinuxProfile"))?;
        caches.raw_selinux.wait_until_ready().await.map_err(never("RawSelinuxProfile"))?;
        caches.apparmor.wait_until_ready().await.map_err(never("AppArmorProfile"))?;
        caches.bindings.wait_until_ready().await.map_err(never("ProfileBinding"))?;
        caches.namespaces.wait_until_ready().await.map_err(never("Namespace"))?;
        caches.recordings.wait_until_ready().await.map_err(never("ProfileRecording"))?;
        caches.spod.wait_until_ready().await.map_err(never("SecurityProfilesOperatorDaemon"))?;
        Ok(caches)
    }

    /// The labels of a namespace, if the cache has seen it.
    pub fn namespace_labels(&self, name: &str) -> Option<std::collections::BTreeMap<String, String>> {
        self.namespaces.get(&ObjectRef::new(name)).map(|ns| ns.labels().clone())
    }

    /// The bindings of a namespace.
    pub fn bindings_in(&self, namespace: &str) -> Vec<Arc<ProfileBinding>> {
        self.bindings.state_filter(|b| b.metadata.namespace.as_deref() == Some(namespace))
    }

    /// Every profile a pod reference names: one seccomp or AppArmor
    /// profile; the SELinux profile and the raw one of that name (they
    /// share the type name).
    pub fn resolve(&self, r: &RefKey) -> Vec<FoundProfile> {
        let mut out = Vec::new();
        match r.kind {
            RefKind::Seccomp => {
                if let Some(p) = self.seccomp.get(&key(&r.name)) {
                    out.push(FoundProfile::of("SeccompProfile", &*p, &p.spec.allowed_namespaces));
                }
            }
            RefKind::Selinux => {
                if let Some(p) = self.selinux.get(&key(&r.name)) {
                    out.push(FoundProfile::of("SelinuxProfile", &*p, &p.spec.allowed_namespaces));
                }
                if let Some(p) = self.raw_selinux.get(&key(&r.name)) {
                    out.push(FoundProfile::of("RawSelinuxProfile", &*p, &p.spec.allowed_namespaces));
                }
            }
            RefKind::AppArmor => {
                if let Some(p) = self.apparmor.get(&key(&r.name)) {
                    out.push(FoundProfile::of("AppArmorProfile", &*p, &p.spec.allowed_namespaces));
                }
            }
        }
        out
    }

    /// The daemon configuration (`spod` in the operator's namespace), or
    /// SPO's defaults while there is none.
    pub fn daemon(&self) -> SpodSpec {
        let ns = self.shared_namespace.as_deref().unwrap_or("security-profiles-operator");
        self.spod.get(&ObjectRef::new(SPOD_NAME).within(ns)).map(|s| s.spec.clone()).unwrap_or_default()
    }
}

/// The writing halves of [`Caches`].
pub struct Writers {
    /// Seccomp profiles.
    pub seccomp: reflector::store::Writer<SeccompProfile>,
    /// Structured SELinux profiles.
    pub selinux: reflector::store::Writer<SelinuxProfile>,
    /// Raw SELinux profiles.
    pub raw_selinux: reflector::store::Writer<RawSelinuxProfile>,
    /// AppArmor profiles.
    pub apparmor: reflector::store::Writer<AppArmorProfile>,
    /// Bindings.
    pub bindings: reflector::store::Writer<ProfileBinding>,
    /// Namespaces.
    pub namespaces: reflector::store::Writer<Namespace>,
    /// Recordings.
    pub recordings: reflector::store::Writer<ProfileRecording>,
    /// The daemon configuration.
    pub spod: reflector::store::Writer<SecurityProfilesOperatorDaemon>,
}

impl std::fmt::Debug for Writers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Writers")
    }
}

fn spawn_reflector<K>(api: Api<K>, writer: reflector::store::Writer<K>)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
{
    // Admission never reads managed fields or kubectl's copy of the last
    // applied object, which together double the size of a typical profile.
    let slim = watcher(api, watcher::Config::default().any_semantic()).modify(|o: &mut K| {
        let meta = o.meta_mut();
        meta.managed_fields = None;
        if let Some(a) = meta.annotations.as_mut() {
            a.remove("kubectl.kubernetes.io/last-applied-configuration");
        }
    });
    let stream = reflector::reflector(writer, slim).default_backoff().for_each(|event| async move {
        if let Err(e) = event {
            tracing::warn!(kind = %K::kind(&()), error = %e, "admission cache watch failed; retrying");
        }
    });
    tokio::spawn(stream);
}
