//! Prints every spo-rs CRD as one YAML stream, or with `--out-dir DIR`
//! writes one file per kind (the layout of `deploy/crds/`).

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    match (args.next().as_deref(), args.next()) {
        (None, _) => {
            print!("{}", spo_api::all_crds_yaml());
            Ok(())
        }
        (Some("--out-dir"), Some(dir)) => {
            let dir = PathBuf::from(dir);
            std::fs::create_dir_all(&dir)?;
            for (file, text) in spo_api::crd_files() {
                std::fs::write(dir.join(file), text)?;
            }
            Ok(())
        }
        _ => {
            eprintln!("usage: spo-crds [--out-dir DIR]");
            std::process::exit(2);
        }
    }
}
