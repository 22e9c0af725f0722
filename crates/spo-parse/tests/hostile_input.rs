//! Input written to hurt: nesting that would exhaust the stack, aliases
//! that multiply, more rules and names than any profile has, includes that
//! climb out of the search paths or go round in a circle. Each is refused
//! with a located error at the place a limit is crossed, on a thread with
//! the 2 MiB stack spod's threads and the webhook's workers have (and, at
//! the highest depth a user may set, on a main thread's 8 MiB).
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use spo_parse::apparmor::{FileReport, Options, Validator};
use spo_parse::limits::DEPTH_CEILING;
use spo_parse::value::{parse_json_with, parse_yaml, parse_yaml_with};
use spo_parse::{cil, Limits};

/// Run `f` on a thread with a stack of `mib` MiB.
fn on_stack<T: Send + 'static>(mib: usize, f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new().stack_size(mib << 20).spawn(f).expect("thread").join().expect("no overflow")
}

fn small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    on_stack(2, f)
}

#[test]
fn yaml_nesting_is_an_error_where_it_crosses_the_limit() {
    // 100,000 nested `- `: yaml-rust2's own loader recursed once per level
    // and aborted the process with a stack overflow.
    let text = format!("{}x\n", "- ".repeat(100_000));
    let (docs, diags) = small_stack(move || parse_yaml(&text));
    assert!(docs.is_empty());
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0].message, "nesting deeper than 256 levels");
    // The 257th `- ` opens the sequence that is one too many.
    assert_eq!(diags[0].span.start, 2 * 256);
    assert!(diags[0].help.as_deref().unwrap_or("").contains("--limit depth="));
    // Exactly at the limit is fine.
    let (docs, diags) = parse_yaml(&format!("{}x\n", "- ".repeat(256)));
    assert!(diags.is_empty() && docs.len() == 1, "{diags:?}");
}

#[test]
fn every_language_stops_at_the_depth_limit_even_when_it_is_raised() {
    let limits = Limits { depth: DEPTH_CEILING, ..Limits::default() };
    let n = DEPTH_CEILING;
    on_stack(8, move || {
        let json = format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(parse_json_with(&json, &limits).1.is_empty());
        let deeper = format!("[{json}]");
        let (_, d) = parse_json_with(&deeper, &limits);
        assert_eq!(d[0].message, format!("nesting deeper than {n} levels"));
        assert_eq!(d[0].span.start, n);

        // Block nesting (yaml-rust2 itself refuses flow nesting past 255).
        let yaml = format!("{}x\n", "- ".repeat(n));
        assert!(parse_yaml_with(&yaml, &limits).1.is_empty());
        let (_, d) = parse_yaml_with(&format!("- {yaml}"), &limits);
        assert_eq!(d[0].message, format!("nesting deeper than {n} levels"));

        // CIL: the statement checks recurse; past the limit the tree is
        // refused at the first `(` too deep.
        let policy = format!("{}{}", "(optional o ".repeat(n), ")".repeat(n));
        let d = cil::validate_with(&policy, &cil::Base::default_container_base(), &limits);
        assert!(!d.iter().any(|d| d.message.starts_with("nesting")), "{:?}", &d[..d.len().min(3)]);
        let policy = format!("({policy})");
        let d = cil::validate_with(&policy, &cil::Base::default_container_base(), &limits);
        assert!(d.iter().any(|d| d.message == format!("nesting deeper than {n} levels")), "{:?}", &d[..d.len().min(3)]);

        // AppArmor blocks.
        let nested = format!("profile p {{\n{}{}}}\n", "if $x {\n".repeat(n - 1), "}\n".repeat(n - 1));
        let parsed = spo_parse::apparmor::parse_with(&nested, &limits);
        assert!(!parsed.diagnostics.iter().any(|d| d.message.starts_with("nesting")), "{:?}", parsed.diagnostics);
        let deeper = format!("profile p {{\n{}{}}}\n", "if $x {\n".repeat(n), "}\n".repeat(n));
        let parsed = spo_parse::apparmor::parse_with(&deeper, &limits);
        assert!(parsed.diagnostics.iter().any(|d| d.message == format!("nesting deeper than {n} levels")));
    });
    // At the default limit, on a worker's stack: 256 deep is read, and
    // 100,000 deep is refused in each language.
    small_stack(|| {
        let l = Limits::default();
        let n = l.depth;
        assert!(parse_json_with(&format!("{}{}", "[".repeat(n), "]".repeat(n)), &l).1.is_empty());
        let policy = format!("{}{}", "(optional o ".repeat(n), ")".repeat(n));
        let d = cil::validate(&policy, &cil::Base::default_container_base());
        assert!(!d.iter().any(|d| d.message.starts_with("nesting")));
        let nested = format!("profile p {{\n{}{}}}\n", "if $x {\n".repeat(n - 1), "}\n".repeat(n - 1));
        assert!(!spo_parse::apparmor::parse(&nested).diagnostics.iter().any(|d| d.message.starts_with("nesting")));
        assert!(!parse_json_with(&"[".repeat(100_000), &l).1.is_empty());
        assert!(!cil::validate(&"(".repeat(100_000), &cil::Base::empty()).is_empty());
        assert!(!spo_parse::apparmor::parse(&format!("profile p {}", "{".repeat(100_000))).diagnostics.is_empty());
    });
}

