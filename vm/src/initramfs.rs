//! The guest's root file system: a `newc` cpio archive the kernel unpacks
//! into its initial tmpfs.
//!
//! Files are host files copied to the same path (with every shared library
//! `ldd` names, so a dynamically linked tool runs as on the host), whole
//! host directories (`/etc/apparmor.d`, the SELinux policy), or text the
//! test writes. The writer is ours: `newc` is a 110-byte ASCII header per
//! entry, simpler to write than to depend on, and the entries are kept in
//! path order so parents precede children and equal inputs give equal
//! archives.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::tools::{find, output};
use crate::VmError;

#[derive(Debug, Clone)]
enum Entry {
    Dir,
    File { data: Source, mode: u32 },
    Symlink(String),
}

#[derive(Debug, Clone)]
enum Source {
    Bytes(Vec<u8>),
    Host(PathBuf),
}

/// An archive being assembled: guest path to entry.
#[derive(Debug, Default, Clone)]
pub struct Initramfs {
    entries: BTreeMap<String, Entry>,
}

/// The top-level directories that are links into `/usr` (Debian's merged
/// `/usr`, as on the host): a file added at `/lib/...` lands in `/usr/lib`.
const MERGED: [&str; 4] = ["bin", "sbin", "lib", "lib64"];

fn guest_key(path: &str) -> String {
    let key = path.trim_start_matches('/').trim_end_matches('/');
    match key.split_once('/') {
        Some((top, rest)) if MERGED.contains(&top) => format!("usr/{top}/{rest}"),
        _ => key.to_owned(),
    }
}

impl Initramfs {
    /// An archive with the directories every guest needs.
    pub fn new() -> Initramfs {
        let mut i = Initramfs::default();
        for d in [
            "usr/bin",
            "usr/sbin",
            "usr/lib",
            "usr/lib64",
            "etc",
            "proc",
            "sys",
            "dev",
            "tmp",
            "run",
            "root",
            "var/log",
            "var/tmp",
        ] {
            i.dir(d);
        }
        for top in MERGED {
            i.entries.insert(top.to_owned(), Entry::Symlink(format!("usr/{top}")));
        }
        i
    }

    fn parents(&mut self, key: &str) {
        let mut p = Path::new(key).parent();
        while let Some(d) = p.filter(|d| !d.as_os_str().is_empty()) {
            self.entries.entry(d.to_string_lossy().into_owned()).or_insert(Entry::Dir);
            p = d.parent();
        }
    }

    /// A directory (and its parents).
    pub fn dir(&mut self, path: &str) -> &mut Self {
        let key = guest_key(path);
        self.parents(&key);
        self.entries.insert(key, Entry::Dir);
        self
    }

    /// A file with `data` and permission bits `mode`.
    pub fn text(&mut self, path: &str, data: impl Into<Vec<u8>>, mode: u32) -> &mut Self {
        let key = guest_key(path);
        self.parents(&key);
        self.entries.insert(key, Entry::File { data: Source::Bytes(data.into()), mode });
        self
    }

    /// A symbolic link at `path` pointing to `target`.
    pub fn symlink(&mut self, path: &str, target: &str) -> &mut Self {
        let key = guest_key(path);
        if MERGED.contains(&key.as_str()) {
            return self;
        }
        self.parents(&key);
        self.entries.insert(key, Entry::Symlink(target.to_owned()));
        self
    }

    /// The host file `host` at guest path `guest` (its content; a symlink
    /// is followed), with its permission bits.
    pub fn host_file(&mut self, host: &Path, guest: &str) -> Result<&mut Self, VmError> {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(host).map_err(VmError::io("read", host))?;
        let key = guest_key(guest);
        self.parents(&key);
        self.entries
            .insert(key, Entry::File { data: Source::Host(host.to_owned()), mode: meta.permissions().mode() & 0o7777 });
        Ok(self)
    }

    /// A host program at its own path, with the shared libraries it needs.
    pub fn program(&mut self, host: &Path) -> Result<&mut Self, VmError> {
        self.host_file(host, &host.to_string_lossy())?;
        self.libraries(host)
    }

