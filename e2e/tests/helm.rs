//! The Helm chart (`deploy/helm/spo-rs`) rendered by `helm template` (Helm
//! built from Go modules by `e2e/k8s/build.sh`) with default and changed
//! values, and the output applied to a real API server with
//! `kubectl apply --dry-run=server` (schema, defaulting and admission of
//! every object; the namespace is created first, dry runs cannot create
//! it). The rendered objects are the kustomization's, by kind and name.

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

/// `kind/name` of every object of a multi-document YAML stream.
fn objects(text: &str) -> Vec<String> {
    let mut names: Vec<String> = spo_e2e::manifests::parse(text)
        .expect("rendered YAML")
        .iter()
        .filter(|d| !d.is_null())
        .map(|d| format!("{}/{}", d["kind"].as_str().unwrap_or("?"), d["metadata"]["name"].as_str().unwrap_or("?")))
        .collect();
    names.sort();
    names
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
    assert_eq!(objects(&rendered), objects(&kustomized), "the chart and deploy/ install different objects");
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