#[test]
fn alias_bombs_are_refused_at_the_alias_that_crosses_the_limit() {
    // The "billion laughs": 9 aliases of 9 aliases ... 9 levels deep.
    let mut text = String::from("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for w in names.windows(2) {
        let refs = vec![format!("*{}", w[0]); 9].join(", ");
        text.push_str(&format!("{}: &{} [{refs}]\n", w[1], w[1]));
    }
    let limits = Limits { alias_values: 1_000, ..Limits::default() };
    let (docs, diags) = parse_yaml_with(&text, &limits);
    assert!(docs.is_empty());
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0].message, "aliases expand this file by more than 1000 values");
    // An alias of `a` adds 10 values, of `b` 91, of `c` 820: the nine of
    // `b` and of `c` add 909, and the first alias of `c` crosses 1,000.
    let at = diags[0].span.start;
    assert!(text[..at].ends_with("\nd: &d ["), "{}", &text[..at]);
    assert_eq!(&text[at..at + 3], "*c,");
    // The default limit refuses it too, and a few aliases are fine.
    assert!(parse_yaml(&text).1[0].message.contains("aliases expand"));
    let (docs, diags) = parse_yaml("a: &x [1, 2]\nb: *x\nc: *x\n");
    assert!(diags.is_empty() && docs.len() == 1);
}

