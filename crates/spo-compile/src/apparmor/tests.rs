//! Golden tests (`tests/fixtures/apparmor/X.yaml` -> `X.apparmor`,
//! refreshed with `SPO_BLESS=1`), acceptance of every rendering by our
//! parser and by `apparmor_parser`, complain-mode rewriting, injection
//! attempts, and a short property test over generated abstract profiles.

use std::path::{Path, PathBuf};
use std::process::Command;

use proptest::prelude::*;
use spo_model::apparmor::{Abstract, AppArmorProfile, AppArmorSpec, Capability, Filesystem, Network, Protocols};
use spo_parse::apparmor::resource::{profile_headers, validate_resource};
use spo_parse::apparmor::{parse, Options as ParseOptions, Validator};

use super::{render, set_complain, Options};
use crate::CompileError;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/apparmor")
}

/// Compile a resource file the way `spoc compile` does.
fn compile_file(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("read fixture");
    let mut v = Validator::new(ParseOptions::default());
    let (docs, reports) = validate_resource(path, &text, &mut v);
    let errors: Vec<String> =
        reports.iter().flat_map(|r| r.diagnostics.iter()).filter(|d| d.is_error()).map(|d| d.message.clone()).collect();
    // Include resolution needs Debian's abstractions; without them only
    // "cannot find" errors are tolerated.
    let real: Vec<&String> = errors.iter().filter(|m| !m.starts_with("cannot find")).collect();
    assert!(real.is_empty(), "{}: {real:?}", path.display());
    let doc = docs.into_iter().next().expect("one profile");
    match &doc.profile.spec.policy {
        Some(policy) if doc.profile.is_complain() => set_complain(policy, &profile_headers(&parse(policy).file)),
        Some(policy) => policy.clone(),
        None => render(&doc.profile, &Options::default()).expect("render"),
    }
}

fn apparmor_parser_accepts(text: &str) -> Option<Result<(), String>> {
    let features = "/usr/share/apparmor-features/features";
    if !Path::new(features).exists() || !Path::new("/etc/apparmor.d/tunables/global").exists() {
        return None;
    }
    let dir = tempfile::tempdir().ok()?;
    let f = dir.path().join("profile");
    std::fs::write(&f, text).ok()?;
    let out = Command::new("apparmor_parser")
        .args(["-Q", "-K", "-M", features, "-I", "/etc/apparmor.d", "-o", "/dev/null"])
        .arg(&f)
        .output()
        .ok()?;
    Some(if out.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&out.stderr).into_owned()) })
}

#[test]
fn golden_renderings() {
    let inputs = spo_test_support::fixtures(&fixtures(), ".yaml");
    assert!(inputs.len() >= 4, "fixtures missing");
    let mut golden = spo_test_support::Golden::new();
    let mut checked_by_parser = 0;
    for input in inputs {
        let got = compile_file(&input);
        golden.check(&input.with_extension("apparmor"), &got);
        // Our own parser accepts the output (no include resolution: the
        // text alone).
        let parsed = parse(&got);
        assert!(parsed.diagnostics.iter().all(|d| !d.is_error()), "{}: {:?}", input.display(), parsed.diagnostics);
        match apparmor_parser_accepts(&got) {
            Some(Ok(())) => checked_by_parser += 1,
            Some(Err(e)) => panic!("apparmor_parser rejects the rendering of {}: {e}", input.display()),
            None => {}
        }
    }
    golden.finish();
    if checked_by_parser == 0 {
        spo_test_support::skip("apparmor_parser check of renderings (install Debian apparmor and apparmor-profiles)");
    }
}

fn profile(spec: AppArmorSpec) -> AppArmorProfile {
    AppArmorProfile::new("p", spec)
}

