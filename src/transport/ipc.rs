//! IPC: Unix domain stream sockets for `ipc://` endpoints.
//!
//! This file owns binding and connecting Unix sockets as non-blocking `mio`
//! types, and the lifetime of the socket file a bind creates (removed again
//! by [`IpcGuard`]). It must not register anything with a `Poll`, move
//! payload bytes, or know about ZMTP.
//!
//! Paths follow [`Endpoint::Ipc`](super::Endpoint::Ipc): `*` binds a fresh
//! unique path in the temp directory, `@name` is a Linux abstract socket (no
//! file at all), anything else is a file system path.

use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::endpoint::{ipc_abstract_name, ipc_is_wildcard};

/// Removes the socket file of a bound IPC listener when dropped.
///
/// It deletes the file only if it still looks like the very socket this bind
/// created (same device, inode and change time), so a socket file that
/// someone else has bound at the path in the meantime is left alone. (The
/// check is best effort: a file system that hands out the freed inode again
/// within the same timestamp tick cannot be told apart.) For `ipc://*` it also removes the temporary
/// directory it made; for abstract sockets there is nothing to remove.
#[derive(Debug)]
pub struct IpcGuard {
    /// The path actually bound (`*` resolved; `@name` for abstract).
    path: PathBuf,
    /// Identity of the socket file, when there is one.
    file_id: Option<FileId>,
    /// The temporary directory made for `ipc://*`.
    temp_dir: Option<PathBuf>,
}

/// What tells one socket file from another at the same path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    dev: u64,
    ino: u64,
    ctime: i64,
    ctime_nsec: i64,
}

impl FileId {
    fn of(meta: &fs::Metadata) -> FileId {
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
            ctime: meta.ctime(),
            ctime_nsec: meta.ctime_nsec(),
        }
    }
}

impl IpcGuard {
    /// The path actually bound: for `ipc://*` the generated path, for an
    /// abstract socket `@name`, else the path given.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for IpcGuard {
    fn drop(&mut self) {
        if let Some(id) = self.file_id {
            match fs::symlink_metadata(&self.path) {
                Ok(meta) if FileId::of(&meta) == id => {
                    if let Err(e) = fs::remove_file(&self.path) {
                        tracing::debug!("could not remove {}: {e}", self.path.display());
                    }
                }
                _ => {}
            }
        }
        if let Some(dir) = &self.temp_dir {
            if let Err(e) = fs::remove_dir(dir) {
                tracing::debug!("could not remove {}: {e}", dir.display());
            }
        }
    }
}

/// Binds a non-blocking Unix listener at `path`.
///
/// A socket file already at `path` is probed first: if a live listener
/// answers, the bind fails with `AddrInUse`; if nobody answers (a stale file
/// left by a process that died) the file is replaced, as libzmq does. Any
/// other kind of file at `path` (regular file, directory, ...) is never
/// deleted: the bind fails with `AlreadyExists`.
///
/// # Errors
///
/// `AddrInUse`, `AlreadyExists` as above; `InvalidInput` for paths too long
/// for `sun_path`; other OS errors as they come.
///
/// # Examples
///
/// ```
/// use ringmq::transport::{bind_ipc, connect_ipc};
///
/// let (listener, guard) = bind_ipc("*".as_ref())?;
/// let path = guard.path().to_owned();
/// assert!(path.exists());
/// let _stream = connect_ipc(&path)?;
/// drop(listener);
/// drop(guard);
/// assert!(!path.exists());
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn bind_ipc(path: &Path) -> io::Result<(mio::net::UnixListener, IpcGuard)> {
    if let Some(name) = ipc_abstract_name(path) {
        let listener = mio::net::UnixListener::bind_addr(&abstract_addr(name)?)?;
        let guard = IpcGuard {
            path: path.to_owned(),
            file_id: None,
            temp_dir: None,
        };
        return Ok((listener, guard));
    }
    if ipc_is_wildcard(path) {
        return bind_temp();
    }
    clear_stale(path)?;
    let listener = mio::net::UnixListener::bind(path)?;
    let meta = fs::symlink_metadata(path)?;
    let guard = IpcGuard {
        path: path.to_owned(),
        file_id: Some(FileId::of(&meta)),
        temp_dir: None,
    };
    Ok((listener, guard))
}

/// Connects a non-blocking Unix stream to `path` (`@name` for an abstract
/// socket). Unix connects complete at once; a missing listener is reported
/// here as `NotFound` (no file) or `ConnectionRefused` (stale file).
///
/// # Errors
///
/// `InvalidInput` for `*` (there is nothing to connect to) and for paths
/// too long for `sun_path`; OS errors as they come.
pub fn connect_ipc(path: &Path) -> io::Result<mio::net::UnixStream> {
    if let Some(name) = ipc_abstract_name(path) {
        return mio::net::UnixStream::connect_addr(&abstract_addr(name)?);
    }
    if ipc_is_wildcard(path) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "cannot connect to `ipc://*`: name the path to connect to",
        ));
    }
    mio::net::UnixStream::connect(path)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn abstract_addr(name: &[u8]) -> io::Result<std::os::unix::net::SocketAddr> {
    #[cfg(target_os = "android")]
    use std::os::android::net::SocketAddrExt;
    #[cfg(target_os = "linux")]
    use std::os::linux::net::SocketAddrExt;
    std::os::unix::net::SocketAddr::from_abstract_name(name)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn abstract_addr(_name: &[u8]) -> io::Result<std::os::unix::net::SocketAddr> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "abstract IPC names (`@name`) are only available on Linux",
    ))
}

/// Makes room for a bind at `path`: removes a dead socket file, refuses to
/// touch a live one or anything that is not a socket.
fn clear_stale(path: &Path) -> io::Result<()> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.file_type().is_socket() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{} exists and is not a socket; refusing to replace it",
                path.display()
            ),
        ));
    }
    // A non-blocking connect answers at once: accepted (or backlog full)
    // means someone is listening; refused means the file is stale.
    match mio::net::UnixStream::connect(path) {
        Ok(_) => Err(addr_in_use(path)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(addr_in_use(path)),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            tracing::debug!("replacing stale IPC socket file {}", path.display());
            match fs::remove_file(path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            }
        }
        Err(e) => Err(e),
    }
}

fn addr_in_use(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::AddrInUse,
        format!("{} is in use by a live listener", path.display()),
    )
}

/// Binds `ipc://*`: a fresh private directory under the temp directory with
/// a socket named `socket` inside, as libzmq does.
fn bind_temp() -> io::Result<(mio::net::UnixListener, IpcGuard)> {
    let base = std::env::temp_dir();
    let pid = std::process::id();
    // `create_dir` is atomic, so a name clash just means another try.
    for attempt in 0..64u32 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = base.join(format!("ringmq-{pid}-{nanos:x}-{attempt}"));
        match fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
        let path = dir.join("socket");
        let bound = mio::net::UnixListener::bind(&path)
            .and_then(|l| fs::symlink_metadata(&path).map(|m| (l, m)));
        return match bound {
            Ok((listener, meta)) => Ok((
                listener,
                IpcGuard {
                    path,
                    file_id: Some(FileId::of(&meta)),
                    temp_dir: Some(dir),
                },
            )),
            Err(e) => {
                let _ = fs::remove_file(&path);
                let _ = fs::remove_dir(&dir);
                Err(e)
            }
        };
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "could not create a unique temporary directory for `ipc://*`",
    ))
}