#[test]
fn rules_and_names_past_their_limits_are_refused_and_nothing_is_applied() {
    let limits = Limits { rules: 10, names: 25, ..Limits::default() };
    let rules: Vec<String> = (0..12).map(|_| r#"{"action": "SCMP_ACT_ALLOW", "names": ["read"]}"#.to_owned()).collect();
    let text = format!(r#"{{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{}]}}"#, rules.join(",\n"));
    let f = spo_parse::seccomp::parse_file_with(&text, &Default::default(), &limits);
    assert!(f.documents.is_empty(), "a profile cut short must not be applied");
    let d = f.diagnostics.iter().find(|d| d.message.starts_with("more than 10")).expect("refused");
    assert_eq!(d.message, "more than 10 entries in `syscalls`; the rest is not read");
    assert_eq!(text[..d.span.start].matches("\n").count(), 10, "at the 11th entry");
    assert!(d.help.as_deref().unwrap_or("").contains("--limit rules=N"));

    let names: Vec<String> = (0..30).map(|i| format!("\"n{i}\"")).collect();
    let text = format!(
        r#"{{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{{"action": "SCMP_ACT_ALLOW", "names": [{}]}}]}}"#,
        names.join(", ")
    );
    let f = spo_parse::seccomp::parse_file_with(&text, &Default::default(), &limits);
    let d = f.diagnostics.iter().find(|d| d.message.starts_with("more than 25")).expect("refused");
    assert_eq!(&text[d.span.range()], "\"n25\"");
    assert!(f.documents.is_empty());
}

struct Tree {
    _dir: tempfile::TempDir,
    include: PathBuf,
    secret: PathBuf,
}

const SECRET: &str = "root:$y$j9T$TOP-SECRET-HASH:19000:0:99999:7:::\n";

/// An include directory, and next to it a file that must never be read.
fn tree() -> Tree {
    let dir = tempfile::tempdir().unwrap();
    let include = dir.path().join("apparmor.d");
    std::fs::create_dir_all(include.join("abstractions")).unwrap();
    std::fs::create_dir_all(include.join("tunables")).unwrap();
    std::fs::write(include.join("tunables/global"), "@{HOME}=/home/*/\n").unwrap();
    let secret = dir.path().join("shadow");
    std::fs::write(&secret, SECRET).unwrap();
    Tree { _dir: dir, include, secret }
}

fn validate(t: &Tree, profile: &str) -> Vec<FileReport> {
    let mut v = Validator::new(Options { include_dirs: vec![t.include.clone()], ..Options::default() });
    v.validate(Path::new("p.profile"), profile)
}

fn assert_not_leaked(reports: &[FileReport]) {
    for r in reports {
        assert!(!r.text.contains("TOP-SECRET"), "{} was read: {:?}", r.path.display(), r.text);
        for d in &r.diagnostics {
            assert!(!format!("{d:?}").contains("TOP-SECRET"), "{d:?}");
        }
    }
}

#[test]
fn includes_outside_the_search_paths_are_refused_unread() {
    let t = tree();
    std::os::unix::fs::symlink(&t.secret, t.include.join("abstractions/evil")).unwrap();
    let cases = [
        format!("include \"{}\"\nprofile p {{}}\n", t.secret.display()),
        "include <../shadow>\nprofile p {}\n".to_owned(),
        "include <abstractions/../../shadow>\nprofile p {}\n".to_owned(),
        // Inside by name, outside once the symlink is followed.
        "include <abstractions/evil>\nprofile p {}\n".to_owned(),
        // A directory include skips the link that leads out.
        "include <abstractions>\nprofile p {}\n".to_owned(),
    ];
    for (i, profile) in cases.iter().enumerate() {
        let reports = validate(&t, profile);
        assert_not_leaked(&reports);
        let errors: Vec<&str> =
            reports[0].diagnostics.iter().filter(|d| d.is_error()).map(|d| d.message.as_str()).collect();
        if i < 4 {
            assert!(
                errors.iter().any(|m| m.contains("leads outside the include directories; not read")),
                "{profile}: {errors:?}"
            );
        }
    }
}

#[test]
fn include_cycles_are_errors_with_their_chain() {
    let t = tree();
    std::fs::write(t.include.join("abstractions/a"), "include <abstractions/b>\n").unwrap();
    std::fs::write(t.include.join("abstractions/b"), "include <abstractions/a>\n").unwrap();
    let reports = validate(&t, "include <tunables/global>\nprofile p {\n  include <abstractions/a>\n}\n");
    let all: Vec<String> = reports.iter().flat_map(|r| r.diagnostics.iter().map(|d| d.message.clone())).collect();
    let cycle = all.iter().find(|m| m.starts_with("include cycle")).unwrap_or_else(|| panic!("{all:?}"));
    let a = t.include.join("abstractions/a");
    let b = t.include.join("abstractions/b");
    assert_eq!(*cycle, format!("include cycle: {} -> {} -> {}", a.display(), b.display(), a.display()));
    // Reported in `b`, where the include that closes the circle is.
    let in_b = reports.iter().find(|r| r.path == b).expect("b's report");
    assert!(in_b.diagnostics.iter().any(|d| d.message.starts_with("include cycle")));
}

#[test]
fn include_chains_and_counts_are_bounded() {
    let t = tree();
    for i in 0..40 {
        std::fs::write(t.include.join(format!("abstractions/l{i}")), format!("include <abstractions/l{}>\n", i + 1))
            .unwrap();
    }
    std::fs::write(t.include.join("abstractions/l40"), "").unwrap();
    let reports = validate(&t, "profile p {\n  include <abstractions/l0>\n}\n");
    let all: Vec<String> = reports.iter().flat_map(|r| r.diagnostics.iter().map(|d| d.message.clone())).collect();
    assert!(all.iter().any(|m| m.starts_with("includes nested more than 32 deep")), "{all:?}");
    let mut v = Validator::new(Options {
        include_dirs: vec![t.include.clone()],
        limits: Limits { includes: 5, ..Limits::default() },
        ..Options::default()
    });
    let reports = v.validate(Path::new("p"), "profile p {\n  include <abstractions>\n}\n");
    let all: Vec<String> = reports.iter().flat_map(|r| r.diagnostics.iter().map(|d| d.message.clone())).collect();
    assert!(all.iter().any(|m| m.starts_with("more than 5 included files")), "{all:?}");
}
