//! Names of profiles: they become file names on nodes, CIL block names and
//! AppArmor profile names, so they are checked before anything else sees
//! them.

/// Longest accepted object name (Kubernetes' DNS subdomain limit).
pub const MAX_NAME_LEN: usize = 253;

/// Check that `name` is a Kubernetes DNS-1123 subdomain: lowercase
/// alphanumerics, `-` and `.`, starting and ending with an alphanumeric, at
/// most 253 bytes. Such a name cannot traverse a path (`..` and `/` are
/// impossible, as are NUL and whitespace). Returns a message on failure.
pub fn check_object_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("name is empty".into());
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!("name is {} bytes long; at most {MAX_NAME_LEN} are allowed", name.len()));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '.')) {
        return Err(format!(
            "name `{}` contains {:?}: only lowercase letters, digits, `-` and `.` are allowed",
            name.escape_debug(),
            c
        ));
    }
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !alnum(name.chars().next()) || !alnum(name.chars().last()) {
        return Err(format!("name `{name}` must start and end with a letter or digit"));
    }
    if name.split('.').any(|label| label.is_empty()) {
        return Err(format!("name `{name}` has an empty `.`-separated part"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_object_name;

    #[test]
    fn rejects_names_that_could_escape_a_directory() {
        for bad in ["", "../etc", "a/b", "a\0b", "A", "-a", "a..b", ".", "..", "a b", &"a".repeat(254)] {
            assert!(check_object_name(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["nginx", "nginx-1.2", "a", "profile.v2"] {
            assert!(check_object_name(good).is_ok(), "{good:?} rejected");
        }
    }
}
