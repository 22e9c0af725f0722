//! spo-rs installed as users install it (`spo_e2e::incluster`): the images
//! built by `scripts/build-image.sh` and imported into the node's
//! containerd, `kubectl apply -k deploy/`, the operator Deployment and the
//! spod DaemonSet Ready as pods, the webhook reached through kube-proxy.
//! Then a SeccompProfile reaches `Installed` and an invalid one is refused
//! with its located message.
//!
//! About 30 s (images 6 s, operator Ready 7 s and spod Ready 10 s after
//! the apply); part of the test command. Alone:
//! `cargo test -p spo-e2e --test incluster` after
//! `cargo build -p spod -p spo-operator --bins`.

use std::time::{Duration, Instant};

use spo_e2e::cluster::Options;
use spo_e2e::spo::NAMESPACE;
use spo_e2e::{incluster, Binaries, Cluster};

const GOOD: &str = "apiVersion: security-profiles-operator.x-k8s.io/v1beta1
kind: SeccompProfile
metadata:
  name: incluster-good
  namespace: NS
spec:
  defaultAction: SCMP_ACT_ERRNO
  syscalls:
    - action: SCMP_ACT_ALLOW
      names: [exit, exit_group, read, write]
";

const TYPO: &str = "apiVersion: security-profiles-operator.x-k8s.io/v1beta1
kind: SeccompProfile
metadata:
  name: incluster-typo
  namespace: NS
spec:
  defaultAction: SCMP_ACT_ERRNO
  syscalls:
    - action: SCMP_ACT_ALLOW
      names: [exit, exit_group, read, mkdirr]
";

#[test]
fn installed_from_the_kustomization_runs_as_pods() {
    let name = "installed_from_the_kustomization_runs_as_pods";
    let Some(bins) = Binaries::for_test(name) else {
        return;
    };
    if let Some(why) = spo_e2e::node::unavailable(&bins).or_else(|| spo_e2e::node::proxy_unavailable(&bins)) {
        spo_test_support::skip(format!("{name} needs a real node with kube-proxy: {why}"));
        return;
    }
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let cluster =
        Cluster::up_with(dir.path(), &bins, Options { node: true }).unwrap_or_else(|e| panic!("cluster up: {e}"));
    if !cluster.has_kubelet() {
        spo_test_support::skip(format!("{name}: another cluster holds this machine's node"));
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let spo = incluster::install(&cluster).await.unwrap_or_else(|e| panic!("install: {e}"));
        eprintln!("incluster: {:?}", spo.timings);
        let file = dir.path().join("good.yaml");
        std::fs::write(&file, GOOD.replace("NS", NAMESPACE)).expect("write");
        spo.kubectl(&["apply", "-f", &file.display().to_string()]).expect("a valid profile is admitted");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let status = spo
                .kubectl(&[
                    "-n",
                    NAMESPACE,
                    "get",
                    "seccompprofile",
                    "incluster-good",
                    "-o",
                    "jsonpath={.status.status}",
                ])
                .unwrap_or_default();
            if status == "Installed" {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "incluster-good is {status:?}, not Installed:\n{}",
                spo.describe_pods().await
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let file = dir.path().join("typo.yaml");
        std::fs::write(&file, TYPO.replace("NS", NAMESPACE)).expect("write");
        let err = spo.kubectl(&["apply", "-f", &file.display().to_string()]).expect_err("the typo is refused");
        let err = err.to_string();
        assert!(err.contains("mkdirr") && err.contains("incluster-typo"), "not the located message: {err}");
    });
    cluster.down().expect("cluster down");
    eprintln!("incluster: test took {:?}", started.elapsed());
}
