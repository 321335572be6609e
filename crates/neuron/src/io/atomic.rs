//! Atomic file writes: a reader sees the old file or the complete new one, never a partial one.

use std::io::Write;
use std::path::Path;

use crate::error::{NeuronError, Result};

/// A file written in pieces that appears at its path only when complete: the bytes go to a
/// temporary file beside it, which [`AtomicFile::commit`] flushes to disk and renames over the
/// path. Dropped without a commit, the temporary file is removed and the path left as it was.
pub struct AtomicFile {
    path: std::path::PathBuf,
    tmp: std::path::PathBuf,
    out: Option<std::io::BufWriter<std::fs::File>>,
}

impl AtomicFile {
    /// Starts writing the file that will become `path`.
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        let name = path
            .file_name()
            .ok_or_else(|| NeuronError::arg(format!("{}: not a file path", path.display())))?;
        let tmp = dir.join(format!(
            ".{}.tmp-{}",
            name.to_string_lossy(),
            std::process::id()
        ));
        let f = std::fs::File::create(&tmp).map_err(|e| NeuronError::io(&path, e))?;
        Ok(AtomicFile {
            path,
            tmp,
            out: Some(std::io::BufWriter::with_capacity(1 << 20, f)),
        })
    }

    /// Flushes the bytes to disk and puts the file at its path.
    pub fn commit(mut self) -> Result<()> {
        let out = self.out.take();
        let finish = || -> std::io::Result<()> {
            if let Some(out) = out {
                out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            }
            std::fs::rename(&self.tmp, &self.path)?;
            if let Some(d) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                if let Ok(d) = std::fs::File::open(d) {
                    let _ = d.sync_all();
                }
            }
            Ok(())
        };
        finish().map_err(|e| {
            let _ = std::fs::remove_file(&self.tmp);
            NeuronError::io(&self.path, e)
        })
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.out {
            Some(o) => o.write(buf),
            None => Ok(0),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.as_mut().map_or(Ok(()), |o| o.flush())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.out.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `bytes` to a temporary file beside `path`, flushes it to disk, then renames it over
/// `path`.
pub fn atomic_write(path: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    let path = path.as_ref();
    let mut f = AtomicFile::create(path)?;
    f.write_all(bytes).map_err(|e| NeuronError::io(path, e))?;
    f.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_appears_only_when_committed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        std::fs::write(&path, "old").unwrap();
        let mut f = AtomicFile::create(&path).unwrap();
        f.write_all(b"new, half").unwrap();
        drop(f);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        let mut f = AtomicFile::create(&path).unwrap();
        f.write_all(b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        f.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file left"
        );
    }
}
