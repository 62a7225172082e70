//! Stage 5, write: the generated files as an in-memory tree, written to disk only when
//! generation as a whole succeeded, and compared byte for byte in check mode.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Relative path → file contents.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FileTree {
    pub files: BTreeMap<PathBuf, String>,
}

impl FileTree {
    /// The files `emit` adds to an empty tree.
    pub fn build<E>(emit: impl FnOnce(&mut FileTree) -> Result<(), E>) -> Result<FileTree, E> {
        let mut tree = FileTree::default();
        emit(&mut tree).map(|()| tree)
    }

    pub fn add(&mut self, path: impl Into<PathBuf>, contents: String) {
        self.files.insert(path.into(), contents);
    }

    /// Write every file under `root`, skipping files whose bytes are already right, so
    /// a second run changes nothing (not even modification times).
    pub fn write(&self, root: &Path) -> std::io::Result<Vec<PathBuf>> {
        let mut written = Vec::new();
        for (relative, contents) in &self.files {
            let path = root.join(relative);
            if std::fs::read(&path).ok().as_deref() == Some(contents.as_bytes()) {
                continue;
            }
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&path, contents)?;
            written.push(relative.clone());
        }
        Ok(written)
    }

    /// Files under `root` that differ from this tree (missing or changed).
    pub fn differences(&self, root: &Path) -> Vec<PathBuf> {
        self.files
            .iter()
            .filter(|(relative, contents)| std::fs::read(root.join(relative)).ok().as_deref() != Some(contents.as_bytes()))
            .map(|(relative, _)| relative.clone())
            .collect()
    }
}
