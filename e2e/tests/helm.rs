//! The Helm chart (`deploy/helm/spo-rs`) rendered by `helm template` (Helm
//! built from Go modules by `e2e/k8s/build.sh`) with default and changed
//! values, and the output applied to a real API server with
//! `kubectl apply --dry-run=server` (schema, defaulting and admission of
//! every object; the namespace is created first, dry runs cannot create
//! it). With default values the chart renders exactly the kustomization's
//! objects, field for field, so its templates cannot drift from
//! `deploy/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use spo_e2e::{Binaries, Cluster};

fn chart() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/helm/spo-rs")
}

fn run(program: &Path, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{}: {e}", program.display()));
    assert!(out.status.success(), "{} {}: {}", program.display(), args.join(" "), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every object of a multi-document YAML stream, by `kind/name`.
fn objects(text: &str) -> std::collections::BTreeMap<String, serde_json::Value> {
    spo_e2e::manifests::parse(text)
        .expect("rendered YAML")
        .into_iter()
        .filter(|d| !d.is_null())
        .map(|d| {
            (format!("{}/{}", d["kind"].as_str().unwrap_or("?"), d["metadata"]["name"].as_str().unwrap_or("?")), d)
        })
        .collect()
}

#[test]
fn the_chart_renders_what_the_kustomization_installs_and_the_api_server_takes_it() {
    let name = "the_chart_renders_what_the_kustomization_installs_and_the_api_server_takes_it";
    let Some(bins) = Binaries::for_test(name) else {
        return;
    };
    for tool in ["helm", "kubectl"] {
        if !bins.has(tool) {
            spo_test_support::skip(format!("{name}: {tool} is not built (run e2e/k8s/build.sh)"));
            return;
        }
    }
    let helm = bins.path("helm");
    let kubectl = bins.path("kubectl");
    let chart = chart().display().to_string();
    let rendered = run(&helm, &["template", "spo-rs", &chart, "--include-crds"]);
    let kustomized = run(&kubectl, &["kustomize", &chart.replace("/helm/spo-rs", "")]);
    let (rendered_objects, kustomized_objects) = (objects(&rendered), objects(&kustomized));
    assert_eq!(
        rendered_objects.keys().collect::<Vec<_>>(),
        kustomized_objects.keys().collect::<Vec<_>>(),
        "the chart and deploy/ install different objects"
    );
    for (name, object) in &rendered_objects {
        assert_eq!(
            Some(object),
            kustomized_objects.get(name),
            "{name}: the chart's default rendering differs from deploy/'s (a template not following deploy/)"
        );
    }
    assert!(!rendered.contains("kind: ServiceMonitor"), "monitoring rendered without its CRDs");

    let changed = run(
        &helm,
        &[
            "template",
            "spo-rs",
            &chart,
            "--set",
            "kubeletRoot=/srv/kubelet,spod.selinuxStoreName=targeted,operator.replicas=3,image.spod=reg.example/spod:1,monitoring=true",
        ],
    );
    for want in [
        "--kubelet-root=/srv/kubelet",
        "path: /srv/kubelet/seccomp",
        "--selinux-store-name=targeted",
        "replicas: 3",
        "image: reg.example/spod:1",
        "kind: PrometheusRule",
        "priorityClassName: system-node-critical",
    ] {
        assert!(changed.contains(want), "{want:?} missing from the rendered chart");
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let cluster = Cluster::up(dir.path(), &bins).unwrap_or_else(|e| panic!("cluster up: {e}"));
    let kc = cluster.kubeconfig().display().to_string();
    let file = dir.path().join("rendered.yaml");
    std::fs::write(&file, &rendered).expect("write");
    run(&kubectl, &["--kubeconfig", &kc, "create", "namespace", "security-profiles-operator"]);
    let out = run(&kubectl, &["--kubeconfig", &kc, "apply", "--dry-run=server", "-f", &file.display().to_string()]);
    assert!(out.contains("daemonset.apps/spod") && out.contains("deployment.apps/spo-operator"), "{out}");
    cluster.down().expect("cluster down");
}
