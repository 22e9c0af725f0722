//! Reading the files profiles come in, and nothing else.
//!
//! Every file spo-rs reads on behalf of input (a profile named on a
//! command line, a manifest in spod's directory, an AppArmor include, a
//! CIL base, an audit log) goes through [`read_text`] or
//! [`read_text_within`]:
//!
//! - only regular files are read: `/dev/zero`, a FIFO or a socket would
//!   never end, or block; the file is opened non-blocking (a FIFO swapped
//!   in after the check cannot block the open) and checked again through
//!   the opened descriptor;
//! - the size is checked before reading (`fstat`), and at most
//!   [`Limits::file_size`]` + 1` bytes are read, so a file growing while it
//!   is read is refused too;
//! - [`read_text_within`] reads a file only if it lies inside a root
//!   directory once every symlink is resolved, and opens the resolved path
//!   with `openat2(RESOLVE_NO_SYMLINKS)`, so a symlink swapped into the
//!   path after the check is refused rather than followed. spod runs as
//!   root: a manifest directory entry must never become another file's
//!   content in its status.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use crate::{Limits, ParseError};

/// Read `path` (symlinks followed) as UTF-8 text, within `limits`.
pub fn read_text(path: &Path, limits: &Limits) -> Result<String, ParseError> {
    let file = open(path, false)?;
    read_open(path, file, limits)
}

/// Read `path` as UTF-8 text if, with every symlink resolved, it is a
/// regular file inside `root` (itself resolved); otherwise refuse it
/// without opening it.
pub fn read_text_within(root: &Path, path: &Path, limits: &Limits) -> Result<String, ParseError> {
    let resolved = resolve_within(root, path)?;
    let file = open(&resolved, true).map_err(|e| match e {
        // A symlink appeared since the path was resolved.
        ParseError::Io { source, .. } if source.raw_os_error() == Some(libc_eloop()) => {
            ParseError::Outside { path: path.to_owned(), root: root.to_owned() }
        }
        e => e,
    })?;
    read_open(path, file, limits)
}

/// `path` with every symlink resolved, if that lies inside `root`.
pub fn resolve_within(root: &Path, path: &Path) -> Result<PathBuf, ParseError> {
    let outside = || ParseError::Outside { path: path.to_owned(), root: root.to_owned() };
    // A lexical check first: a name that climbs out with `..` is refused
    // before the file system is asked, so whether a file outside exists is
    // never told.
    let joined = if path.is_absolute() { path.to_owned() } else { root.join(path) };
    if !lexically_within(root, &joined) {
        return Err(outside());
    }
    let root_c = root.canonicalize().map_err(|e| io(root, e))?;
    let resolved = joined.canonicalize().map_err(|e| io(path, e))?;
    if !resolved.starts_with(&root_c) {
        return Err(outside());
    }
    Ok(resolved)
}

/// Whether `path`, with `.` and `..` applied to its text, stays under
/// `root` (also normalised).
pub fn lexically_within(root: &Path, path: &Path) -> bool {
    let (Some(root), Some(path)) = (normalise(root), normalise(path)) else { return false };
    path.starts_with(root)
}

fn normalise(p: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                if !out.pop() || out.as_os_str().is_empty() {
                    return None;
                }
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    Some(out)
}

fn io(path: &Path, source: std::io::Error) -> ParseError {
    ParseError::Io { path: path.to_owned(), source: Arc::new(source) }
}

const fn libc_eloop() -> i32 {
    rustix::io::Errno::LOOP.raw_os_error()
}

/// Open read-only and non-blocking; `no_symlinks` refuses a symlink in any
/// component (openat2), falling back to refusing one in the last
/// component where the kernel lacks openat2.
fn open(path: &Path, no_symlinks: bool) -> Result<File, ParseError> {
    use rustix::fs::{Mode, OFlags, ResolveFlags, CWD};
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    let fd = if no_symlinks {
        match rustix::fs::openat2(
            CWD,
            path,
            flags,
            Mode::empty(),
            ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
        ) {
            Err(rustix::io::Errno::NOSYS) => rustix::fs::open(path, flags | OFlags::NOFOLLOW, Mode::empty()),
            r => r,
        }
    } else {
        rustix::fs::open(path, flags, Mode::empty())
    };
    let fd = fd.map_err(|e| io(path, std::io::Error::from(e)))?;
    Ok(File::from(fd))
}

