//! Compiled filters on the real kernel.
//!
//! Each case forks: the child installs the filter, makes the call and
//! reports through its exit status; the parent (the test process, which
//! never gets a filter) checks what happened. Cases skip with a message
//! where the kernel lacks a feature or the test is not root.
#![allow(unsafe_code)]

use std::time::Duration;

use spo_model::seccomp::{Action, ArgCmp, Filter, FilterRule, Operator};
use spo_model::Arch;
use spo_node::audit::{AuditSocket, SeccompRecord, AUDIT_SECCOMP};
use spo_node::seccomp::{action_available, Program};
use spo_node::NodeError;

/// What became of a child.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Exited(i32),
    Signaled(i32),
}

/// Compile `filter` into kernel bytes.
fn compile(filter: &Filter) -> Vec<u8> {
    hand::compile(filter)
}

fn seccomp_usable() -> bool {
    if !action_available(spo_model::seccomp::ret::ALLOW) {
        eprintln!("SKIPPED: this kernel has no seccomp filter support");
        return false;
    }
    true
}

/// Fork; in the child install `prog` with `flags`, run `body` and exit with
/// its result. The program is prepared before the fork so the child only
/// makes system calls.
fn in_child(prog: &Program, flags: u32, body: fn() -> i32) -> (i32, Outcome) {
    // SAFETY: the child runs only `install_raw` (system calls, no
    // allocation), `body` (system calls) and `_exit`.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        // SAFETY: no core file for the SIGSYS deaths these tests provoke.
        unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
        let code = match prog.install_raw(flags) {
            Ok(_) => body(),
            Err(e) => 100 + e.raw_os_error().unwrap_or(0).min(100),
        };
        // SAFETY: leave the child without running the parent's exit hooks.
        unsafe { libc::_exit(code) };
    }
    (pid, wait(pid))
}

fn wait(pid: i32) -> Outcome {
    let mut status = 0;
    // SAFETY: waits for our own child; `status` is a live local.
    let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(rc, pid, "waitpid: {}", std::io::Error::last_os_error());
    if libc::WIFEXITED(status) {
        Outcome::Exited(libc::WEXITSTATUS(status))
    } else {
        assert!(
            libc::WIFSIGNALED(status),
            "child neither exited nor was killed: {status:#x}"
        );
        Outcome::Signaled(libc::WTERMSIG(status))
    }
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn native() -> Arch {
    Arch::native().expect("spo-rs knows the build architecture")
}

fn rule(syscall: &str, action: Action, args: Vec<ArgCmp>) -> FilterRule {
    FilterRule {
        syscall: syscall.into(),
        action,
        args,
    }
}

fn program(filter: &Filter) -> Program {
    Program::from_bytes(&compile(filter)).expect("compiled program is well formed")
}

/// `getppid` with no libc caching in between.
fn getppid_raw() -> i64 {
    // SAFETY: getppid takes no arguments.
    unsafe { libc::syscall(libc::SYS_getppid) }
}

#[test]
fn errno_action_returns_the_profile_errno() {
    if !seccomp_usable() {
        return;
    }
    let mut f = Filter::new(Action::Allow, vec![native()]);
    f.rules.push(rule("getppid", Action::Errno(77), vec![]));
    let p = program(&f);
    fn body() -> i32 {
        if getppid_raw() == -1 {
            errno()
        } else {
            0
        }
    }
    assert_eq!(in_child(&p, 0, body).1, Outcome::Exited(77));
    // The same call under an allow-all filter succeeds.
    let p = program(&Filter::new(Action::Allow, vec![native()]));
    assert_eq!(in_child(&p, 0, body).1, Outcome::Exited(0));
}

#[test]
fn kill_process_action_kills_with_sigsys() {
    if !seccomp_usable() {
        return;
    }
    let mut f = Filter::new(Action::Allow, vec![native()]);
    f.rules.push(rule("getppid", Action::KillProcess, vec![]));
    fn body() -> i32 {
        getppid_raw();
        0
    }
    assert_eq!(
        in_child(&program(&f), 0, body).1,
        Outcome::Signaled(libc::SIGSYS)
    );
}

static TRAPPED: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

extern "C" fn on_sigsys(_sig: i32, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo; for SIGSYS with si_code
    // SYS_SECCOMP (1) the union holds `struct { void *call_addr; int
    // syscall; unsigned arch; }`, so the syscall number sits one pointer
    // past the union's start.
    let nr = unsafe {
        if (*info).si_code != 1 {
            -2
        } else {
            let union_start = (info as *const u8).add(2 * 4 + 4 + 4);
            *(union_start.add(std::mem::size_of::<usize>()) as *const i32)
        }
    };
    TRAPPED.store(nr, std::sync::atomic::Ordering::SeqCst);
}

#[test]
fn trap_action_delivers_a_catchable_sigsys_naming_the_call() {
    if !seccomp_usable() {
        return;
    }
    let mut f = Filter::new(Action::Allow, vec![native()]);
    f.rules.push(rule("getppid", Action::Trap, vec![]));
    fn body() -> i32 {
        // SAFETY: installs a handler that only stores to an atomic.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_sigsys as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO;
            if libc::sigaction(libc::SIGSYS, &sa, std::ptr::null_mut()) != 0 {
                return 3;
            }
        }
        getppid_raw();
        let nr = TRAPPED.load(std::sync::atomic::Ordering::SeqCst);
        if nr == libc::SYS_getppid as i32 {
            0
        } else {
            4
        }
    }
    assert_eq!(in_child(&program(&f), 0, body).1, Outcome::Exited(0));
    // Without a handler, the trap is fatal.
    fn no_handler() -> i32 {
        getppid_raw();
        0
    }
    assert_eq!(
        in_child(&program(&f), 0, no_handler).1,
        Outcome::Signaled(libc::SIGSYS)
    );
}

