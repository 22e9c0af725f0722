//! A readable listing of a seccomp program, for golden tests, `spoc compile
//! --disassemble` and humans reviewing a filter.
//!
//! Jump targets are absolute line numbers. A forward data-flow pass tracks
//! what the accumulator holds (`nr`, `arch`, an argument word) and which
//! architecture token the path has matched, so that comparisons are
//! annotated with architecture and syscall names and return values are
//! printed as actions.

use std::fmt::Write;

use spo_model::seccomp::{ret, Action};
use spo_model::Arch;

use super::{data, op, Insn};

/// What the accumulator is known to hold.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Acc {
    Unknown,
    Nr,
    ArchToken,
    Word(u32),
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct State {
    acc: Acc,
    token: Option<u32>,
}

impl State {
    fn merge(self, other: State) -> State {
        State {
            acc: if self.acc == other.acc { self.acc } else { Acc::Unknown },
            token: if self.token == other.token { self.token } else { None },
        }
    }
}

/// Every architecture with a syscall table that uses `token`.
fn arches_of(token: u32) -> impl Iterator<Item = Arch> {
    Arch::ALL.iter().copied().filter(move |a| a.audit_arch() == token)
}

/// The syscall called `nr` on the architecture(s) of `token`.
fn syscall_name(token: u32, nr: u32) -> Option<&'static str> {
    let abi = |a: &Arch| match a {
        Arch::X86_64 => nr < spo_model::arch::X32_SYSCALL_BIT,
        Arch::X32 => nr >= spo_model::arch::X32_SYSCALL_BIT,
        _ => true,
    };
    arches_of(token).filter(abi).find_map(|a| a.syscall_name(nr))
}

/// A return value as an action name.
pub(crate) fn action_text(v: u32) -> String {
    let known = matches!(
        v & ret::ACTION_FULL,
        ret::KILL_PROCESS
            | ret::KILL_THREAD
            | ret::TRAP
            | ret::ERRNO
            | ret::TRACE
            | ret::USER_NOTIF
            | ret::LOG
            | ret::ALLOW
    );
    let data_free = matches!(v & ret::ACTION_FULL, ret::ERRNO | ret::TRACE) || v & ret::DATA == 0;
    if !known || !data_free {
        return format!("{v:#010x}");
    }
    match Action::from_ret(v) {
        Action::KillProcess => "KILL_PROCESS".into(),
        Action::KillThread => "KILL_THREAD".into(),
        Action::Trap => "TRAP".into(),
        Action::Errno(e) => format!("ERRNO({e})"),
        Action::Trace(d) => format!("TRACE({d})"),
        Action::Notify => "NOTIFY".into(),
        Action::Log => "LOG".into(),
        Action::Allow => "ALLOW".into(),
    }
}

fn load_note(k: u32, token: Option<u32>) -> String {
    match k {
        data::NR => "nr".into(),
        data::ARCH => "arch".into(),
        8 | 12 => format!("instruction_pointer +{}", k - 8),
        _ => {
            let arg = (k - data::ARGS) / 8;
            let off = (k - data::ARGS) % 8;
            match token {
                Some(t) => {
                    let low = (off == 0) == (t & 0x4000_0000 != 0);
                    format!("args[{arg}] {}", if low { "low" } else { "high" })
                }
                None => format!("args[{arg}] +{off}"),
            }
        }
    }
}

