//! Background processes recorded in a pid file, so a later `down` (another
//! process, perhaps another day) stops exactly what `up` started.
//!
//! Each line of `DIR/pids` is `name pid start-time`, the start time being
//! field 22 of `/proc/PID/stat`: a recycled process id never matches it,
//! so `down` cannot signal a stranger.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::E2eError;

/// One started process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Recorded {
    pub name: String,
    pub pid: u32,
    pub start_time: u64,
    pub log: PathBuf,
}

pub(crate) fn pid_file(dir: &Path) -> PathBuf {
    dir.join("pids")
}

/// Start `cmd` in its own process group with output to `DIR/logs/NAME.log`,
/// and record it.
pub(crate) fn spawn(dir: &Path, name: &str, mut cmd: Command) -> Result<Recorded, E2eError> {
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(E2eError::io(&logs))?;
    let log = logs.join(format!("{name}.log"));
    let out = std::fs::File::create(&log).map_err(E2eError::io(&log))?;
    let err = out.try_clone().map_err(E2eError::io(&log))?;
    let child = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|source| E2eError::Spawn { program: name.to_owned(), source })?;
    let pid = child.id();
    // The child is not waited for here: it outlives this process when run
    // from the command line. `alive` treats a zombie as gone.
    drop(child);
    let start_time = stat(pid).map(|s| s.1).unwrap_or(0);
    let rec = Recorded { name: name.to_owned(), pid, start_time, log };
    let path = pid_file(dir);
    let mut f = OpenOptions::new().create(true).append(true).open(&path).map_err(E2eError::io(&path))?;
    writeln!(f, "{} {} {}", rec.name, rec.pid, rec.start_time).map_err(E2eError::io(&path))?;
    Ok(rec)
}

/// The processes recorded in `dir`, in start order.
pub(crate) fn recorded(dir: &Path) -> Result<Vec<Recorded>, E2eError> {
    let path = pid_file(dir);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(E2eError::Io { path, source: e }),
    };
    Ok(text
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let name = f.next()?.to_owned();
            let pid = f.next()?.parse().ok()?;
            let start_time = f.next()?.parse().ok()?;
            let log = dir.join("logs").join(format!("{name}.log"));
            Some(Recorded { name, pid, start_time, log })
        })
        .collect())
}

/// `(state, start time)` from `/proc/PID/stat`.
fn stat(pid: u32) -> Option<(char, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((state, start))
}

/// What a process has used so far: user plus system CPU seconds
/// (`/proc/PID/stat`, in USER_HZ, 100 on Linux) and resident memory in KiB
/// (`VmRSS`). Zero for a process that is gone.
pub fn usage(pid: u32) -> (f64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses: utime and
    // stime are the 12th and 13th.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, r)| r).split_whitespace().collect();
    let ticks: u64 = [11, 12].iter().filter_map(|&i| fields.get(i)?.parse::<u64>().ok()).sum();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    (ticks as f64 / 100.0, rss)
}

/// Whether the recorded process still runs (a zombie does not).
pub(crate) fn alive(rec: &Recorded) -> bool {
    matches!(stat(rec.pid), Some((state, start)) if state != 'Z' && start == rec.start_time)
}

/// Stop every recorded live process, newest first, each before the next
/// (the API server shuts down in a second while etcd is up, but keeps
/// retrying when etcd goes first): SIGTERM, then SIGKILL after `grace`.
/// Removes the pid file when all are gone.
pub(crate) fn stop_all(dir: &Path, grace: Duration) -> Result<Vec<String>, E2eError> {
    let mut recs = recorded(dir)?;
    recs.reverse();
    let mut stopped = Vec::new();
    for rec in recs.iter().filter(|r| alive(r)) {
        signal(rec.pid, "TERM")?;
        stopped.push(rec.name.clone());
        if !wait_gone(rec, grace) {
            signal(rec.pid, "KILL")?;
            if !wait_gone(rec, Duration::from_secs(5)) {
                return Err(E2eError::Timeout {
                    what: format!("stopping {} (pid {})", rec.name, rec.pid),
                    seconds: grace.as_secs() + 5,
                });
            }
        }
    }
    let path = pid_file(dir);
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(E2eError::Io { path, source: e }),
    }
    Ok(stopped)
}

/// Stop one recorded process: SIGTERM, then SIGKILL after `grace` (at
/// once when `grace` is zero).
pub(crate) fn kill(rec: &Recorded, grace: Duration) -> Result<(), E2eError> {
    if !alive(rec) {
        return Ok(());
    }
    signal(rec.pid, if grace.is_zero() { "KILL" } else { "TERM" })?;
    if wait_gone(rec, grace.max(Duration::from_millis(1))) {
        return Ok(());
    }
    signal(rec.pid, "KILL")?;
    if wait_gone(rec, Duration::from_secs(5)) {
        Ok(())
    } else {
        Err(E2eError::Timeout {
            what: format!("stopping {} (pid {})", rec.name, rec.pid),
            seconds: grace.as_secs() + 5,
        })
    }
}

fn wait_gone(rec: &Recorded, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while alive(rec) {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

fn signal(pid: u32, sig: &str) -> Result<(), E2eError> {
    // kill(1) rather than kill(2): no unsafe code for one syscall. A process
    // that exits between the check and the signal makes kill fail, which is
    // the outcome wanted, so its status is not an error.
    Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status()
        .map(|_| ())
        .map_err(|source| E2eError::Spawn { program: "kill".into(), source })
}

/// The last `n` lines of a log file.
pub(crate) fn log_tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_stops_a_process_group() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cmd = Command::new("sleep");
        cmd.arg("60");
        let rec = spawn(dir.path(), "sleeper", cmd).expect("spawn");
        assert!(alive(&rec));
        assert_eq!(recorded(dir.path()).expect("pid file"), vec![rec.clone()]);
        let stopped = stop_all(dir.path(), Duration::from_secs(5)).expect("stop");
        assert_eq!(stopped, ["sleeper"]);
        assert!(!alive(&rec));
        assert!(!pid_file(dir.path()).exists());
    }

    #[test]
    fn a_recycled_pid_is_not_ours() {
        let me = std::process::id();
        let (_, start) = stat(me).expect("own stat");
        let rec = Recorded { name: "x".into(), pid: me, start_time: start + 1, log: PathBuf::new() };
        assert!(!alive(&rec));
        let rec = Recorded { start_time: start, ..rec };
        assert!(alive(&rec));
    }
}