#[test]
fn log_action_allows_and_reaches_the_audit_socket() {
    if !seccomp_usable() {
        return;
    }
    // SAFETY: geteuid has no failure mode.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED: reading the audit multicast group needs root");
        return;
    }
    let logged =
        std::fs::read_to_string("/proc/sys/kernel/seccomp/actions_logged").unwrap_or_default();
    if !logged.split_whitespace().any(|a| a == "log") {
        eprintln!(
            "SKIPPED: /proc/sys/kernel/seccomp/actions_logged lacks `log` ({})",
            logged.trim()
        );
        return;
    }
    let mut audit = match AuditSocket::open() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("SKIPPED: no audit netlink socket: {e}");
            return;
        }
    };
    let mut f = Filter::new(Action::Allow, vec![native()]);
    f.rules.push(rule("getppid", Action::Log, vec![]));
    fn body() -> i32 {
        if getppid_raw() > 0 {
            0
        } else {
            1
        }
    }
    let (pid, outcome) = in_child(&program(&f), 0, body);
    assert_eq!(outcome, Outcome::Exited(0), "a logged call goes ahead");
    let nr = native().syscall_number("getppid").unwrap();
    let record = audit
        .wait_for(Duration::from_secs(5), |r| {
            r.record_type == AUDIT_SECCOMP
                && SeccompRecord::parse(&r.text)
                    .is_ok_and(|s| s.pid == pid as u32 && s.syscall == nr)
        })
        .expect("audit socket works");
    let record =
        record.unwrap_or_else(|| panic!("no SECCOMP record for pid {pid} syscall {nr} within 5 s"));
    let rec = SeccompRecord::parse(&record.text).unwrap();
    assert_eq!(rec.action(), Action::Log, "{}", record.text);
    assert_eq!(rec.arch, native().audit_arch(), "{}", record.text);
    assert_eq!(rec.syscall_name(), Some("getppid"));
}

