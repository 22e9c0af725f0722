//! End to end: record Debian's nginx with each recorder while `curl`
//! drives it, then run nginx under the recorded profile (enforcing, default
//! `SCMP_ACT_ERRNO`) with `spoc run`: the same requests must pass, and a
//! syscall the recording never saw must fail with EPERM.
//!
//! Needs root, `/usr/sbin/nginx` (Debian `nginx-light` or `nginx`), `curl`
//! and `cc`; skips loudly otherwise.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SPOC: &str = env!("CARGO_BIN_EXE_spoc");
const NGINX: &str = "/usr/sbin/nginx";

fn skip(why: &str) {
    spo_test_support::skip(why);
}

use spo_test_support::{have, is_root};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn setup(dir: &Path, port: u16) -> Vec<String> {
    std::fs::create_dir_all(dir.join("www")).unwrap();
    std::fs::write(dir.join("www/index.html"), "hello from nginx\n").unwrap();
    let d = dir.display();
    let conf = format!(
        "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n  access_log {d}/access.log;\n  client_body_temp_path {d}/body;\n\
           server {{ listen 127.0.0.1:{port}; root {d}/www; }}\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    vec![
        NGINX.into(),
        "-p".into(),
        d.to_string(),
        "-c".into(),
        format!("{d}/nginx.conf"),
        "-e".into(),
        format!("{d}/error.log"),
    ]
}

fn trigger(port: u16) -> String {
    format!(
        "curl -sf http://127.0.0.1:{port}/ | grep -q 'hello from nginx' && \
         test \"$(curl -s -o /dev/null -w '%{{http_code}}' http://127.0.0.1:{port}/missing)\" = 404"
    )
}

fn wait_port(port: u16, child: &mut Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn compile_deny(dir: &Path) -> Option<PathBuf> {
    let src = dir.join("deny.c");
    std::fs::write(
        &src,
        "#define _GNU_SOURCE\n#include <errno.h>\n#include <sys/syscall.h>\n#include <unistd.h>\n\
         int main(void) { unsigned cpu; long r = syscall(SYS_getcpu, &cpu, (void *)0, (void *)0);\n\
         return (r == -1 && errno == EPERM) ? 0 : 1; }\n",
    )
    .unwrap();
    let out = dir.join("deny");
    Command::new("cc").arg("-o").arg(&out).arg(&src).status().ok()?.success().then_some(out)
}

#[test]
fn nginx_recorded_with_a_trigger_runs_under_its_profile() {
    if !is_root() {
        return skip("recording nginx needs root");
    }
    if !Path::new(NGINX).exists() {
        return skip("nginx is not installed (apt-get install -y nginx-light)");
    }
    if !have("curl") || !have("cc") {
        return skip("curl and cc are needed");
    }
    if !Command::new(SPOC).args(["record", "--help"]).stdout(Stdio::null()).status().unwrap().success() {
        panic!("spoc has no `record` command");
    }
    let tmp = tempfile::tempdir().unwrap();
    let deny = compile_deny(tmp.path()).expect("cc compiles the deny probe");
    let ebpf_ok = Command::new(SPOC)
        .args(["record", "--recorder", "ebpf", "--base", "none", "-o"])
        .arg(tmp.path().join("true.yaml"))
        .args(["--", "true"])
        .status()
        .unwrap()
        .success();
    let mut recorders = vec!["ptrace", "logs"];
    if ebpf_ok {
        recorders.insert(0, "ebpf");
    } else {
        skip("the eBPF recorder is not available here; nginx recorded with ptrace and logs only");
    }
    for recorder in recorders {
        let dir = tmp.path().join(recorder);
        let port = free_port();
        let cmd = setup(&dir, port);
        let profile = dir.join("nginx.yaml");
        let out = Command::new(SPOC)
            .args(["record", "--recorder", recorder, "--ready-port", &port.to_string(), "--trigger", &trigger(port)])
            .arg("-o")
            .arg(&profile)
            .arg("--")
            .args(&cmd)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{recorder}: spoc record failed: {stderr}");
        let text = std::fs::read_to_string(&profile).unwrap();
        assert!(text.contains("defaultAction: SCMP_ACT_ERRNO"), "{text}");
        for call in ["accept4", "epoll_wait", "setuid", "writev"] {
            assert!(text.contains(&format!("- {call}\n")), "{recorder}: {call} missing from\n{text}");
        }

        // Enforcing: the same trigger passes.
        let port2 = free_port();
        let cmd2 = setup(&dir.join("enforce"), port2);
        let mut server = Command::new(SPOC)
            .args(["run", "--profile"])
            .arg(&profile)
            .arg("--")
            .args(&cmd2)
            .process_group(0)
            .spawn()
            .unwrap();
        let up = wait_port(port2, &mut server);
        let passed = up && Command::new("sh").arg("-c").arg(trigger(port2)).status().unwrap().success();
        // nginx's workers share the master's process group: stop them all.
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", server.id())]).status();
        let _ = server.wait();
        let log = std::fs::read_to_string(dir.join("enforce/error.log")).unwrap_or_default();
        assert!(up, "{recorder}: nginx did not start under its recorded profile:\n{log}");
        assert!(passed, "{recorder}: the trigger failed under the recorded profile:\n{log}");

        // A call the run never made is denied.
        let st = Command::new(SPOC).args(["run", "--profile"]).arg(&profile).arg("--").arg(&deny).status().unwrap();
        assert_eq!(st.code(), Some(0), "{recorder}: getcpu was not denied with EPERM");
    }
    // Without the profile the probe's call succeeds, so the check above means something.
    assert_eq!(Command::new(&deny).status().unwrap().code(), Some(1));
}
