//! One recording from start to finish: contain the workload, start it
//! under a recorder, wait for it to be ready, drive it with the trigger,
//! stop it, and collect what the recorder saw.
//!
//! The sequencing lives here, once, so the three recorders differ only in
//! how they observe calls; that is what lets a test demand that they agree.
#![allow(unsafe_code)]

use std::ffi::OsString;
use std::fmt;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::str::FromStr;
use std::thread;
use std::time::{Duration, Instant};

use super::cgroup::{self, Cgroup};
use super::set::SyscallSet;
use super::{ebpf, logs, ptrace};
use crate::NodeError;

/// How calls are observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecorderKind {
    /// An eBPF program on the `sys_enter` raw tracepoint counting calls of
    /// the workload's cgroup: cheapest, needs `CAP_BPF` and `CAP_PERFMON`.
    Ebpf,
    /// ptrace on every process and thread of the workload: needs nothing
    /// but is slow.
    Ptrace,
    /// A seccomp filter logging every call, read back from the audit
    /// netlink socket: the mechanism complain mode uses.
    Logs,
}

impl RecorderKind {
    /// Every recorder.
    pub const ALL: &'static [RecorderKind] = &[RecorderKind::Ebpf, RecorderKind::Ptrace, RecorderKind::Logs];

    /// The name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            RecorderKind::Ebpf => "ebpf",
            RecorderKind::Ptrace => "ptrace",
            RecorderKind::Logs => "logs",
        }
    }

    /// The best recorder this host supports: eBPF where the kernel accepts
    /// the program, ptrace otherwise.
    pub fn best_available() -> RecorderKind {
        if ebpf::available() {
            RecorderKind::Ebpf
        } else {
            RecorderKind::Ptrace
        }
    }
}

impl fmt::Display for RecorderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RecorderKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        RecorderKind::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown recorder `{s}` (expected ebpf, ptrace or logs)"))
    }
}

/// What to record and how.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The workload: program and arguments.
    pub command: Vec<OsString>,
    /// The recorder.
    pub recorder: RecorderKind,
    /// A shell command line that drives the workload once it is ready
    /// (run with `sh -c`, not recorded); the workload is stopped when it
    /// exits. Without it, the recording ends when the workload exits.
    pub trigger: Option<String>,
    /// Wait this long after start (after the port, if any) before the
    /// trigger runs.
    pub ready_delay: Option<Duration>,
    /// The workload is ready when this TCP port on the loopback accepts
    /// connections.
    pub ready_port: Option<u16>,
    /// Give up waiting for readiness after this long.
    pub ready_timeout: Duration,
    /// Time between SIGTERM and SIGKILL when stopping the workload.
    pub grace: Duration,
    /// Logs recorder only: do not install the log-everything filter, and
    /// collect the records of the filter the workload installs itself (a
    /// container runtime given an `SCMP_ACT_LOG` profile records exactly
    /// what it does after applying the filter).
    pub workload_filter: bool,
}

impl Plan {
    /// A plan to record `command` with `recorder` until it exits.
    pub fn new(command: Vec<OsString>, recorder: RecorderKind) -> Plan {
        Plan {
            command,
            recorder,
            trigger: None,
            ready_delay: None,
            ready_port: None,
            ready_timeout: Duration::from_secs(60),
            grace: Duration::from_secs(5),
            workload_filter: false,
        }
    }
}

/// What a recording found.
#[derive(Debug, Clone)]
pub struct Recording {
    /// The calls seen.
    pub syscalls: SyscallSet,
    /// How the workload's first process ended.
    pub workload: ExitStatus,
    /// How the trigger ended, when there was one.
    pub trigger: Option<ExitStatus>,
    /// How long the recording took.
    pub elapsed: Duration,
    /// Things the user should know (workload killed, numbers unknown).
    pub notes: Vec<String>,
}

/// A workload running under a recorder.
pub(super) trait Running: Send {
    /// Pid of the workload's first process.
    fn pid(&self) -> u32;
    /// The first process's exit status once it has exited (and is reaped).
    fn try_wait(&mut self) -> Result<Option<ExitStatus>, NodeError>;
    /// Distinct calls seen so far.
    fn seen(&mut self) -> usize;
    /// Everything seen; called once every process of the workload is gone.
    fn finish(self: Box<Self>) -> Result<(SyscallSet, Vec<String>), NodeError>;
    /// Processes of the workload still alive, for a recorder that tracks
    /// them itself; `None` when it does not.
    fn live_pids(&self) -> Option<Vec<u32>> {
        None
    }
}

