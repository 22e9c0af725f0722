//! `spoc validate` on input written to hurt, through the real binary:
//! each case used to crash it, hang it or exhaust memory, and is now an
//! error naming the place or the file and the limit to raise.

use std::os::unix::fs::symlink;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn spoc(args: &[&str]) -> (Output, Duration) {
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_spoc")).args(args).output().expect("spoc runs");
    (out, t.elapsed())
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn deep_nesting_is_a_located_error_not_a_stack_overflow() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("nest.yaml");
    std::fs::write(&f, format!("{}x\n", "- ".repeat(100_000))).unwrap();
    let (out, _) = spoc(&["validate", f.to_str().unwrap()]);
    // 134 (SIGABRT from the overflow) before the depth limit.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("error: nesting deeper than 256 levels"), "{err}");
    assert!(err.contains("nest.yaml:1:513"), "{err}");
    // Raised, the limit moves; above the ceiling it is refused.
    let (out, _) = spoc(&["validate", "--limit", "depth=300", f.to_str().unwrap()]);
    assert!(stderr(&out).contains("nesting deeper than 300 levels"));
    let (out, _) = spoc(&["validate", "--limit", "depth=100000", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("limit `depth` can be at most 1024"), "{}", stderr(&out));
}

#[test]
fn special_files_are_refused_before_reading() {
    let d = tempfile::tempdir().unwrap();
    let zero = d.path().join("zero.json");
    symlink("/dev/zero", &zero).unwrap();
    let fifo = d.path().join("fifo.yaml");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    // Read until memory ran out (4 GB in 7 s), and blocked on the FIFO.
    for (path, what) in [(&zero, "is a character device, not a regular file"), (&fifo, "is a FIFO, not a regular file")]
    {
        let (out, took) = spoc(&["validate", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains(what), "{}", stderr(&out));
        assert!(took < Duration::from_secs(30), "{took:?}");
    }
}

#[test]
fn files_over_the_size_limit_are_refused_by_their_size() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("p.json");
    std::fs::write(&f, format!("{{\"defaultAction\": \"SCMP_ACT_ALLOW\"}}{}", " ".repeat(2000))).unwrap();
    let (out, _) = spoc(&["validate", "--limit", "file-size=1K", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("is 2035 bytes, more than the limit of 1024 (raise it with --limit file-size=N)"),
        "{}",
        stderr(&out)
    );
    let (out, _) = spoc(&["validate", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (out, _) = spoc(&["validate", "--limit", "dept=3", f.to_str().unwrap()]);
    assert!(stderr(&out).contains("unknown limit `dept`; did you mean `depth`?"), "{}", stderr(&out));
}

#[test]
fn an_apparmor_include_cannot_make_spoc_quote_another_file() {
    let d = tempfile::tempdir().unwrap();
    let secret = d.path().join("shadow");
    std::fs::write(&secret, "root:$y$j9T$TOP-SECRET:19000:0:99999:7:::\n").unwrap();
    let inc = d.path().join("apparmor.d");
    std::fs::create_dir(&inc).unwrap();
    let p = d.path().join("p.profile");
    std::fs::write(&p, format!("include \"{}\"\ninclude <../shadow>\nprofile p {{\n}}\n", secret.display())).unwrap();
    let (out, _) = spoc(&["validate", "-I", inc.to_str().unwrap(), p.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("TOP-SECRET"), "{err}");
    assert_eq!(err.matches("leads outside the include directories; not read").count(), 2, "{err}");
}

#[test]
fn a_caret_in_the_blanks_of_a_long_line_renders() {
    // Found by the `documents` fuzz target: the renderer's margin
    // arithmetic underflowed (a panic in debug builds, wrapped garbage in
    // release) for this input.
    let f =
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/seeds/fixed-crashes/annotate-snippets-margin-overflow.yaml");
    let (out, _) = spoc(&["validate", f]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("annotate-snippets-margin-overflow.yaml:"), "not located: {err}");
}