    /// A host program at guest path `guest`, stripped of debug information
    /// when `strip` is there (our debug builds are large), with its
    /// libraries.
    pub fn program_stripped(&mut self, host: &Path, guest: &str, scratch: &Path) -> Result<&mut Self, VmError> {
        let name = host.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "prog".into());
        let stripped = scratch.join(format!("{name}.stripped"));
        let ok =
            find("strip").is_some_and(|strip| output(Command::new(strip).arg("-o").arg(&stripped).arg(host)).is_ok());
        self.host_file(if ok { &stripped } else { host }, guest)?;
        self.libraries(host)
    }

    /// The shared libraries `ldd` lists for `program` (none for a static
    /// program), each at its host path, and the dynamic loader.
    pub fn libraries(&mut self, program: &Path) -> Result<&mut Self, VmError> {
        let Some(ldd) = find("ldd") else {
            return Err(VmError::Missing { what: "ldd".into(), fix: "apt-get install libc-bin".into() });
        };
        let out = Command::new(ldd).arg(program).output().map_err(VmError::io("run ldd on", program))?;
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let path = match line.split_once("=>") {
                Some((_, rest)) => rest.split_whitespace().next(),
                None => line.split_whitespace().next().filter(|p| p.starts_with('/')),
            };
            if let Some(p) = path.filter(|p| p.starts_with('/')) {
                self.host_file(Path::new(p), p)?;
            }
        }
        Ok(self)
    }

    /// Every file, link and directory under host directory `host`, at the
    /// same place under `guest`.
    pub fn tree(&mut self, host: &Path, guest: &str) -> Result<&mut Self, VmError> {
        self.dir(guest);
        let entries = std::fs::read_dir(host).map_err(VmError::io("list", host))?;
        for e in entries.flatten() {
            let path = e.path();
            let g = format!("{}/{}", guest.trim_end_matches('/'), e.file_name().to_string_lossy());
            let ty = e.file_type().map_err(VmError::io("stat", &path))?;
            if ty.is_symlink() {
                let target = std::fs::read_link(&path).map_err(VmError::io("read the link", &path))?;
                self.symlink(&g, &target.to_string_lossy());
            } else if ty.is_dir() {
                self.tree(&path, &g)?;
            } else if ty.is_file() {
                self.host_file(&path, &g)?;
            }
        }
        Ok(self)
    }

    /// Write the archive to `out`.
    pub fn write(&self, out: &Path) -> Result<u64, VmError> {
        let f = std::fs::File::create(out).map_err(VmError::io("create", out))?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
        let mut written = 0u64;
        for (ino, (name, entry)) in self.entries.iter().enumerate() {
            let (mode, data): (u32, std::borrow::Cow<'_, [u8]>) = match entry {
                Entry::Dir => (0o040755, (&[][..]).into()),
                Entry::Symlink(t) => (0o120777, t.as_bytes().into()),
                Entry::File { data: Source::Bytes(b), mode } => (0o100000 | mode, b.as_slice().into()),
                Entry::File { data: Source::Host(p), mode } => {
                    (0o100000 | mode, std::fs::read(p).map_err(VmError::io("read", p.clone()))?.into())
                }
            };
            written +=
                header(&mut w, ino as u32 + 1, mode, data.len() as u32, name).map_err(VmError::io("write", out))?;
            w.write_all(&data).map_err(VmError::io("write", out))?;
            written += data.len() as u64 + pad(&mut w, data.len() as u64).map_err(VmError::io("write", out))?;
        }
        header(&mut w, 0, 0, 0, "TRAILER!!!").map_err(VmError::io("write", out))?;
        w.flush().map_err(VmError::io("write", out))?;
        Ok(written)
    }
}

fn pad(w: &mut impl Write, len: u64) -> std::io::Result<u64> {
    let n = (4 - len % 4) % 4;
    w.write_all(&[0u8; 3][..n as usize])?;
    Ok(n)
}

fn header(w: &mut impl Write, ino: u32, mode: u32, size: u32, name: &str) -> std::io::Result<u64> {
    let nlink = if mode & 0o170000 == 0o040000 { 2 } else { 1 };
    let h = format!(
        "070701{ino:08x}{mode:08x}{:08x}{:08x}{nlink:08x}{:08x}{size:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        name.len() + 1,
        0
    );
    w.write_all(h.as_bytes())?;
    w.write_all(name.as_bytes())?;
    w.write_all(&[0])?;
    let len = h.len() as u64 + name.len() as u64 + 1;
    Ok(len + pad(w, len)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The archive reads back with busybox's cpio, the reference here.
    #[test]
    fn busybox_cpio_lists_what_was_written() {
        let Some(busybox) = find("busybox") else {
            return spo_test_support::skip("needs busybox (apt-get install busybox-static)");
        };
        let dir = tempfile::tempdir().unwrap();
        let mut i = Initramfs::default();
        i.text("/etc/hello", "hi\n", 0o644).symlink("/bin/sh", "busybox").dir("/x/y");
        assert_eq!(guest_key("/lib/x86_64-linux-gnu/libc.so.6"), "usr/lib/x86_64-linux-gnu/libc.so.6");
        let out = dir.path().join("a.cpio");
        i.write(&out).unwrap();
        let list = Command::new(&busybox).args(["cpio", "-t", "-F"]).arg(&out).output().unwrap();
        let names = String::from_utf8_lossy(&list.stdout).into_owned();
        assert_eq!(
            names.lines().collect::<Vec<_>>(),
            ["etc", "etc/hello", "usr", "usr/bin", "usr/bin/sh", "x", "x/y"],
            "{names}"
        );
        let x = dir.path().join("x");
        std::fs::create_dir(&x).unwrap();
        let st = Command::new(&busybox).current_dir(&x).args(["cpio", "-i", "-d", "-F"]).arg(&out).status().unwrap();
        assert!(st.success());
        assert_eq!(std::fs::read_to_string(x.join("etc/hello")).unwrap(), "hi\n");
        assert_eq!(std::fs::read_link(x.join("usr/bin/sh")).unwrap(), Path::new("busybox"));
    }
}
