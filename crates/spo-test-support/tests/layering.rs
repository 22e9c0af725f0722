//! The workspace's layering, as `docs/ARCHITECTURE.md` draws it, checked
//! against `cargo metadata`: a crate that gains a dependency against the
//! direction of the graph, or reaches a Kubernetes client where none may
//! be linked, fails here with the edge named.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// Each library or binary crate and the workspace crates its normal (and
/// build) dependencies may name. `spo-e2e`, `spo-vm` and `spo-benches` sit on top
/// and may use anything.
const ALLOWED: &[(&str, &[&str])] = &[
    ("spo-model", &[]),
    ("spo-parse", &["spo-model"]),
    ("spo-compile", &["spo-model"]),
    ("spo-validate", &["spo-model", "spo-parse", "spo-compile"]),
    ("spo-api", &["spo-model"]),
    ("spo-node", &["spo-model", "spo-parse", "spo-compile"]),
    ("spod", &["spo-model", "spo-parse", "spo-node", "spo-api"]),
    ("spo-operator", &["spo-model", "spo-parse", "spo-compile", "spo-validate", "spo-api"]),
    ("spo-cli", &["spo-model", "spo-parse", "spo-compile", "spo-validate", "spo-node"]),
    ("spo-test-support", &[]),
];

/// Crates that may not be reached, even transitively, through the normal
/// dependencies of these workspace crates: the Kubernetes client stack
/// belongs to the operator and to spod alone.
const NO_CLIENT: &[&str] = &["spo-model", "spo-parse", "spo-compile", "spo-validate", "spo-api", "spo-node", "spo-cli"];
const CLIENT_CRATES: &[&str] = &["kube", "kube-client", "kube-runtime", "hyper", "tokio"];

#[test]
fn dependencies_follow_the_documented_layers() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .current_dir(root)
        .output()
        .expect("run cargo metadata");
    assert!(out.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

    let members: BTreeSet<String> =
        meta["workspace_members"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
    let name_of: BTreeMap<String, String> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap().to_owned(), p["name"].as_str().unwrap().to_owned()))
        .collect();
    // Normal and build edges of the resolved graph, by package name.
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for node in meta["resolve"]["nodes"].as_array().unwrap() {
        let from = &name_of[node["id"].as_str().unwrap()];
        for dep in node["deps"].as_array().unwrap() {
            let runtime =
                dep["dep_kinds"].as_array().unwrap().iter().any(|k| k["kind"].is_null() || k["kind"] == "build");
            if runtime {
                edges.entry(from.clone()).or_default().insert(name_of[dep["pkg"].as_str().unwrap()].clone());
            }
        }
    }
    let workspace: BTreeSet<&str> = members.iter().map(|id| name_of[id].as_str()).collect();
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();

    let mut wrong = Vec::new();
    for krate in &workspace {
        if matches!(*krate, "spo-e2e" | "spo-benches" | "spo-vm") {
            continue;
        }
        let Some(ok) = allowed.get(krate) else {
            wrong.push(format!("{krate} is not in the layering table: add it here and to docs/ARCHITECTURE.md"));
            continue;
        };
        for dep in edges.get(*krate).into_iter().flatten() {
            if workspace.contains(dep.as_str()) && !ok.contains(&dep.as_str()) {
                wrong.push(format!("{krate} -> {dep} goes against the layering (allowed: {ok:?})"));
            }
        }
    }
    for krate in NO_CLIENT {
        let mut seen = BTreeSet::new();
        let mut stack = vec![(*krate).to_owned()];
        let mut path: BTreeMap<String, String> = BTreeMap::new();
        while let Some(c) = stack.pop() {
            for d in edges.get(&c).into_iter().flatten() {
                if seen.insert(d.clone()) {
                    path.insert(d.clone(), c.clone());
                    stack.push(d.clone());
                }
            }
        }
        for bad in CLIENT_CRATES.iter().filter(|c| seen.contains(**c)) {
            let mut chain = vec![(*bad).to_owned()];
            while let Some(p) = path.get(chain.last().unwrap()) {
                chain.push(p.clone());
                if p == krate {
                    break;
                }
            }
            chain.reverse();
            wrong.push(format!("{krate} links the Kubernetes client stack: {}", chain.join(" -> ")));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // The table must name real crates, so a rename cannot empty the check.
    for (krate, _) in ALLOWED {
        assert!(workspace.contains(krate), "{krate} in the layering table is not a workspace crate");
    }
}