#[test]
fn errno_denials_are_audited_with_the_log_flag() {
    if !seccomp_usable() {
        return;
    }
    // SAFETY: geteuid has no failure mode.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED: reading the audit multicast group needs root");
        return;
    }
    let logged =
        std::fs::read_to_string("/proc/sys/kernel/seccomp/actions_logged").unwrap_or_default();
    if !logged.split_whitespace().any(|a| a == "errno") {
        eprintln!(
            "SKIPPED: /proc/sys/kernel/seccomp/actions_logged lacks `errno` ({})",
            logged.trim()
        );
        return;
    }
    let Ok(mut audit) = AuditSocket::open() else {
        eprintln!("SKIPPED: no audit netlink socket");
        return;
    };
    let mut f = Filter::new(Action::Allow, vec![native()]);
    f.rules.push(rule("getppid", Action::Errno(77), vec![]));
    fn body() -> i32 {
        getppid_raw();
        errno()
    }
    let log = libc::SECCOMP_FILTER_FLAG_LOG as u32;
    let (pid, outcome) = in_child(&program(&f), log, body);
    assert_eq!(outcome, Outcome::Exited(77));
    let nr = native().syscall_number("getppid").unwrap();
    let record = audit
        .wait_for(Duration::from_secs(5), |r| {
            r.record_type == AUDIT_SECCOMP
                && SeccompRecord::parse(&r.text)
                    .is_ok_and(|s| s.pid == pid as u32 && s.syscall == nr)
        })
        .expect("audit socket works")
        .unwrap_or_else(|| panic!("no SECCOMP record for the denied call of pid {pid}"));
    let rec = SeccompRecord::parse(&record.text).unwrap();
    // The kernel logs the action without its data: the errno is not in
    // the record.
    assert_eq!(rec.action(), Action::Errno(0), "{}", record.text);
    assert_eq!(rec.code, spo_model::seccomp::ret::ERRNO, "{}", record.text);
}

#[test]
fn kill_thread_kills_a_single_threaded_process() {
    if !seccomp_usable() {
        return;
    }
    let mut f = Filter::new(Action::Allow, vec![native()]);
    f.rules.push(rule("getppid", Action::KillThread, vec![]));
    fn body() -> i32 {
        getppid_raw();
        0
    }
    assert_eq!(
        in_child(&program(&f), 0, body).1,
        Outcome::Signaled(libc::SIGSYS)
    );
}

#[test]
fn the_new_listener_flag_returns_a_notification_fd() {
    if !seccomp_usable() {
        return;
    }
    let mut f = Filter::new(Action::Allow, vec![native()]);
    f.rules.push(rule("getppid", Action::Notify, vec![]));
    let prog = program(&f);
    let flags = libc::SECCOMP_FILTER_FLAG_NEW_LISTENER as u32;
    // SAFETY: the child only makes system calls before `_exit`.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let code = match prog.install_raw(flags) {
            // SAFETY: fcntl on the descriptor the kernel just returned.
            Ok(Some(fd))
                if unsafe { libc::fcntl(std::os::fd::AsRawFd::as_raw_fd(&fd), libc::F_GETFD) }
                    >= 0 =>
            {
                // With the listener closed, a notified call fails with ENOSYS.
                drop(fd);
                if getppid_raw() == -1 && errno() == libc::ENOSYS {
                    0
                } else {
                    2
                }
            }
            Ok(_) => 1,
            Err(e) => 100 + e.raw_os_error().unwrap_or(0).min(100),
        };
        // SAFETY: leave the child.
        unsafe { libc::_exit(code) };
    }
    assert_eq!(wait(pid), Outcome::Exited(0));
}

