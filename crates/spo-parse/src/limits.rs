//! What one piece of outside input may cost, in one place.
//!
//! Profiles reach spo-rs from people (`spoc`), from a manifests directory
//! a root daemon watches (`spod`) and from the API server (the admission
//! webhook). Each of those readers takes a [`Limits`], so a hostile file is
//! refused with the same located message everywhere, and a user who needs
//! more than the defaults raises one limit by name (`--limit NAME=VALUE`
//! on `spoc` and `spod`; [`Limits::set`]).
//!
//! Each limit bounds a cost that would otherwise grow with the input in a
//! way the file size does not bound: nesting (the recursive passes use
//! the stack), alias expansion (a 300-byte YAML file can expand to a
//! billion values), rules and names (every one is checked and may produce
//! a diagnostic), includes (each one is another file read). The file size
//! bounds everything else, since every pass is linear in its input.

use std::fmt;

/// Limits on outside input. [`Limits::default`] fits every real profile
/// by a wide margin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest file read, in bytes (profiles, manifests, includes, CIL
    /// bases, audit logs). Checked before reading.
    pub file_size: u64,
    /// Deepest nesting of JSON, YAML, CIL and AppArmor blocks.
    pub depth: usize,
    /// Values YAML aliases (`*name`) may add to a file, all aliases
    /// together.
    pub alias_values: usize,
    /// Rules in one profile: entries of a seccomp `syscalls` list.
    pub rules: usize,
    /// Syscall names in one seccomp profile, all rules together.
    pub names: usize,
    /// Files one AppArmor validation may include.
    pub includes: usize,
    /// Longest chain of AppArmor includes.
    pub include_depth: usize,
}

/// The deepest nesting [`Limits::set`] accepts: every parser and pass was
/// checked at this depth on an 8 MiB stack (a main thread's), and at the
/// default depth on a 2 MiB one (spod's threads, the webhook's workers),
/// in an unoptimised build (`tests/hostile_input.rs`).
pub const DEPTH_CEILING: usize = 1024;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            // auditd rotates its log at 8 MB by default; no profile comes
            // near it (Kubernetes stores objects of at most 1.5 MiB).
            file_size: 8 << 20,
            depth: 256,
            alias_values: 100_000,
            // Every syscall table has fewer than 1,000 names: these are
            // far beyond any profile that could be compiled.
            rules: 65_536,
            names: 65_536,
            // A Debian profile with its abstractions reaches about 60
            // files, 6 deep.
            includes: 1024,
            include_depth: 32,
        }
    }
}

/// One limit, by the name users give it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// [`Limits::file_size`].
    FileSize,
    /// [`Limits::depth`].
    Depth,
    /// [`Limits::alias_values`].
    AliasValues,
    /// [`Limits::rules`].
    Rules,
    /// [`Limits::names`].
    Names,
    /// [`Limits::includes`].
    Includes,
    /// [`Limits::include_depth`].
    IncludeDepth,
}

impl Limit {
    /// Every limit, in the order they are listed to users.
    pub const ALL: [Limit; 7] = [
        Limit::FileSize,
        Limit::Depth,
        Limit::AliasValues,
        Limit::Rules,
        Limit::Names,
        Limit::Includes,
        Limit::IncludeDepth,
    ];

