//! `spoc crds`: print the CustomResourceDefinitions of spo-rs.
//!
//! The files in `deploy/crds/` are generated from the Rust types of
//! `spo-api` and a snapshot test keeps them current, so `spoc` embeds
//! them rather than linking the Kubernetes client stack.

/// The CRD files, in a stable order (embedded by `spo-validate`, which
/// judges SPO's configuration kinds against them).
const CRDS: &[(&str, &str)] = spo_validate::schema::CRD_FILES;

/// Every CRD as one multi-document YAML stream.
pub fn all() -> String {
    CRDS.iter().map(|(_, text)| *text).collect::<Vec<_>>().join("---\n")
}

/// Run `spoc crds`.
pub fn main() -> anyhow::Result<u8> {
    super::write_stdout(all().as_bytes())?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_crd_in_deploy_is_embedded() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/crds");
        let mut on_disk: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        on_disk.sort();
        let mut embedded: Vec<String> = super::CRDS.iter().map(|(n, _)| (*n).to_owned()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded);
        let (docs, diags) = spo_parse::value::parse_yaml(&super::all());
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(docs.len(), super::CRDS.len());
        assert!(docs.iter().all(|d| d.get("kind").and_then(|k| k.as_str()) == Some("CustomResourceDefinition")));
    }
}
