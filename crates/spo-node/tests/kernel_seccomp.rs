//! Compiled filters on the real kernel.
//!
//! Each case forks: the child installs the filter, makes the call and
//! reports through its exit status; the parent (the test process, which
//! never gets a filter) checks what happened. Cases skip with a message
//! where the kernel lacks a feature or the test is not root.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test
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

/// Compile `filter` with the spo-rs compiler into kernel bytes.
fn compile(filter: &Filter) -> Vec<u8> {
    let insns = spo_compile::seccomp::compile(filter).expect("the filter compiles");
    spo_compile::bpf::to_bytes(&insns)
}

fn seccomp_usable() -> bool {
    if !action_available(spo_model::seccomp::ret::ALLOW) {
        spo_test_support::skip("this kernel has no seccomp filter support");
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
        assert!(libc::WIFSIGNALED(status), "child neither exited nor was killed: {status:#x}");
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
    FilterRule { syscall: syscall.into(), action, args }
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
    assert_eq!(in_child(&program(&f), 0, body).1, Outcome::Signaled(libc::SIGSYS));
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
    assert_eq!(in_child(&program(&f), 0, no_handler).1, Outcome::Signaled(libc::SIGSYS));
}

/// The audit socket, when this machine can show seccomp's `action`
/// records on it (seccomp usable, root, `action` in `actions_logged`);
/// otherwise the reason is printed as a skip.
fn audit_socket_logging(action: &str) -> Option<AuditSocket> {
    if !seccomp_usable() {
        return None;
    }
    if !spo_test_support::is_root() {
        spo_test_support::skip("reading the audit multicast group needs root");
        return None;
    }
    let logged = std::fs::read_to_string("/proc/sys/kernel/seccomp/actions_logged").unwrap_or_default();
    if !logged.split_whitespace().any(|a| a == action) {
        spo_test_support::skip(format!("/proc/sys/kernel/seccomp/actions_logged lacks `{action}` ({})", logged.trim()));
        return None;
    }
    match AuditSocket::open() {
        Ok(s) => Some(s),
        Err(e) => {
            spo_test_support::skip(format!("no audit netlink socket: {e}"));
            None
        }
    }
}

#[test]
fn log_action_allows_and_reaches_the_audit_socket() {
    let Some(mut audit) = audit_socket_logging("log") else { return };
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
                && SeccompRecord::parse(&r.text).is_ok_and(|s| s.pid == pid as u32 && s.syscall == nr)
        })
        .expect("audit socket works");
    let record = record.unwrap_or_else(|| panic!("no SECCOMP record for pid {pid} syscall {nr} within 5 s"));
    let rec = SeccompRecord::parse(&record.text).unwrap();
    assert_eq!(rec.action(), Action::Log, "{}", record.text);
    assert_eq!(rec.arch, native().audit_arch(), "{}", record.text);
    assert_eq!(rec.syscall_name(), Some("getppid"));
}

/// Logged calls the burst test makes.
const BURST: usize = 2000;

#[test]
fn a_burst_of_logged_calls_arrives_complete() {
    let Some(mut audit) = audit_socket_logging("log") else { return };
    let mut f = Filter::new(Action::Allow, vec![native()]);
    f.rules.push(rule("getppid", Action::Log, vec![]));
    fn body() -> i32 {
        for _ in 0..BURST {
            getppid_raw();
        }
        0
    }
    let (pid, outcome) = in_child(&program(&f), 0, body);
    assert_eq!(outcome, Outcome::Exited(0));
    let nr = native().syscall_number("getppid").unwrap();
    let mut count = 0;
    while count < BURST {
        let got = audit
            .wait_for(Duration::from_secs(5), |r| {
                r.record_type == AUDIT_SECCOMP
                    && SeccompRecord::parse(&r.text).is_ok_and(|s| s.pid == pid as u32 && s.syscall == nr)
            })
            .expect("audit socket works");
        if got.is_none() {
            break;
        }
        count += 1;
    }
    assert_eq!(count, BURST, "records lost (socket overruns: {})", audit.overruns());
}

