//! Differential test against `apparmor_parser`: on Debian's profiles and on
//! deterministic mutations of them (a dropped brace or comma, a misspelled
//! keyword, capability, flag or permission, an undefined variable, a
//! missing include), our verdict must equal the parser's, and when both
//! reject, one of our errors must be on the line the parser names.
//!
//! The default run checks every fourth profile and 60 mutations (seconds);
//! `SPO_APPARMOR_DIFF=full` checks every profile and 600 mutations, and
//! `SPO_APPARMOR_SEED=N` picks another seed. Skips loudly when
//! `apparmor_parser` (Debian `apparmor`) or the profiles
//! (`apparmor-profiles`, `apparmor-profiles-extra`) are missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use spo_parse::apparmor::{Options, Validator};
use spo_parse::SourceMap;

const FEATURES: &str = "/usr/share/apparmor-features/features";
const INCLUDE: &str = "/etc/apparmor.d";

/// The seed of the committed mutation set.
const SEED: u64 = 0x5eed_a44a_2026;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn parser_available() -> bool {
    Command::new("apparmor_parser").arg("--version").output().is_ok_and(|o| o.status.success())
        && Path::new(FEATURES).exists()
}

fn profiles() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in [INCLUDE, "/usr/share/apparmor/extra-profiles"] {
        let Ok(rd) = std::fs::read_dir(dir) else { continue };
        let mut v: Vec<PathBuf> = rd
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != "README"))
            .collect();
        v.sort();
        out.extend(v);
    }
    out
}

/// `apparmor_parser`'s verdict and the line it names in `file`, if any.
fn reference(file: &Path) -> (bool, Option<usize>, String) {
    let out = Command::new("apparmor_parser")
        .args(["-Q", "-K", "-M", FEATURES, "-I", INCLUDE, "-o", "/dev/null"])
        .arg(file)
        .output()
        .expect("run apparmor_parser");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    // "... for FILE in profile CURRENT at line N": N is a line of CURRENT,
    // which is an included file when the error is found inside one.
    let prefix = format!("AppArmor parser error for {} in profile {} at line ", file.display(), file.display());
    let line = err.lines().find(|l| l.starts_with(&prefix)).and_then(|l| {
        let at = l.find(" at line ")?;
        l[at + 9..].split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
    });
    (out.status.success(), line, err)
}

/// Our verdict and the lines of our errors (and their secondary labels)
/// in `file`.
fn ours(v: &mut Validator, file: &Path, text: &str) -> (bool, Vec<usize>, String) {
    let reports = v.validate(file, text);
    let mut lines = Vec::new();
    let mut shown = String::new();
    let mut ok = true;
    for r in &reports {
        let map = SourceMap::new(&r.text);
        for d in r.diagnostics.iter().filter(|d| d.is_error()) {
            ok = false;
            let (l, c) = map.line_col(d.span.start);
            shown += &format!("{}:{l}:{c}: {}\n", r.path.display(), d.message);
            if r.path == file {
                lines.push(l);
                lines.extend(d.labels.iter().map(|x| map.line_col(x.span.start).0));
            }
        }
    }
    (ok, lines, shown)
}

#[derive(Debug, Clone, Copy)]
enum Mutation {
    DropOpenBrace,
    DropCloseBrace,
    DropComma,
    MisspellKeyword,
    MisspellCapability,
    MisspellFlag,
    MisspellPermission,
    UndefinedVariable,
    MissingInclude,
}

const MUTATIONS: [Mutation; 9] = [
    Mutation::DropOpenBrace,
    Mutation::DropCloseBrace,
    Mutation::DropComma,
    Mutation::MisspellKeyword,
    Mutation::MisspellCapability,
    Mutation::MisspellFlag,
    Mutation::MisspellPermission,
    Mutation::UndefinedVariable,
    Mutation::MissingInclude,
];

/// Lines without their comments: (line index, code part).
fn code_lines(text: &str) -> Vec<(usize, String)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| {
            let t = l.trim_start();
            let code =
                if t.starts_with("#include") { l.to_owned() } else { l.split('#').next().unwrap_or("").to_owned() };
            (i, code)
        })
        .collect()
}

fn misspell(word: &str, rng: &mut Rng) -> String {
    let chars: Vec<char> = word.chars().collect();
    for _ in 0..8 {
        let mut c = chars.clone();
        let i = rng.below(c.len());
        match rng.below(3) {
            0 if c.len() > 1 => {
                c.remove(i);
            }
            1 if i + 1 < c.len() => c.swap(i, i + 1),
            _ => c.insert(i, (b'a' + rng.below(26) as u8) as char),
        }
        let s: String = c.into_iter().collect();
        if s != word && !s.is_empty() {
            return s;
        }
    }
    format!("{word}q")
}