fn fs(paths: &[&str]) -> AppArmorSpec {
    AppArmorSpec {
        abstract_: Some(Abstract {
            filesystem: Some(Filesystem {
                read_only_paths: paths.iter().map(|s| (*s).to_owned()).collect(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn complain_mode_keeps_flags_and_drops_deny_rules() {
    let p = profile(fs(&["/etc/hosts"]));
    let enforce = render(&p, &Options::default()).expect("render");
    assert!(enforce.contains("flags=(attach_disconnected,mediate_deleted)"));
    assert!(enforce.contains("deny @{PROC}/kcore"));
    let complain = render(&p, &Options { complain: true }).expect("render");
    assert!(complain.contains("flags=(complain,attach_disconnected,mediate_deleted)"));
    assert!(!complain.contains("deny "), "{complain}");
}

#[test]
fn udp_only_when_asked() {
    let mut spec = fs(&[]);
    spec.abstract_.as_mut().expect("abstract").network =
        Some(Network { allow_raw: false, allowed_protocols: Some(Protocols { allow_tcp: true, allow_udp: false }) });
    let out = render(&profile(spec), &Options::default()).expect("render");
    assert!(out.contains("network inet stream,"));
    assert!(!out.contains("dgram"), "{out}");
    assert!(!out.contains("raw"), "{out}");
}

#[test]
fn injection_attempts_are_refused() {
    for bad in ["/etc/x, /etc/shadow rw", "/a\n  capability sys_admin", "/a} profile evil {", "/a # x"] {
        let err = render(&profile(fs(&[bad])), &Options::default()).expect_err(bad);
        assert!(matches!(err, CompileError::InvalidProfile { .. }), "{err}");
        assert!(err.to_string().contains("readOnlyPaths[0]"), "{err}");
    }
    let mut spec = fs(&[]);
    spec.abstract_.as_mut().expect("abstract").capability =
        Some(Capability { allowed_capabilities: vec!["sys_admin,\n  /** rwx".into()] });
    assert!(render(&profile(spec), &Options::default()).is_err());
}

#[test]
fn complain_rewrites_every_profile_header() {
    let text = "profile a flags=(enforce, attach_disconnected) {\n  ^hat {\n  }\n  profile b flags=(kill) {}\n}\n/usr/bin/c {\n}\n";
    let headers = profile_headers(&parse(text).file);
    assert_eq!(headers.len(), 4);
    let out = set_complain(text, &headers);
    assert_eq!(
        out,
        "profile a flags=(complain,attach_disconnected) {\n  ^hat flags=(complain) {\n  }\n  profile b flags=(complain) {}\n}\n/usr/bin/c flags=(complain) {\n}\n"
    );
    assert!(parse(&out).diagnostics.is_empty(), "{:?}", parse(&out).diagnostics);
}

fn path_strategy() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            "[a-z0-9_.-]{1,8}",
            Just("*".to_owned()),
            Just("**".to_owned()),
            Just("{a,b}".to_owned()),
            Just("@{pid}".to_owned())
        ],
        1..5,
    )
    .prop_map(|parts| format!("/{}", parts.join("/")))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Any profile that validates renders to text our parser accepts, with
    /// one rule per path.
    #[test]
    fn valid_profiles_render_to_valid_text(paths in proptest::collection::vec(path_strategy(), 0..6), complain: bool, tcp: bool, udp: bool) {
        let mut spec = fs(&paths.iter().map(String::as_str).collect::<Vec<_>>());
        spec.abstract_.as_mut().expect("abstract").network =
            Some(Network { allow_raw: false, allowed_protocols: Some(Protocols { allow_tcp: tcp, allow_udp: udp }) });
        let out = render(&profile(spec), &Options { complain }).expect("render");
        let parsed = parse(&out);
        prop_assert!(parsed.diagnostics.iter().all(|d| !d.is_error()), "{:?}\n{}", parsed.diagnostics, out);
        for p in &paths {
            let rule = format!("  {p} r,\n");
            prop_assert!(out.contains(&rule), "{out}");
        }
        prop_assert_eq!(out.contains("dgram"), udp);
        prop_assert_eq!(out.contains("deny "), !complain);
    }

    /// Any string either validates as a path or is refused; a refused
    /// string never renders, and an accepted one stays one token.
    #[test]
    fn arbitrary_paths_never_inject(s in "/[ -~\n]{0,24}") {
        let p = profile(fs(&[s.as_str()]));
        if let Ok(out) = render(&p, &Options::default()) {
            let parsed = parse(&out);
            prop_assert!(parsed.diagnostics.iter().all(|d| !d.is_error()), "{:?}\n{}", parsed.diagnostics, out);
            let rules = out.lines().filter(|l| l.trim_end().ends_with(" r,")).count();
            prop_assert_eq!(rules, 1, "{}", out);
        }
    }
}