/// One numbered line per instruction.
pub fn disassemble(prog: &[Insn]) -> String {
    let mut states: Vec<Option<State>> = vec![None; prog.len()];
    if let Some(s) = states.first_mut() {
        *s = Some(State { acc: Acc::Unknown, token: None });
    }
    let mut out = String::new();
    for (pc, i) in prog.iter().enumerate() {
        let st = states[pc].unwrap_or(State { acc: Acc::Unknown, token: None });
        let mut flow = |to: usize, s: State| {
            if let Some(slot) = states.get_mut(to) {
                *slot = Some(match *slot {
                    Some(old) => old.merge(s),
                    None => s,
                });
            }
        };
        let class = i.code & 0x07;
        let src_x = i.code & 0x08 == op::X;
        let operand = if src_x { "x".to_owned() } else { format!("#{:#x}", i.k) };
        let (text, note) = match class {
            op::LD | op::LDX => {
                let reg = if class == op::LD { "ld" } else { "ldx" };
                let (text, acc, note) = match i.code & 0xe0 {
                    op::ABS => {
                        let acc = match i.k {
                            data::NR => Acc::Nr,
                            data::ARCH => Acc::ArchToken,
                            k => Acc::Word(k),
                        };
                        (format!("{reg} [{}]", i.k), acc, Some(load_note(i.k, st.token)))
                    }
                    op::IMM => (format!("{reg} #{:#x}", i.k), Acc::Unknown, None),
                    op::MEM => (format!("{reg} M[{}]", i.k), Acc::Unknown, None),
                    op::LEN => (format!("{reg} len"), Acc::Unknown, None),
                    _ => (format!("{reg} ?{:#06x} {:#x}", i.code, i.k), Acc::Unknown, None),
                };
                let acc = if class == op::LD { acc } else { st.acc };
                flow(pc + 1, State { acc, ..st });
                (text, note)
            }
            op::ST | op::STX => {
                flow(pc + 1, st);
                (format!("{} M[{}]", if class == op::ST { "st" } else { "stx" }, i.k), None)
            }
            op::ALU => {
                let name = match i.code & 0xf0 {
                    op::ADD => "add",
                    op::SUB => "sub",
                    op::MUL => "mul",
                    op::DIV => "div",
                    op::OR => "or",
                    op::AND => "and",
                    op::LSH => "lsh",
                    op::RSH => "rsh",
                    op::NEG => "neg",
                    op::MOD => "mod",
                    op::XOR => "xor",
                    _ => "alu?",
                };
                flow(pc + 1, State { acc: Acc::Unknown, ..st });
                let text = if i.code & 0xf0 == op::NEG { name.to_owned() } else { format!("{name} {operand}") };
                (text, None)
            }
            op::JMP if i.code & 0xf0 == op::JA => {
                let to = pc + 1 + i.k as usize;
                flow(to, st);
                (format!("ja {to:04}"), None)
            }
            op::JMP => {
                let name = match i.code & 0xf0 {
                    op::JEQ => "jeq",
                    op::JGT => "jgt",
                    op::JGE => "jge",
                    op::JSET => "jset",
                    _ => "j?",
                };
                let (t, f) = (pc + 1 + usize::from(i.jt), pc + 1 + usize::from(i.jf));
                let mut on_true = st;
                let note = match (st.acc, src_x) {
                    (Acc::ArchToken, false) => {
                        if i.code & 0xf0 == op::JEQ {
                            on_true.token = Some(i.k);
                        }
                        let names: Vec<&str> = arches_of(i.k).map(|a| a.aliases()[0]).collect();
                        (!names.is_empty()).then(|| names.join("/"))
                    }
                    (Acc::Nr, false) => st.token.and_then(|t| syscall_name(t, i.k)).map(str::to_owned),
                    _ => None,
                };
                flow(t, on_true);
                flow(f, st);
                (format!("{name} {operand}  true:{t:04} false:{f:04}"), note)
            }
            op::RET => {
                let text =
                    if i.code & 0x18 == op::A { "ret A".to_owned() } else { format!("ret {}", action_text(i.k)) };
                (text, None)
            }
            _ => {
                flow(pc + 1, State { acc: Acc::Unknown, ..st });
                (if i.code & 0xf8 == op::TXA { "txa" } else { "tax" }.to_owned(), None)
            }
        };
        match note {
            Some(n) => {
                let _ = writeln!(out, "{pc:04}: {text:<36} ; {n}");
            }
            None => {
                let _ = writeln!(out, "{pc:04}: {text}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotates_arch_syscalls_and_actions() {
        let prog = [
            Insn::stmt(op::LD_ABS_W, data::ARCH),
            Insn::jump(op::JEQ_K, 0xc000_003e, 0, 4),
            Insn::stmt(op::LD_ABS_W, data::NR),
            Insn::jump(op::JEQ_K, 59, 0, 1),
            Insn::stmt(op::RET_K, 0x0005_0001),
            Insn::stmt(op::RET_K, 0x7fff_0000),
            Insn::stmt(op::RET_K, 0x8000_0000),
        ];
        let text = disassemble(&prog);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[1].starts_with("0001: jeq #0xc000003e  true:0002 false:0006") && lines[1].ends_with("; x86_64/x32"),
            "{text}"
        );
        assert!(lines[3].ends_with("; execve"), "{text}");
        assert_eq!(lines[4], "0004: ret ERRNO(1)");
        assert_eq!(lines[5], "0005: ret ALLOW");
        assert_eq!(lines[6], "0006: ret KILL_PROCESS");
    }
}