    /// The name given on command lines (`--limit depth=512`).
    pub fn name(self) -> &'static str {
        match self {
            Limit::FileSize => "file-size",
            Limit::Depth => "depth",
            Limit::AliasValues => "alias-values",
            Limit::Rules => "rules",
            Limit::Names => "names",
            Limit::Includes => "includes",
            Limit::IncludeDepth => "include-depth",
        }
    }

    /// What it bounds, for help texts.
    pub fn about(self) -> &'static str {
        match self {
            Limit::FileSize => "largest file read (bytes; K, M and G suffixes are powers of 1024)",
            Limit::Depth => "deepest nesting of JSON, YAML, CIL and AppArmor",
            Limit::AliasValues => "values YAML aliases may add to a file",
            Limit::Rules => "entries of a seccomp `syscalls` list",
            Limit::Names => "syscall names in a seccomp profile",
            Limit::Includes => "files one AppArmor profile may include",
            Limit::IncludeDepth => "longest chain of AppArmor includes",
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Limits {
    /// The value of `limit`.
    pub fn get(&self, limit: Limit) -> u64 {
        match limit {
            Limit::FileSize => self.file_size,
            Limit::Depth => self.depth as u64,
            Limit::AliasValues => self.alias_values as u64,
            Limit::Rules => self.rules as u64,
            Limit::Names => self.names as u64,
            Limit::Includes => self.includes as u64,
            Limit::IncludeDepth => self.include_depth as u64,
        }
    }

    /// Apply one `NAME=VALUE` setting, as given to `--limit`.
    pub fn set(&mut self, setting: &str) -> Result<(), String> {
        let names = || Limit::ALL.iter().map(|l| l.name()).collect::<Vec<_>>().join(", ");
        let Some((name, value)) = setting.split_once('=') else {
            return Err(format!("`{setting}` is not NAME=VALUE; limits are {}", names()));
        };
        let Some(limit) = Limit::ALL.into_iter().find(|l| l.name() == name.trim()) else {
            let hint = spo_model::suggest::did_you_mean(name, Limit::ALL.iter().map(|l| l.name()))
                .map(|s| format!("did you mean `{s}`? "))
                .unwrap_or_default();
            return Err(format!("unknown limit `{name}`; {hint}limits are {}", names()));
        };
        let n = parse_size(value.trim())
            .ok_or_else(|| format!("limit `{name}`: `{value}` is not a number (such as 512, 64K or 16M)"))?;
        if n == 0 {
            return Err(format!("limit `{name}` must be at least 1"));
        }
        let count = usize::try_from(n).map_err(|_| format!("limit `{name}`: {n} is too large"))?;
        match limit {
            Limit::FileSize => self.file_size = n,
            Limit::Depth if count > DEPTH_CEILING => {
                return Err(format!(
                    "limit `depth` can be at most {DEPTH_CEILING}: deeper input would exhaust the stack"
                ))
            }
            Limit::Depth => self.depth = count,
            Limit::AliasValues => self.alias_values = count,
            Limit::Rules => self.rules = count,
            Limit::Names => self.names = count,
            Limit::Includes => self.includes = count,
            Limit::IncludeDepth => self.include_depth = count,
        }
        Ok(())
    }

    /// These limits with every `NAME=VALUE` of `settings` applied.
    pub fn with_settings<S: AsRef<str>>(mut self, settings: &[S]) -> Result<Limits, String> {
        for s in settings {
            self.set(s.as_ref())?;
        }
        Ok(self)
    }

    /// One line per limit: name, default value, what it bounds. For the
    /// help of every command that takes `--limit`.
    pub fn describe() -> String {
        let d = Limits::default();
        Limit::ALL
            .iter()
            .map(|l| format!("  {:<14} {:>9}  {}", l.name(), show(*l, d.get(*l)), l.about()))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn show(limit: Limit, v: u64) -> String {
    match limit {
        Limit::FileSize if v.is_multiple_of(1 << 20) => format!("{}M", v >> 20),
        Limit::FileSize if v.is_multiple_of(1 << 10) => format!("{}K", v >> 10),
        _ => v.to_string(),
    }
}

/// `512`, `64K`, `16M`, `1G` (powers of 1024; `KiB`, `MiB`, `GiB` too).
fn parse_size(s: &str) -> Option<u64> {
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(digits);
    let n: u64 = n.parse().ok()?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" => 0,
        "k" | "kib" => 10,
        "m" | "mib" => 20,
        "g" | "gib" => 30,
        _ => return None,
    };
    n.checked_mul(1 << shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_by_name() {
        let l = Limits::default().with_settings(&["depth=512", "file-size=64K", "names = 10"]).unwrap();
        assert_eq!((l.depth, l.file_size, l.names), (512, 64 << 10, 10));
        assert_eq!(Limits::default().get(Limit::FileSize), 8 << 20);
    }

    #[test]
    fn bad_settings_say_what_is_accepted() {
        let mut l = Limits::default();
        let e = l.set("dept=3").unwrap_err();
        assert!(e.contains("did you mean `depth`?"), "{e}");
        assert!(l.set("depth=100000").unwrap_err().contains("at most 1024"));
        assert!(l.set("depth=0").unwrap_err().contains("at least 1"));
        assert!(l.set("rules=many").unwrap_err().contains("not a number"));
        assert!(l.set("rules").unwrap_err().contains("NAME=VALUE"));
        assert_eq!(l, Limits::default());
    }

    #[test]
    fn described_with_defaults() {
        let d = Limits::describe();
        assert!(d.contains("file-size") && d.contains("8M") && d.contains("256"), "{d}");
        assert_eq!(d.lines().count(), Limit::ALL.len());
    }
}