#[test]
fn argument_conditions_compare_all_64_bits() {
    if !seccomp_usable() {
        return;
    }
    let mut f = Filter::new(Action::Allow, vec![native()]);
    // Deny getpriority(PRIO_PGRP, ...) only.
    let pgrp = ArgCmp {
        index: 0,
        op: Operator::Equal,
        value: libc::PRIO_PGRP as u64,
        value_two: 0,
    };
    f.rules
        .push(rule("getpriority", Action::Errno(88), vec![pgrp]));
    fn body() -> i32 {
        let call = |which: u64| {
            // SAFETY: getpriority takes two integers.
            let r = unsafe { libc::syscall(libc::SYS_getpriority, which, 0u64) };
            if r == -1 {
                errno()
            } else {
                0
            }
        };
        let mut failures = 0;
        if call(libc::PRIO_PROCESS as u64) != 0 {
            failures |= 1;
        }
        if call(libc::PRIO_PGRP as u64) != 88 {
            failures |= 2;
        }
        // The kernel truncates `which` to an int, but the filter sees the
        // full register: with a high bit set, EQ 1 must not match.
        if cfg!(target_pointer_width = "64") && call(1 << 32 | libc::PRIO_PGRP as u64) != 0 {
            failures |= 4;
        }
        failures
    }
    assert_eq!(
        in_child(&program(&f), 0, body).1,
        Outcome::Exited(0),
        "bit 1: PRIO_PROCESS denied, 2: PRIO_PGRP allowed, 4: high half ignored"
    );
}

#[cfg(target_arch = "x86_64")]
mod wrong_arch {
    use super::*;

    /// getpid through the i386 entry point; returns the raw result.
    fn int80_getpid() -> i64 {
        let ret: i64;
        // SAFETY: `int 0x80` with eax = 20 is the i386 getpid, which takes
        // no arguments; the compat entry may clobber r8-r11, declared here.
        unsafe {
            std::arch::asm!(
                "int 0x80",
                inlateout("rax") 20i64 => ret,
                out("r8") _, out("r9") _, out("r10") _, out("r11") _,
                options(nostack),
            );
        }
        ret
    }

    fn x86_64_only() -> Filter {
        let mut f = Filter::new(Action::Allow, vec![Arch::X86_64]);
        f.bad_arch_action = Action::KillProcess;
        f
    }

    #[test]
    fn an_i386_call_gets_the_bad_arch_action() {
        if !seccomp_usable() {
            return;
        }
        fn body() -> i32 {
            // SAFETY: getpid has no failure mode.
            let pid = i64::from(unsafe { libc::getpid() });
            if int80_getpid() == pid {
                0
            } else {
                1
            }
        }
        // Without a filter, the i386 entry must work, or there is nothing to test.
        // SAFETY: see `in_child`; here no filter is installed at all.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: leave the child.
            unsafe { libc::_exit(body()) };
        }
        if wait(pid) != Outcome::Exited(0) {
            eprintln!("SKIPPED: the i386 syscall entry (IA32 emulation) is disabled");
            return;
        }
        assert_eq!(
            in_child(&program(&x86_64_only()), 0, body).1,
            Outcome::Signaled(libc::SIGSYS)
        );
    }

    #[test]
    fn an_x32_call_gets_the_bad_arch_action() {
        if !seccomp_usable() {
            return;
        }
        // x32 calls use the x86_64 audit token with bit 30 set in the number.
        // The kernel runs the filter before it checks whether x32 support
        // is built in, so the filter sees the call either way.
        fn body() -> i32 {
            let nr = spo_model::arch::X32_SYSCALL_BIT as i64 | libc::SYS_getppid;
            // SAFETY: x32 getppid takes no arguments.
            let r = unsafe { libc::syscall(nr) };
            if r > 0 || errno() == libc::ENOSYS {
                0
            } else {
                1
            }
        }
        assert_eq!(
            in_child(&program(&x86_64_only()), 0, body).1,
            Outcome::Signaled(libc::SIGSYS)
        );
    }
}

