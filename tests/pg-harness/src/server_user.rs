//! Which OS user runs initdb, pg_ctl and the server: PostgreSQL refuses to run as root,
//! yet tests here and in CI run as root, so root hands the server to the `postgres` user.

use std::ffi::CString;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use crate::HarnessError;

/// The identity server-side programs run under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ServerUser {
    /// Not root: the server runs as whoever runs the tests.
    Current,
    /// Root: the server runs as this (non-root) user, and owns the cluster directory.
    Switched { uid: u32, gid: u32 },
}

impl ServerUser {
    pub(crate) fn detect() -> Result<ServerUser, HarnessError> {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            return Ok(ServerUser::Current);
        }
        let (uid, gid) = lookup_user("postgres").ok_or(HarnessError::NoServerUser)?;
        if uid == 0 {
            // A `postgres` user with uid 0 would still be refused by the server.
            return Err(HarnessError::NoServerUser);
        }
        Ok(ServerUser::Switched { uid, gid })
    }

    /// Makes `command` run under this identity. std's `uid()` also drops root's
    /// supplementary groups, so this is what `setpriv`/`runuser` would do, minus PAM.
    pub(crate) fn apply(self, command: &mut Command) {
        if let ServerUser::Switched { uid, gid } = self {
            command.uid(uid).gid(gid);
        }
    }

    /// Gives `path` to the server user so it can create the data dir, log and socket there.
    pub(crate) fn take_ownership(self, path: &Path) -> Result<(), HarnessError> {
        match self {
            ServerUser::Current => Ok(()),
            ServerUser::Switched { uid, gid } => {
                std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(HarnessError::io(path))
            }
        }
    }
}

fn lookup_user(name: &str) -> Option<(u32, u32)> {
    let c_name = CString::new(name).ok()?;
    let mut buffer = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: passwd is plain data; all-zero is a valid (empty) value that getpwnam_r overwrites.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer refers to live memory of the stated size for the duration of the call;
    // the reentrant variant keeps the strings in our buffer, so parallel tests cannot clobber it.
    let status = unsafe {
        libc::getpwnam_r(
            c_name.as_ptr(),
            &mut entry,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut result,
        )
    };
    if status != 0 || result.is_null() {
        return None;
    }
    Some((entry.pw_uid, entry.pw_gid))
}
