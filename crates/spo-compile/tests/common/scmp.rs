//! The same filter built by libseccomp (the peer the compiler is measured
//! against), exported as BPF for the interpreter.

use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall};
use spo_compile::bpf::{self, Insn};
use spo_model::seccomp::{multiplex, Action, Filter, Operator};
use spo_model::Arch;

/// libseccomp's name of `a`, if libseccomp 2.5 knows it.
pub fn scmp_arch(a: Arch) -> Option<ScmpArch> {
    Some(match a {
        Arch::X86_64 => ScmpArch::X8664,
        Arch::X86 => ScmpArch::X86,
        Arch::X32 => ScmpArch::X32,
        Arch::Aarch64 => ScmpArch::Aarch64,
        Arch::Arm => ScmpArch::Arm,
        Arch::Riscv64 => ScmpArch::Riscv64,
        Arch::Ppc64le => ScmpArch::Ppc64Le,
        Arch::Ppc64 => ScmpArch::Ppc64,
        Arch::Ppc => ScmpArch::Ppc,
        Arch::S390x => ScmpArch::S390X,
        Arch::Mips => ScmpArch::Mips,
        Arch::Mipsel => ScmpArch::Mipsel,
        Arch::Mips64 => ScmpArch::Mips64,
        Arch::Mipsel64 => ScmpArch::Mipsel64,
        _ => return None,
    })
}

pub fn scmp_action(a: Action) -> ScmpAction {
    match a {
        Action::KillProcess => ScmpAction::KillProcess,
        Action::KillThread => ScmpAction::KillThread,
        Action::Trap => ScmpAction::Trap,
        Action::Errno(e) => ScmpAction::Errno(i32::from(e)),
        Action::Trace(d) => ScmpAction::Trace(d),
        Action::Notify => ScmpAction::Notify,
        Action::Log => ScmpAction::Log,
        Action::Allow => ScmpAction::Allow,
    }
}

/// The syscall libseccomp means by `name` on `arch` (`None` for unknown
/// names and pseudo-numbers).
pub fn scmp_number(name: &str, arch: Arch) -> Option<u32> {
    let a = scmp_arch(arch)?;
    let nr = ScmpSyscall::from_name_by_arch(name, a).ok()?.as_raw_syscall();
    u32::try_from(nr).ok()
}

/// libseccomp's own number for `name` on `arch`, negative for its
/// pseudo-syscalls (a multiplexed call it rewrites).
pub fn scmp_raw_number(name: &str, arch: Arch) -> Option<i32> {
    Some(ScmpSyscall::from_name_by_arch(name, scmp_arch(arch)?).ok()?.as_raw_syscall())
}

/// The rules both compilers can be compared on: those whose syscall name
/// libseccomp 2.5.4 resolves to the same number as spo-rs's tables on every
/// architecture of `arches` (newer names, which libseccomp 2.5.4 does not
/// know, are dropped on both sides), a multiplexed call counting as the
/// same where libseccomp names it by its pseudo-number (the differential
/// run then proves that both reach the same direct number and multiplexer
/// code).
pub fn comparable(filter: &Filter, arches: &[Arch]) -> Filter {
    let mut f = filter.clone();
    f.arches = arches.to_vec();
    f.rules.retain(|r| {
        let same = |a: Arch| {
            scmp_number(&r.syscall, a) == a.syscall_number(&r.syscall)
                || multiplex::multiplexed(a, &r.syscall).is_some()
                    && scmp_raw_number(&r.syscall, a).is_some_and(|n| n < 0)
        };
        ScmpSyscall::from_name(&r.syscall).is_ok() && arches.iter().all(|&a| same(a))
    });
    f
}

/// Build and export `filter` with libseccomp at optimisation `level`;
/// `None` when libseccomp refuses it (an architecture it does not know, a
/// default action it does not accept, conflicting rules).
pub fn build(filter: &Filter, level: u32) -> Option<Vec<Insn>> {
    try_build(filter, level).ok()
}