/// Where the workload's processes are: its cgroup, or (ptrace where no
/// cgroup can be made) the tracer's own list.
#[derive(Debug)]
enum Group {
    Cgroup(Cgroup),
    Traced,
}

impl Group {
    fn pids(&self, run: &dyn Running) -> Vec<u32> {
        match self {
            Group::Cgroup(c) => c.pids(),
            Group::Traced => run.live_pids().unwrap_or_default(),
        }
    }

    fn populated(&self, run: &dyn Running) -> bool {
        match self {
            Group::Cgroup(c) => c.populated(),
            Group::Traced => !run.live_pids().unwrap_or_default().is_empty(),
        }
    }

    fn kill_all(&self, run: &dyn Running) {
        match self {
            Group::Cgroup(c) => c.kill_all(),
            Group::Traced => {
                for pid in self.pids(run) {
                    cgroup::signal(pid, libc::SIGKILL);
                }
            }
        }
    }

    fn wait_empty(&self, run: &dyn Running, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.populated(run) {
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(POLL);
        }
        true
    }
}

/// How often the progress callback runs.
const TICK: Duration = Duration::from_millis(100);
/// How often the workload and the trigger are polled: short, so a quick
/// workload's recording ends as soon as it does (a `waitpid(WNOHANG)`
/// costs next to nothing).
const POLL: Duration = Duration::from_millis(2);

/// Record `plan`. `progress` is called about every 100 ms with the time
/// since the start and the distinct calls seen so far.
pub fn record(plan: &Plan, progress: &mut dyn FnMut(Duration, usize)) -> Result<Recording, NodeError> {
    let Some((program, args)) = plan.command.split_first() else {
        return Err(NodeError::Workload { what: "no command to record".into() });
    };
    let mut notes = Vec::new();
    let cg = match Cgroup::create() {
        Ok(cg) => Group::Cgroup(cg),
        // ptrace sees every process of the workload by itself, so it can do
        // without a cgroup (an unprivileged user may not create one).
        Err(e) if plan.recorder == RecorderKind::Ptrace => {
            notes.push(format!("no cgroup for the workload ({e}); tracking its processes by ptrace alone"));
            Group::Traced
        }
        Err(e) => return Err(e),
    };
    let mut cmd = Command::new(program);
    cmd.args(args);
    if let Group::Cgroup(c) = &cg {
        let procs = c.procs_writer()?;
        // SAFETY: the hook makes one write(2) on a descriptor opened before
        // the fork and allocates nothing.
        unsafe {
            cmd.pre_exec(move || cgroup::join(&procs));
        }
    }
    let start = Instant::now();
    let mut run = match (plan.recorder, &cg) {
        (RecorderKind::Ebpf, Group::Cgroup(c)) => ebpf::start(cmd, c)?,
        (RecorderKind::Ptrace, _) => ptrace::start(cmd)?,
        (RecorderKind::Logs, _) => logs::start(cmd, !plan.workload_filter)?,
        (RecorderKind::Ebpf, Group::Traced) => {
            return Err(NodeError::Workload { what: "the eBPF recorder needs a cgroup".into() })
        }
    };
    let mut last_tick: Option<Instant> = None;
    let mut tick = |run: &mut Box<dyn Running>| {
        if last_tick.is_none_or(|t| t.elapsed() >= TICK) {
            last_tick = Some(Instant::now());
            progress(start.elapsed(), run.seen());
        }
    };

    let outcome = drive(plan, &mut run, &cg, &mut notes, &mut tick);
    if outcome.is_err() {
        cg.kill_all(&*run);
    }
    // Every process must be gone before the recorder's set is final.
    if !cg.wait_empty(&*run, plan.grace) {
        cg.kill_all(&*run);
        cg.wait_empty(&*run, Duration::from_secs(5));
    }
    let workload = wait_reaped(&mut run)?;
    let trigger = outcome?;
    let (syscalls, more) = run.finish()?;
    notes.extend(more);
    Ok(Recording { syscalls, workload, trigger, elapsed: start.elapsed(), notes })
}

