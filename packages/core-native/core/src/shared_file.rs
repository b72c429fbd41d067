//! Whole files mapped shared, for the bridge's bulk path: the server copies a
//! page into a session's read file through one mapping, and a client maps the
//! same file, so a large read is one memory copy instead of a trip through a
//! socket or two file-system copies.

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::error::{Error, ErrorCode, Result};
use crate::page_memory::Mapping;

/// A mapping of all of one regular file, unmapped on drop.
pub struct SharedFile {
    mapping: Mapping,
}

impl SharedFile {
    /// Maps the regular file at `path` whole, writable or read-only. A final
    /// symbolic link is refused (a peer could point it elsewhere), and so is
    /// an empty file, which cannot be mapped.
    pub fn open(path: &Path, writable: bool) -> Result<SharedFile> {
        let file = OpenOptions::new()
            .read(true)
            .write(writable)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(path)
            .map_err(|error| Error::io("opening a shared file", path, &error))?;
        let metadata = file
            .metadata()
            .map_err(|error| Error::io("reading the size of a shared file", path, &error))?;
        if !metadata.is_file() || metadata.len() == 0 {
            return Err(Error::new(
                ErrorCode::InvalidArgument,
                format!("{} is not a non-empty regular file", path.display()),
            ));
        }
        let len = usize::try_from(metadata.len()).map_err(|_| {
            Error::new(
                ErrorCode::InvalidArgument,
                format!("{} is too large to map", path.display()),
            )
        })?;
        let mapping =
            Mapping::map(&file, len, writable).map_err(|error| Error::io("mapping a shared file", path, &error))?;
        Ok(SharedFile { mapping })
    }

    /// The first byte of the mapping.
    pub fn as_ptr(&self) -> *mut u8 {
        self.mapping.first()
    }

    pub fn len(&self) -> usize {
        self.mapping.len()
    }

    pub fn is_empty(&self) -> bool {
        self.mapping.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_a_file_shared_and_refuses_links_and_empty_files() {
        let directory = std::env::temp_dir().join(format!("mmsb-shared-file-{}", std::process::id()));
        std::fs::create_dir_all(&directory).expect("temp dir");
        let path = directory.join("data");
        std::fs::write(&path, [1u8, 2, 3, 4]).expect("write");
        let writable = SharedFile::open(&path, true).expect("map");
        assert_eq!(writable.len(), 4);
        // Safety: the mapping is 4 bytes long and alive.
        unsafe { *writable.as_ptr().add(2) = 9 };
        let reader = SharedFile::open(&path, false).expect("map again");
        // Safety: as above.
        assert_eq!(
            unsafe { std::slice::from_raw_parts(reader.as_ptr(), reader.len()) },
            &[1, 2, 9, 4]
        );
        drop(writable);
        assert_eq!(std::fs::read(&path).expect("read"), vec![1, 2, 9, 4]);

        std::os::unix::fs::symlink(&path, directory.join("link")).expect("symlink");
        assert_eq!(
            SharedFile::open(&directory.join("link"), false)
                .err()
                .map(|error| error.code),
            Some(ErrorCode::IoError)
        );
        std::fs::write(directory.join("empty"), []).expect("write");
        assert_eq!(
            SharedFile::open(&directory.join("empty"), false)
                .err()
                .map(|error| error.code),
            Some(ErrorCode::InvalidArgument)
        );
        std::fs::remove_dir_all(&directory).expect("cleanup");
    }
}
