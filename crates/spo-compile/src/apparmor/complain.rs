//! Complain mode for profile text: rewrite the `flags=(...)` of every
//! profile (children and hats too), keeping every other flag, so a profile
//! written by hand can be tried out without being enforced.

use spo_model::apparmor::ProfileHeader;

/// Mode flags that complain mode replaces: a profile has one mode.
const MODES: &[&str] = &["complain", "enforce", "kill", "unconfined"];

/// Put every profile of `text` in complain mode. `headers` are the
/// profile headers of `text` as the parser found them.
pub fn set_complain(text: &str, headers: &[ProfileHeader]) -> String {
    let mut edits: Vec<(usize, usize, String)> = headers
        .iter()
        .map(|h| {
            let mut flags = vec!["complain".to_owned()];
            flags.extend(h.flags.iter().filter(|f| !MODES.contains(&f.as_str())).cloned());
            let clause = format!("flags=({})", flags.join(","));
            match h.flags_span {
                Some((s, e)) => (s, e, clause),
                None => (h.open, h.open, format!("{clause} ")),
            }
        })
        .filter(|(s, e, _)| *s <= *e && *e <= text.len() && text.is_char_boundary(*s) && text.is_char_boundary(*e))
        .collect();
    edits.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut out = text.to_owned();
    for (s, e, with) in edits {
        out.replace_range(s..e, &with);
    }
    out
}
