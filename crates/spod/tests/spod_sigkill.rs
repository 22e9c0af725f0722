//! Nothing lost, ever: `spod` is killed with SIGKILL at random points of a
//! burst of installs and updates, restarted, killed again; every profile
//! file on disk must always be a complete version that was compiled from
//! some manifest, and the restarted agent must converge to the last
//! manifests. Two writers racing on one manifest converge to the last
//! write.
//!
//! `SPOD_SIGKILL_ROUNDS` (default 6) sets how many kills; CI can raise it.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod spod_common;
use spod_common as common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{profile, seccomp_manifest, wait_for, write_manifest, Spod};
use spo_model::seccomp::Target;
use spo_node::agent::manifests::parse_file;
use spo_node::agent::seccomp::{filter_of, to_oci_json};
use spo_node::store::sha256_hex;

const PROFILES: usize = 40;

fn spec(version: u32) -> String {
    format!(
        "  defaultAction: SCMP_ACT_ALLOW\n  syscalls:\n  - action: SCMP_ACT_ERRNO\n    errnoRet: {version}\n    names: [mkdir, rmdir, chroot]\n"
    )
}

/// The hash of what the agent installs for `text`.
fn installed_hash(text: &str) -> String {
    let f = parse_file(Path::new("x.yaml"), text.to_owned());
    let doc = &f.docs[0];
    let filter = filter_of(doc, &BTreeMap::new(), &Target::default()).unwrap();
    sha256_hex(&to_oci_json(&filter))
}

struct Rng(u64);
impl Rng {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Every JSON file under the operator directory is complete and known.
fn check_disk(op: &Path, known: &BTreeSet<String>) -> usize {
    let mut n = 0;
    let Ok(rd) = fs::read_dir(op) else { return 0 };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            n += check_disk(&p, known);
            continue;
        }
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(".spod-tmp-") {
            continue; // debris of the kill, never referenced; cleaned at restart
        }
        let bytes = fs::read(&p).unwrap();
        serde_json::from_slice::<serde_json::Value>(&bytes)
            .unwrap_or_else(|e| panic!("{} is not complete JSON: {e}", p.display()));
        assert!(known.contains(&sha256_hex(&bytes)), "{} holds no version ever compiled", p.display());
        n += 1;
    }
    n
}

#[test]
fn sigkill_during_bursts_never_leaves_a_partial_profile() {
    let rounds: u64 = std::env::var("SPOD_SIGKILL_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(6);
    let tmp = tempfile::tempdir().unwrap();
    let (m, k, s) = (tmp.path().join("m"), tmp.path().join("k"), tmp.path().join("s"));
    fs::create_dir(&m).unwrap();
    let op = k.join("seccomp/operator");
    let seed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    eprintln!("seed {seed}");
    let mut rng = Rng(seed);
    let mut known = BTreeSet::new();
    let mut last: BTreeMap<String, String> = BTreeMap::new();
    let mut version = 1u32;
    for round in 0..rounds {
        let mut spod = Spod::start(&m, &k, &s, &["--interval-ms", "20", "--audit-source", "none"]);
        let deadline = rng.next(400);
        let started = std::time::Instant::now();
        while started.elapsed() < Duration::from_millis(deadline) {
            let i = rng.next(PROFILES as u64);
            let name = format!("p{i}");
            let text = seccomp_manifest(&name, "", &spec(version));
            version += 1;
            known.insert(installed_hash(&text));
            if rng.next(2) == 0 {
                write_manifest(&m, &format!("{name}.yaml"), &text);
            } else {
                // In-place writes, as many editors do: the agent may see
                // a half-written file and must not install it.
                fs::write(m.join(format!("{name}.yaml")), &text).unwrap();
            }
            last.insert(name, text);
            std::thread::sleep(Duration::from_micros(rng.next(3000)));
        }
        spod.kill();
        let n = check_disk(&op, &known);
        eprintln!("round {round}: killed after {deadline} ms, {n} complete profile files");
    }

    // Two writers race on one manifest; the last write wins.
    let shared = m.clone();
    let texts: Vec<String> = (0..2).map(|w| seccomp_manifest("raced", "", &spec(900 + w))).collect();
    let writers: Vec<_> = texts
        .iter()
        .cloned()
        .map(|t| {
            let dir = shared.clone();
            std::thread::spawn(move || {
                for _ in 0..200 {
                    write_manifest(&dir, "raced.yaml", &t);
                }
            })
        })
        .collect();
    let spod = Spod::start(&m, &k, &s, &["--interval-ms", "20", "--audit-source", "none"]);
    for w in writers {
        w.join().unwrap();
    }
    let final_text = seccomp_manifest("raced", "", &spec(999));
    write_manifest(&m, "raced.yaml", &final_text);
    last.insert("raced".into(), final_text);

    // Converged: every profile Installed at the hash of its last manifest,
    // one version on disk each, no debris.
    let want: BTreeMap<String, String> = last.iter().map(|(n, t)| (n.clone(), installed_hash(t))).collect();
    wait_for(20, "convergence to the last manifests", || {
        let st = spod.status();
        want.iter()
            .all(|(n, h)| profile(&st, n).is_some_and(|p| p["status"] == "Installed" && p["version"] == h.as_str()))
            .then_some(())
    });
    for (n, h) in &want {
        assert_eq!(sha256_hex(&fs::read(op.join(format!("{n}.json"))).unwrap()), *h, "{n}");
    }
    wait_for(5, "old versions pruned", || {
        want.iter()
            .all(|(n, h)| {
                let v: Vec<_> = fs::read_dir(op.join(n)).unwrap().flatten().map(|e| e.file_name()).collect();
                v.len() == 1 && v[0] == *format!("{h}.json")
            })
            .then_some(())
    });
    let debris: Vec<_> =
        fs::read_dir(&op).unwrap().flatten().filter(|e| e.file_name().to_string_lossy().starts_with('.')).collect();
    assert!(debris.is_empty(), "{debris:?}");
}