fn read_open(path: &Path, file: File, limits: &Limits) -> Result<String, ParseError> {
    let md = file.metadata().map_err(|e| io(path, e))?;
    let ft = md.file_type();
    if !ft.is_file() {
        let what = if ft.is_dir() {
            "a directory"
        } else if ft.is_char_device() {
            "a character device"
        } else if ft.is_block_device() {
            "a block device"
        } else if ft.is_fifo() {
            "a FIFO"
        } else if ft.is_socket() {
            "a socket"
        } else {
            "not a regular file"
        };
        return Err(ParseError::NotRegular { path: path.to_owned(), what });
    }
    let too_large = |size: u64| ParseError::TooLarge { path: path.to_owned(), size, limit: limits.file_size };
    if md.size() > limits.file_size {
        return Err(too_large(md.size()));
    }
    let mut bytes = Vec::with_capacity(md.size() as usize);
    file.take(limits.file_size.saturating_add(1)).read_to_end(&mut bytes).map_err(|e| io(path, e))?;
    if bytes.len() as u64 > limits.file_size {
        return Err(too_large(bytes.len() as u64));
    }
    String::from_utf8(bytes)
        .map_err(|e| ParseError::NotUtf8 { path: path.to_owned(), offset: e.utf8_error().valid_up_to() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn special_files_are_refused_before_reading() {
        let d = tempfile::tempdir().unwrap();
        let zero = d.path().join("zero.json");
        symlink("/dev/zero", &zero).unwrap();
        let e = read_text(&zero, &Limits::default()).unwrap_err();
        assert!(matches!(e, ParseError::NotRegular { what: "a character device", .. }), "{e}");
        assert_eq!(e.to_string(), format!("{} is a character device, not a regular file", zero.display()));
        // A FIFO with no writer would block a plain open forever.
        let fifo = d.path().join("fifo.yaml");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let e = read_text(&fifo, &Limits::default()).unwrap_err();
        assert!(matches!(e, ParseError::NotRegular { what: "a FIFO", .. }), "{e}");
        let e = read_text(d.path(), &Limits::default()).unwrap_err();
        assert!(matches!(e, ParseError::NotRegular { what: "a directory", .. }), "{e}");
    }

    #[test]
    fn sizes_are_checked_first() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("big.json");
        std::fs::write(&f, vec![b' '; 2000]).unwrap();
        let limits = Limits { file_size: 1000, ..Limits::default() };
        let e = read_text(&f, &limits).unwrap_err();
        assert!(matches!(e, ParseError::TooLarge { size: 2000, limit: 1000, .. }), "{e}");
        assert!(e.to_string().contains("--limit file-size="), "{e}");
        assert_eq!(read_text(&f, &Limits::default()).unwrap().len(), 2000);
        std::fs::write(&f, b"ok \xff").unwrap();
        assert!(matches!(read_text(&f, &limits), Err(ParseError::NotUtf8 { offset: 3, .. })));
    }

    #[test]
    fn symlinks_out_of_the_root_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let (root, outside) = (d.path().join("root"), d.path().join("outside"));
        std::fs::create_dir_all(root.join("..data")).unwrap();
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("secret"), "kind: TOP-SECRET\n").unwrap();
        std::fs::write(root.join("..data/p.yaml"), "kind: SeccompProfile\n").unwrap();
        // A ConfigMap's links stay inside: followed.
        symlink("..data/p.yaml", root.join("p.yaml")).unwrap();
        assert_eq!(
            read_text_within(&root, &root.join("p.yaml"), &Limits::default()).unwrap(),
            "kind: SeccompProfile\n"
        );
        symlink(outside.join("secret"), root.join("s.yaml")).unwrap();
        symlink("../outside/secret", root.join("r.yaml")).unwrap();
        for name in ["s.yaml", "r.yaml", "../outside/secret"] {
            let e = read_text_within(&root, &root.join(name), &Limits::default()).unwrap_err();
            assert!(matches!(e, ParseError::Outside { .. }), "{name}: {e}");
            assert!(!e.to_string().contains("TOP-SECRET"));
        }
        // Lexically outside: refused without asking whether it exists.
        assert!(!lexically_within(&root, &root.join("a/../../x")));
        assert!(lexically_within(&root, &root.join("a/../x")));
    }
}