#[test]
fn errno_denials_are_audited_with_the_log_flag() {
    let Some(mut audit) = audit_socket_logging("errno") else { return };
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
                && SeccompRecord::parse(&r.text).is_ok_and(|s| s.pid == pid as u32 && s.syscall == nr)
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
    assert_eq!(in_child(&program(&f), 0, body).1, Outcome::Signaled(libc::SIGSYS));
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
            Ok(Some(fd)) if unsafe { libc::fcntl(std::os::fd::AsRawFd::as_raw_fd(&fd), libc::F_GETFD) } >= 0 => {
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
    let pgrp = ArgCmp { index: 0, op: Operator::Equal, value: libc::PRIO_PGRP as u64, value_two: 0 };
    f.rules.push(rule("getpriority", Action::Errno(88), vec![pgrp]));
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

/// Values around the edges the comparisons care about, in both halves.
const GRID_A0: [u64; 9] =
    [0, 5, 7, 0xffff_ffff, 0x1_0000_0000, 0x1_0000_0005, 0x7fff_ffff_ffff_ffff, 0xffff_ffff_0000_0000, u64::MAX];
const GRID_A1: [u64; 6] = [0, 1, 3, 0x1200, 0x12ff, 0x1_0000_1234];

/// One pipe write per grid case: the errno of getpriority(a0, a1), or 0.
fn grid_body(write_fd: i32) -> i32 {
    for a0 in GRID_A0 {
        for a1 in GRID_A1 {
            // SAFETY: getpriority takes two integers.
            let r = unsafe { libc::syscall(libc::SYS_getpriority, a0, a1) };
            let e = if r == -1 { errno().min(255) as u8 } else { 0 };
            // SAFETY: writes one byte from a live local.
            if unsafe { libc::write(write_fd, (&e as *const u8).cast(), 1) } != 1 {
                return 1;
            }
        }
    }
    0
}

#[test]
fn the_kernel_agrees_with_the_model_on_every_operator() {
    if !seccomp_usable() {
        return;
    }
    let cmp = |index, op, value, value_two| ArgCmp { index, op, value, value_two };
    let mut f = Filter::new(Action::Allow, vec![native()]);
    f.rules.push(rule("getpriority", Action::Errno(80), vec![cmp(0, Operator::Equal, 5, 0)]));
    f.rules.push(rule(
        "getpriority",
        Action::Errno(81),
        vec![cmp(0, Operator::GreaterThan, 0x1_0000_0000, 0), cmp(1, Operator::MaskedEqual, 0xff00, 0x1200)],
    ));
    f.rules.push(rule(
        "getpriority",
        Action::Errno(82),
        vec![cmp(0, Operator::GreaterOrEqual, 0xffff_ffff_0000_0000, 0)],
    ));
    f.rules.push(rule(
        "getpriority",
        Action::Errno(83),
        vec![cmp(1, Operator::LessThan, 3, 0), cmp(0, Operator::NotEqual, 0, 0)],
    ));
    f.rules.push(rule("getpriority", Action::Errno(84), vec![cmp(1, Operator::LessOrEqual, 0, 0)]));
    let prog = program(&f);
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let [read_fd, write_fd] = fds;
    // SAFETY: the child only makes system calls before `_exit`.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let code = match prog.install_raw(0) {
            Ok(_) => grid_body(write_fd),
            Err(_) => 2,
        };
        // SAFETY: leave the child.
        unsafe { libc::_exit(code) };
    }
    // SAFETY: the parent's copy of the write end is no longer needed.
    unsafe { libc::close(write_fd) };
    let outcome = wait(pid);
    let mut got = vec![0u8; GRID_A0.len() * GRID_A1.len()];
    // SAFETY: reads into a live buffer of the given length.
    let n = unsafe { libc::read(read_fd, got.as_mut_ptr().cast(), got.len()) };
    // SAFETY: done with the read end.
    unsafe { libc::close(read_fd) };
    assert_eq!(outcome, Outcome::Exited(0));
    assert_eq!(n as usize, got.len(), "the child reported every case");
    let nr = native().syscall_number("getpriority").unwrap();
    let mut mismatches = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let cases = GRID_A0.iter().flat_map(|a0| GRID_A1.iter().map(move |a1| (*a0, *a1)));
    for ((a0, a1), e) in cases.zip(got) {
        let want = f.evaluate(native(), nr, &[a0, a1, 0, 0, 0, 0]);
        let kernel = if (80..=84).contains(&e) { Action::Errno(u16::from(e)) } else { Action::Allow };
        seen.insert(kernel);
        if want != kernel {
            mismatches.push(format!("getpriority({a0:#x}, {a1:#x}): model {want}, kernel {kernel} (errno {e})"));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    // The grid reaches every rule and the default.
    assert_eq!(seen.len(), 6, "verdicts seen: {seen:?}");
}

#[cfg(target_arch = "x86_64")]
mod wrong_arch {
    use super::*;

    /// i386 call `nr` with all-zero arguments through `int 0x80`; returns
    /// the raw result (a negative errno on failure).
    fn int80(nr: i32) -> i64 {
        let ret: i32;
        // SAFETY: the calls used here (getpid, and mkdir on a null path,
        // which fails with EFAULT) touch no memory of ours; ebx, ecx and edx
        // are zeroed; the compat entry may clobber r8-r11, declared here.
        unsafe {
            std::arch::asm!(
                "push rbx",
                "xor ebx, ebx",
                "int 0x80",
                "pop rbx",
                inlateout("eax") nr => ret,
                inlateout("ecx") 0 => _,
                inlateout("edx") 0 => _,
                out("r8") _, out("r9") _, out("r10") _, out("r11") _,
            );
        }
        i64::from(ret)
    }

    /// i386 call `nr` with `ebx` as its first argument and zero for the
    /// others.
    fn int80_a0(nr: i32, a0: i32) -> i64 {
        let ret: i32;
        // SAFETY: as `int80`; the calls made here (socketcall with a null
        // argument block, which fails with EFAULT unless a filter refuses
        // it first, and socket) write no memory of ours.
        unsafe {
            std::arch::asm!(
                "push rbx",
                "mov ebx, {a0:e}",
                "int 0x80",
                "pop rbx",
                a0 = in(reg) a0,
                inlateout("eax") nr => ret,
                inlateout("ecx") 0 => _,
                inlateout("edx") 0 => _,
                out("r8") _, out("r9") _, out("r10") _, out("r11") _,
            );
        }
        i64::from(ret)
    }

    /// A profile that denies `socket` on x86_64 and x86 denies the i386
    /// `socketcall(SYS_SOCKET, ...)` too, as libseccomp (and so runc)
    /// makes it, and leaves the other socketcall calls alone.
    #[test]
    fn denying_socket_denies_i386_socketcall_sys_socket() {
        if !seccomp_usable() || !ia32_entry_works() {
            return;
        }
        let mut f = Filter::new(Action::Allow, vec![Arch::X86_64, Arch::X86]);
        f.rules.push(rule("socket", Action::Errno(77), vec![]));
        fn body() -> i32 {
            const SOCKETCALL: i32 = 102; // i386
            const SOCKET: i32 = 359; // i386, direct
            let mut failures = 0;
            // SYS_SOCKET (1): refused before the kernel reads the null block.
            if int80_a0(SOCKETCALL, 1) != -77 {
                failures |= 1;
            }
            // SYS_CONNECT (3): reaches the kernel, which faults on the block.
            if int80_a0(SOCKETCALL, 3) != -i64::from(libc::EFAULT) {
                failures |= 2;
            }
            if int80_a0(SOCKET, libc::AF_INET) != -77 {
                failures |= 4;
            }
            // SAFETY: socket takes plain integers.
            let native = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
            if native != -1 || errno() != 77 {
                failures |= 8;
            }
            failures
        }
        assert_eq!(
            in_child(&program(&f), 0, body).1,
            Outcome::Exited(0),
            "bit 1: socketcall(SYS_SOCKET) not denied, 2: socketcall(SYS_CONNECT) denied, 4: i386 socket not denied, 8: x86_64 socket not denied"
        );
    }

    /// getpid through the i386 entry point.
    fn int80_getpid() -> i64 {
        int80(20)
    }

    /// Whether the i386 entry works without a filter (IA32 emulation may be
    /// compiled out or disabled at boot).
    fn ia32_entry_works() -> bool {
        fn body() -> i32 {
            // SAFETY: getpid has no failure mode.
            let pid = i64::from(unsafe { libc::getpid() });
            i32::from(int80_getpid() != pid)
        }
        // SAFETY: the child only makes system calls before `_exit`.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: leave the child.
            unsafe { libc::_exit(body()) };
        }
        let works = wait(pid) == Outcome::Exited(0);
        if !works {
            spo_test_support::skip("the i386 syscall entry (IA32 emulation) is disabled");
        }
        works
    }

    fn x86_64_only() -> Filter {
        let mut f = Filter::new(Action::Allow, vec![Arch::X86_64]);
        f.bad_arch_action = Action::KillProcess;
        f
    }

    #[test]
    fn an_i386_call_gets_the_bad_arch_action() {
        if !seccomp_usable() || !ia32_entry_works() {
            return;
        }
        fn body() -> i32 {
            int80_getpid();
            0
        }
        assert_eq!(in_child(&program(&x86_64_only()), 0, body).1, Outcome::Signaled(libc::SIGSYS));
    }

    #[test]
    fn a_listed_i386_table_is_enforced_with_i386_numbers() {
        if !seccomp_usable() || !ia32_entry_works() {
            return;
        }
        // getpid is 39 on x86_64 and 20 on i386: the rule must be compiled
        // per architecture table.
        let mut f = Filter::new(Action::Allow, vec![Arch::X86_64, Arch::X86]);
        f.rules.push(rule("getpid", Action::Errno(77), vec![]));
        fn body() -> i32 {
            // SAFETY: getpid takes no arguments.
            let native = unsafe { libc::syscall(libc::SYS_getpid) };
            let native_errno = errno();
            let mut failures = 0;
            if int80_getpid() != -77 {
                failures |= 1;
            }
            if native != -1 || native_errno != 77 {
                failures |= 2;
            }
            // i386 call 39 is mkdir, not getpid: unaffected by the rule
            // (it fails on the bad pointer, with EFAULT, not 77).
            if int80(39) == -77 {
                failures |= 4;
            }
            failures
        }
        assert_eq!(
            in_child(&program(&f), 0, body).1,
            Outcome::Exited(0),
            "bit 1: i386 getpid not denied, 2: x86_64 getpid not denied, 4: i386 call 39 denied"
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
        assert_eq!(in_child(&program(&x86_64_only()), 0, body).1, Outcome::Signaled(libc::SIGSYS));
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
            Err(NodeError::SeccompRefused { source, .. }) if source.raw_os_error() == Some(libc::EINVAL) => 1,
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

/// Seccomp profile files under `dir` (JSON and YAML).
fn profile_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("json" | "yaml" | "yml")))
        .collect();
    out.sort();
    out
}

/// What the kernel should do to a child that calls `exit_group(0)`, then
/// `exit(0)`, then executes an undefined instruction.
fn predicted_exit(f: &Filter) -> Outcome {
    let arch = native();
    for name in ["exit_group", "exit"] {
        let nr = arch.syscall_number(name).unwrap();
        match f.evaluate(arch, nr, &[0; 6]) {
            a if a.permits() => return Outcome::Exited(0),
            Action::KillProcess | Action::KillThread | Action::Trap => return Outcome::Signaled(libc::SIGSYS),
            _ => {}
        }
    }
    Outcome::Signaled(libc::SIGILL)
}

#[cfg(target_arch = "x86_64")]
fn exit_child() -> i32 {
    // SAFETY: leaves the process by whichever route the filter allows; the
    // final undefined instruction ends it with SIGILL whatever the filter.
    unsafe {
        libc::syscall(libc::SYS_exit_group, 0);
        libc::syscall(libc::SYS_exit, 0);
        std::arch::asm!("ud2", options(noreturn));
    }
}

/// Every real-world profile shipped with the repository (and the shared
/// corpus, when present) compiles to a program the kernel accepts and
/// enforces as the model predicts for the calls that end a process.
#[cfg(target_arch = "x86_64")]
#[test]
fn real_world_profiles_load_into_the_kernel() {
    if !seccomp_usable() {
        return;
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = profile_files(&root.join("crates/spo-parse/tests/fixtures/seccomp/valid"));
    files.extend(profile_files(&root.join("examples/seccomp")));
    let shared = root.join("../shared/corpus/seccomp");
    if shared.exists() {
        files.extend(profile_files(&shared));
    } else {
        spo_test_support::skip_optional(format!("shared corpus part: {} absent", shared.display()));
    }
    assert!(files.len() >= 5, "expected the repository's profiles, found {}", files.len());
    let target = spo_model::seccomp::Target::default();
    let mut failures = Vec::new();
    let mut loaded = 0;
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let file = spo_parse::seccomp::parse_file(&text);
        if file.has_errors() {
            continue;
        }
        for doc in &file.documents {
            let filter = spo_model::seccomp::resolve(&doc.spec, &target);
            let prog = match spo_compile::seccomp::compile(&filter) {
                Ok(insns) => Program::from_bytes(&spo_compile::bpf::to_bytes(&insns)).unwrap(),
                Err(e) => {
                    failures.push(format!("{}: does not compile: {e}", path.display()));
                    continue;
                }
            };
            let want = predicted_exit(&filter);
            let (_, got) = in_child(&prog, 0, exit_child);
            if got != want {
                failures.push(format!(
                    "{} ({} instructions): expected {want:?}, got {got:?} (exit status 100+ is an install errno)",
                    path.display(),
                    prog.len()
                ));
            }
            loaded += 1;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(loaded >= 5, "only {loaded} profiles were loaded");
    eprintln!("{loaded} real-world profiles loaded and enforced");
}