/// Run the trigger phase (if any) and stop the workload; returns the
/// trigger's status.
fn drive(
    plan: &Plan,
    run: &mut Box<dyn Running>,
    cg: &Group,
    notes: &mut Vec<String>,
    tick: &mut dyn FnMut(&mut Box<dyn Running>),
) -> Result<Option<ExitStatus>, NodeError> {
    let Some(trigger) = &plan.trigger else {
        // No trigger: the recording lasts as long as the workload.
        while run.try_wait()?.is_none() {
            tick(run);
            thread::sleep(POLL);
        }
        if cg.populated(&**run) {
            notes.push("processes the workload left behind were stopped".into());
            stop(plan, run, cg, notes)?;
        }
        tick(run);
        return Ok(None);
    };
    wait_ready(plan, run, tick)?;
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(trigger)
        .stdin(Stdio::null())
        .spawn()
        .map_err(|source| NodeError::Spawn { tool: "sh".into(), source })?;
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|source| NodeError::Io {
            op: "wait for the trigger",
            path: "sh".into(),
            source,
        })? {
            break s;
        }
        tick(run);
        thread::sleep(POLL);
    };
    if let Some(s) = run.try_wait()? {
        notes.push(format!("the workload exited ({s}) before the trigger finished"));
    }
    stop(plan, run, cg, notes)?;
    tick(run);
    Ok(Some(status))
}

/// Wait until the workload is ready: its port accepts a connection, then
/// the delay passed. Fails if it exits or times out first.
fn wait_ready(
    plan: &Plan,
    run: &mut Box<dyn Running>,
    tick: &mut dyn FnMut(&mut Box<dyn Running>),
) -> Result<(), NodeError> {
    let deadline = Instant::now() + plan.ready_timeout;
    let check_exit = |run: &mut Box<dyn Running>| -> Result<(), NodeError> {
        match run.try_wait()? {
            Some(s) => Err(NodeError::Workload { what: format!("the workload exited ({s}) before it was ready") }),
            None => Ok(()),
        }
    };
    if let Some(port) = plan.ready_port {
        let addrs = [SocketAddr::from(([127, 0, 0, 1], port)), SocketAddr::from(([0u16, 0, 0, 0, 0, 0, 0, 1], port))];
        loop {
            check_exit(run)?;
            if addrs.iter().any(|a| TcpStream::connect_timeout(a, Duration::from_millis(200)).is_ok()) {
                break;
            }
            if Instant::now() >= deadline {
                return Err(NodeError::Workload {
                    what: format!("port {port} did not accept connections within {:?}", plan.ready_timeout),
                });
            }
            tick(run);
            thread::sleep(Duration::from_millis(50));
        }
    }
    let delay =
        plan.ready_delay.unwrap_or(if plan.ready_port.is_some() { Duration::ZERO } else { Duration::from_secs(1) });
    let until = Instant::now() + delay;
    while Instant::now() < until {
        check_exit(run)?;
        tick(run);
        thread::sleep(POLL.min(until.saturating_duration_since(Instant::now())));
    }
    check_exit(run)
}

/// SIGTERM to the first process (and to any process left when it is already
/// gone), SIGKILL to the whole cgroup after the grace period.
fn stop(plan: &Plan, run: &mut Box<dyn Running>, cg: &Group, notes: &mut Vec<String>) -> Result<(), NodeError> {
    if run.try_wait()?.is_none() {
        cgroup::signal(run.pid(), libc::SIGTERM);
    } else {
        for pid in cg.pids(&**run) {
            cgroup::signal(pid, libc::SIGTERM);
        }
    }
    let deadline = Instant::now() + plan.grace;
    while cg.populated(&**run) {
        run.try_wait()?;
        if Instant::now() >= deadline {
            notes.push(format!("the workload did not stop within {:?} of SIGTERM and was killed", plan.grace));
            cg.kill_all(&**run);
            break;
        }
        thread::sleep(POLL);
    }
    Ok(())
}

/// The first process's status, waiting for the recorder to reap it.
fn wait_reaped(run: &mut Box<dyn Running>) -> Result<ExitStatus, NodeError> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(s) = run.try_wait()? {
            return Ok(s);
        }
        if Instant::now() >= deadline {
            return Err(NodeError::Workload { what: format!("process {} did not exit", run.pid()) });
        }
        thread::sleep(Duration::from_millis(1));
    }
}