/// Apply `m` to `text`: the new text and the 1-based line of the defect;
/// `None` when the text offers no place for it.
fn mutate(text: &str, m: Mutation, rng: &mut Rng) -> Option<(String, usize)> {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let code = code_lines(text);
    let pick =
        |cands: Vec<usize>, rng: &mut Rng| if cands.is_empty() { None } else { Some(cands[rng.below(cands.len())]) };
    let line;
    match m {
        Mutation::DropOpenBrace => {
            let i = pick(code.iter().filter(|(_, c)| c.trim_end().ends_with(" {")).map(|(i, _)| *i).collect(), rng)?;
            let l = &lines[i];
            let at = l.rfind('{')?;
            lines[i] = format!("{}{}", &l[..at], &l[at + 1..]);
            line = i + 1;
        }
        Mutation::DropCloseBrace => {
            let i = pick(code.iter().filter(|(_, c)| c.trim() == "}").map(|(i, _)| *i).collect(), rng)?;
            lines[i] = lines[i].replacen('}', "", 1);
            line = i + 1;
        }
        Mutation::DropComma => {
            let i = pick(code.iter().filter(|(_, c)| c.trim_end().ends_with(',')).map(|(i, _)| *i).collect(), rng)?;
            let end = code[i].1.trim_end().len();
            lines[i].remove(end - 1);
            line = i + 1;
        }
        Mutation::MisspellKeyword => {
            const KW: [&str; 12] = [
                "capability",
                "network",
                "signal",
                "ptrace",
                "dbus",
                "unix",
                "profile",
                "owner",
                "deny",
                "audit",
                "include",
                "abi",
            ];
            let cands: Vec<usize> = code
                .iter()
                .filter(|(_, c)| c.split_whitespace().next().is_some_and(|w| KW.contains(&w)))
                .map(|(i, _)| *i)
                .collect();
            let i = pick(cands, rng)?;
            let l = &lines[i];
            let start = l.len() - l.trim_start().len();
            let w = l[start..].split_whitespace().next()?.to_owned();
            lines[i] = format!("{}{}{}", &l[..start], misspell(&w, rng), &l[start + w.len()..]);
            line = i + 1;
        }
        Mutation::MisspellCapability => {
            let cands: Vec<usize> = code
                .iter()
                .filter(|(_, c)| c.trim_start().starts_with("capability ") && c.contains(','))
                .map(|(i, _)| *i)
                .collect();
            let i = pick(cands, rng)?;
            let l = lines[i].clone();
            let at = l.find("capability ")? + "capability ".len();
            let rest = &l[at..];
            let w: String = rest.trim_start().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if w.is_empty() {
                return None;
            }
            let ws = rest.len() - rest.trim_start().len();
            lines[i] = format!("{}{}{}", &l[..at + ws], misspell(&w, rng), &l[at + ws + w.len()..]);
            line = i + 1;
        }
        Mutation::MisspellFlag => {
            let i = pick(code.iter().filter(|(_, c)| c.contains("flags=(")).map(|(i, _)| *i).collect(), rng)?;
            let l = lines[i].clone();
            let at = l.find("flags=(")? + 7;
            let w: String = l[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if w.is_empty() {
                return None;
            }
            lines[i] = format!("{}{}{}", &l[..at], misspell(&w, rng), &l[at + w.len()..]);
            line = i + 1;
        }
        Mutation::MisspellPermission => {
            // `PATH PERMS,` lines.
            let cands: Vec<usize> = code
                .iter()
                .filter(|(_, c)| {
                    let t: Vec<&str> = c.split_whitespace().collect();
                    t.len() == 2 && t[0].starts_with('/') && t[1].ends_with(',') && t[1].len() > 1
                })
                .map(|(i, _)| *i)
                .collect();
            let i = pick(cands, rng)?;
            let l = lines[i].clone();
            let c = &code[i].1;
            let perms_end = c.trim_end().len() - 1;
            let perms_start = c[..perms_end].rfind(char::is_whitespace)? + 1;
            let perms = &l[perms_start..perms_end];
            lines[i] = format!("{}{}{}", &l[..perms_start], misspell(perms, rng), &l[perms_end..]);
            line = i + 1;
        }
        Mutation::UndefinedVariable | Mutation::MissingInclude => {
            let i = pick(code.iter().filter(|(_, c)| c.trim_end().ends_with(" {")).map(|(i, _)| *i).collect(), rng)?;
            let add = match m {
                Mutation::UndefinedVariable => "  /tmp/@{SPO_UNDEFINED_VARIABLE}/** r,",
                _ => "  include <abstractions/spo-missing-file>",
            };
            lines.insert(i + 1, add.to_owned());
            line = i + 2;
        }
    }
    let mut s = lines.join("\n");
    s.push('\n');
    Some((s, line))
}

#[test]
fn verdicts_match_apparmor_parser() {
    if !parser_available() {
        spo_test_support::skip(format!("apparmor_parser or {FEATURES} missing (Debian package apparmor)"));
        return;
    }
    let all = profiles();
    if all.is_empty() {
        spo_test_support::skip(format!(
            "no profiles under {INCLUDE} (Debian packages apparmor-profiles, apparmor-profiles-extra)"
        ));
        return;
    }
    let full = std::env::var("SPO_APPARMOR_DIFF").is_ok_and(|v| v == "full");
    let seed = std::env::var("SPO_APPARMOR_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(SEED);
    let (stride, n_mutations) = if full { (1, 600) } else { (4, 60) };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut v = Validator::new(Options { include_dirs: vec![PathBuf::from(INCLUDE)], ..Options::default() });
    let (mut total, mut agree, mut line_total, mut line_agree) = (0, 0, 0, 0);
    let mut report = String::new();
    let mut check = |name: &str, path: &Path, text: &str, defect: Option<usize>, v: &mut Validator| {
        let (ref_ok, ref_line, ref_err) = reference(path);
        let (our_ok, our_lines, our_err) = ours(v, path, text);
        total += 1;
        if ref_ok == our_ok {
            agree += 1;
        } else {
            let at = defect.map(|l| text.lines().nth(l - 1).unwrap_or("").to_owned()).unwrap_or_default();
            report += &format!("VERDICT {name}: apparmor_parser {ref_ok}, ours {our_ok}\n  line: {at}\n  parser: {ref_err}  ours: {our_err}\n");
        }
        let right: Vec<usize> = ref_line.into_iter().chain(defect).collect();
        if !ref_ok && !our_ok && !right.is_empty() {
            line_total += 1;
            if right.iter().any(|l| our_lines.contains(l)) {
                line_agree += 1;
            } else {
                report += &format!("LINE {name}: parser line {ref_line:?}, defect line {defect:?}, ours {our_lines:?}\n  parser: {ref_err}  ours: {our_err}\n");
            }
        }
    };
    for p in all.iter().step_by(stride) {
        let text = std::fs::read_to_string(p).expect("read profile");
        check(&p.display().to_string(), p, &text, None, &mut v);
    }
    let mut rng = Rng(seed);
    let mut made = 0;
    let mut attempts = 0;
    while made < n_mutations && attempts < n_mutations * 20 {
        attempts += 1;
        let src = &all[rng.below(all.len())];
        let m = MUTATIONS[rng.below(MUTATIONS.len())];
        let Ok(text) = std::fs::read_to_string(src) else { continue };
        let Some((mutated, defect)) = mutate(&text, m, &mut rng) else { continue };
        made += 1;
        let name = src.file_name().and_then(|n| n.to_str()).unwrap_or("profile");
        let path = dir.path().join(format!("{made:04}-{name}"));
        std::fs::write(&path, &mutated).expect("write mutation");
        check(&format!("{m:?} of {}", src.display()), &path, &mutated, Some(defect), &mut v);
    }
    let pct = 100.0 * agree as f64 / total as f64;
    let line_pct = if line_total == 0 { 100.0 } else { 100.0 * line_agree as f64 / line_total as f64 };
    eprintln!("apparmor differential (seed {seed:#x}): verdicts agree on {agree}/{total} ({pct:.1}%), lines on {line_agree}/{line_total} ({line_pct:.1}%), {made} mutations");
    assert!(agree == total && line_agree == line_total, "disagreements:\n{report}");
}

/// The profile renders collected under `/work/shared/corpus/apparmor`
/// (moby, containers-common, bane, SPO): same verdict as the parser (three
/// of them are rightly rejected: two include files that do not exist, one
/// uses `abstractions/base` without the tunables that define its
/// variables).
#[test]
fn shared_renders_match_apparmor_parser() {
    let root = Path::new("/work/shared/corpus/apparmor");
    if !root.is_dir() || !parser_available() || !Path::new(INCLUDE).join("tunables/global").exists() {
        spo_test_support::skip(format!("{} or apparmor_parser with Debian's profiles missing", root.display()));
        return;
    }
    let mut files = Vec::new();
    let mut dirs = vec![root.to_owned()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).expect("read corpus").flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "profile") {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut v = Validator::new(Options { include_dirs: vec![PathBuf::from(INCLUDE)], ..Options::default() });
    let mut bad = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("read");
        let (ref_ok, _, ref_err) = reference(f);
        let (our_ok, _, our_err) = ours(&mut v, f, &text);
        if ref_ok != our_ok {
            bad.push(format!("{}: parser {ref_ok} ({ref_err}), ours {our_ok} ({our_err})", f.display()));
        }
    }
    assert!(files.len() >= 5, "too few renders under {}", root.display());
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
