//! A process that is gone before its audit record is read is attributed
//! through its parent, with the kernel's real process events (the netlink
//! proc connector; needs root).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use spo_node::enrich::lineage::{follow, Lineage};
use spo_node::enrich::Attributor;

#[test]
fn an_exited_child_is_attributed_through_its_parent() {
    let lineage = Arc::new(Lineage::default());
    if let Err(e) = follow(lineage.clone()) {
        spo_test_support::skip(format!(
            "an_exited_child_is_attributed_through_its_parent needs the proc connector (root): {e}"
        ));
        return;
    }
    // The parent runs under a profile named in its environment, as `spoc
    // run` starts processes; its child exits at once.
    let mut parent = Command::new("sh")
        .args(["-c", "/bin/true & echo $!; wait; sleep 5"])
        .env("SPO_PROFILE", "lineage-test")
        .stdout(Stdio::piped())
        .spawn()
        .expect("sh");
    let mut line = String::new();
    BufReader::new(parent.stdout.take().expect("stdout")).read_line(&mut line).expect("child pid");
    let child: u32 = line.trim().parse().expect("a pid");

    let deadline = Instant::now() + Duration::from_secs(5);
    while Path::new(&format!("/proc/{child}")).exists() || lineage.parent(child).is_none() {
        assert!(Instant::now() < deadline, "child {child} still there, or its fork never announced");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(lineage.parent(child), Some(parent.id()));

    let without = Attributor::new(Vec::new());
    assert_eq!(without.attribute(child).profile, None, "without process events the child is lost");
    let with = Attributor::new(Vec::new());
    with.set_lineage(lineage);
    assert_eq!(with.attribute(child).profile.as_deref(), Some("lineage-test"));

    let _ = parent.kill();
    let _ = parent.wait();
}