#[test]
fn the_installer_names_what_the_kernel_refused() {
    if !seccomp_usable() {
        return;
    }
    // A load with no return: the kernel's checker refuses it.
    let mut bytes = 0x20u16.to_ne_bytes().to_vec();
    bytes.extend([0, 0]);
    bytes.extend(0u32.to_ne_bytes());
    let bad = Program::from_bytes(&bytes).unwrap();
    let good = program(&Filter::new(Action::Allow, vec![native()]));
    fn classify(r: Result<Option<std::os::fd::OwnedFd>, NodeError>) -> i32 {
        match r {
            Ok(_) => 0,
            Err(NodeError::SeccompRefused { source, .. })
                if source.raw_os_error() == Some(libc::EINVAL) =>
            {
                1
            }
            Err(NodeError::SeccompFlags { flags, .. }) if flags.contains("0x100000") => 2,
            Err(_) => 3,
        }
    }
    for (prog, flags, want) in [(&bad, 0, 1), (&good, 1 << 20, 2), (&good, 0, 0)] {
        // SAFETY: the child allocates only to build the error, which glibc's
        // fork handlers make safe.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let code = classify(prog.install(flags));
            // SAFETY: leave the child.
            unsafe { libc::_exit(code) };
        }
        assert_eq!(wait(pid), Outcome::Exited(want), "flags {flags:#x}");
    }
}

/// A minimal straight-line filter compiler for these tests: one native
/// architecture, rules in order of restrictiveness, equality conditions.
mod hand {
    use super::*;

    const LD_W_ABS: u16 = 0x20;
    const JEQ_K: u16 = 0x15;
    const JGE_K: u16 = 0x35;
    const RET_K: u16 = 0x06;

    struct Insn(u16, u8, u8, u32);

    pub fn compile(f: &Filter) -> Vec<u8> {
        let arch = f.arches[0];
        let mut rules: Vec<&FilterRule> = f.rules.iter().collect();
        // Most restrictive first, as the model's evaluation orders overlaps.
        rules.sort_by_key(|r| r.action.permits());
        let mut p = vec![Insn(LD_W_ABS, 0, 0, 4)];
        // Jumps to the bad-arch return are patched at the end.
        let mut to_bad = vec![p.len()];
        p.push(Insn(JEQ_K, 0, 0, arch.audit_arch()));
        p.push(Insn(LD_W_ABS, 0, 0, 0));
        if arch == Arch::X86_64 {
            to_bad.push(p.len());
            p.push(Insn(JGE_K, 0, 0, spo_model::arch::X32_SYSCALL_BIT));
        }
        for r in rules {
            let mut block = vec![
                Insn(LD_W_ABS, 0, 0, 0),
                Insn(JEQ_K, 0, 0, arch.syscall_number(&r.syscall).unwrap()),
            ];
            for c in &r.args {
                assert_eq!(c.op, Operator::Equal, "the hand compiler knows EQ only");
                let off = 16 + 8 * u32::from(c.index);
                let (lo, hi) = if cfg!(target_endian = "little") {
                    (off, off + 4)
                } else {
                    (off + 4, off)
                };
                block.push(Insn(LD_W_ABS, 0, 0, lo));
                block.push(Insn(JEQ_K, 0, 0, c.value as u32));
                block.push(Insn(LD_W_ABS, 0, 0, hi));
                block.push(Insn(JEQ_K, 0, 0, (c.value >> 32) as u32));
            }
            block.push(Insn(RET_K, 0, 0, r.action.to_ret()));
            let n = block.len();
            for (i, insn) in block.iter_mut().enumerate() {
                if insn.0 == JEQ_K {
                    insn.2 = (n - 1 - i) as u8;
                }
            }
            p.extend(block);
        }
        p.push(Insn(RET_K, 0, 0, f.default_action.to_ret()));
        let bad = p.len();
        p.push(Insn(RET_K, 0, 0, f.bad_arch_action.to_ret()));
        for i in to_bad {
            let dist = (bad - i - 1) as u8;
            if p[i].0 == JEQ_K {
                p[i].2 = dist;
            } else {
                p[i].1 = dist;
            }
        }
        p.iter()
            .flat_map(|Insn(code, jt, jf, k)| {
                let mut b = code.to_ne_bytes().to_vec();
                b.extend([*jt, *jf]);
                b.extend(k.to_ne_bytes());
                b
            })
            .collect()
    }
}
