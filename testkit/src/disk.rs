//! A small disk of a test's own: a tmpfs mounted for the test, for a real
//! "no space left on device". Needs root, as `make test` has here and in CI.

use std::path::{Path, PathBuf};

/// A mounted tmpfs, unmounted when dropped.
#[derive(Debug)]
pub struct SmallDisk {
    pub dir: PathBuf,
}

impl SmallDisk {
    /// Mounts a tmpfs of `size` (`256k`, `4m`) on `dir`, creating it.
    pub fn mount(dir: &Path, size: &str) -> SmallDisk {
        std::fs::create_dir_all(dir).expect("mount point");
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mounting a tmpfs failed: this test needs root (as make test has here and in CI)"
        );
        SmallDisk {
            dir: dir.to_path_buf(),
        }
    }

    /// Fills what is left of the disk with `name`; returns whether it filled.
    pub fn fill(&self, name: &str) -> bool {
        use std::io::Write;
        let Ok(mut file) = std::fs::File::create(self.dir.join(name)) else {
            return true;
        };
        let chunk = [0u8; 16 * 1024];
        loop {
            if let Err(error) = file.write_all(&chunk) {
                return error.raw_os_error() == Some(28); // ENOSPC
            }
        }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.dir)
            .status();
    }
}