/// [`build`], saying why libseccomp refused.
pub fn try_build(filter: &Filter, level: u32) -> Result<Vec<Insn>, String> {
    let ctx = context(filter, level, false)?;
    let big_endian = filter.arches.iter().all(|a| a.audit_arch() & 0x4000_0000 == 0);
    export(&ctx, big_endian).ok_or_else(|| "export".to_owned())
}

/// A libseccomp context holding `filter` for `filter.arches` at
/// optimisation `level`, built as a runtime builds it: rules whose action
/// is the default are left out (libseccomp refuses them); rules on names
/// libseccomp does not know are skipped when `skip_unknown` (as runc does)
/// and refused otherwise.
pub fn context(filter: &Filter, level: u32, skip_unknown: bool) -> Result<ScmpFilterContext, String> {
    let e = |what: &str| {
        let what = what.to_owned();
        move |err: libseccomp::error::SeccompError| format!("{what}: {err}")
    };
    let mut ctx = ScmpFilterContext::new(scmp_action(filter.default_action)).map_err(e("default action"))?;
    ctx.set_act_badarch(scmp_action(filter.bad_arch_action)).map_err(e("bad arch action"))?;
    ctx.set_ctl_optimize(level).map_err(e("optimize"))?;
    ctx.remove_arch(ScmpArch::native()).map_err(e("remove native"))?;
    for &a in &filter.arches {
        let sa = scmp_arch(a).ok_or(format!("{a} unknown to libseccomp"))?;
        ctx.add_arch(sa).map_err(e(&format!("add {a}")))?;
    }
    for r in &filter.rules {
        if r.action == filter.default_action {
            continue; // libseccomp refuses these (EACCES)
        }
        let sc = match ScmpSyscall::from_name(&r.syscall) {
            Ok(sc) => sc,
            Err(_) if skip_unknown => continue,
            Err(err) => return Err(e(&r.syscall)(err)),
        };
        let conds: Vec<ScmpArgCompare> = r
            .args
            .iter()
            .map(|c| {
                let op = match c.op {
                    Operator::NotEqual => ScmpCompareOp::NotEqual,
                    Operator::LessThan => ScmpCompareOp::Less,
                    Operator::LessOrEqual => ScmpCompareOp::LessOrEqual,
                    Operator::Equal => ScmpCompareOp::Equal,
                    Operator::GreaterOrEqual => ScmpCompareOp::GreaterEqual,
                    Operator::GreaterThan => ScmpCompareOp::Greater,
                    Operator::MaskedEqual => ScmpCompareOp::MaskedEqual(c.value),
                };
                let datum = if c.op == Operator::MaskedEqual { c.value_two } else { c.value };
                ScmpArgCompare::new(u32::from(c.index), op, datum)
            })
            .collect();
        ctx.add_rule_conditional(scmp_action(r.action), sc, &conds).map_err(e(&format!("rule {r:?}")))?;
    }
    Ok(ctx)
}

/// `seccomp_export_bpf` into a temporary file (libseccomp 2.5 has no
/// in-memory export). libseccomp writes the instructions in the byte order
/// of the filter's architectures (which must all share one).
pub fn export(ctx: &ScmpFilterContext, big_endian: bool) -> Option<Vec<Insn>> {
    use std::io::{Read, Seek};
    let mut file = tempfile::tempfile().ok()?;
    ctx.export_bpf(&file).ok()?;
    file.rewind().ok()?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).ok()?;
    if big_endian == cfg!(target_endian = "big") {
        return bpf::from_bytes(&bytes).ok();
    }
    let prog = bpf::from_bytes(&bytes).ok()?;
    Some(
        prog.into_iter().map(|i| Insn { code: i.code.swap_bytes(), jt: i.jt, jf: i.jf, k: i.k.swap_bytes() }).collect(),
    )
}
