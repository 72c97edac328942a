//! The portable bundle file: a streaming writer and a streaming, fully verifying reader.
//!
//! Layout (integers little-endian; `docs/LEDGER_FORMAT.md` has it byte for byte): magic
//! `JITOSBDL`, version u32, header, then entries, then a 32-byte trailer hash over
//! everything before it. Version 2 (written now): each entry is a tag byte and its body: a
//! record (u32 length, stored encoding), a blob (u64 length, bytes; addressed by their
//! hash), or a blob absent from the source (its 32-byte hash). The blobs a record names
//! come right before it, each once in the bundle. Version 1 (read): records only, each a
//! u32 length and its stored encoding.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::blob::blob_hash;
use crate::error::BundleError;
use crate::genesis::{Genesis, FORMAT_VERSION};
use crate::hash::Hash;
use crate::ledger::check_genesis_record;
use crate::limits::{BLOB_BYTES_MAX, BUNDLE_RECORDS_MAX, RECORD_BYTES_MAX};
use crate::record::Record;
use crate::staging::sync_parent;

/// First bytes of every bundle.
pub const BUNDLE_MAGIC: [u8; 8] = *b"JITOSBDL";

/// The bundle layout this build writes and the newest it reads.
pub const BUNDLE_FORMAT_VERSION: u32 = 2;

/// The first layout, of records only; still read.
const BUNDLE_FORMAT_RECORDS_ONLY: u32 = 1;

/// Version 2 entry tag: a record.
const TAG_RECORD: u8 = 1;
/// Version 2 entry tag: a blob's bytes.
const TAG_BLOB: u8 = 2;
/// Version 2 entry tag: a blob a record names that its source store did not hold.
const TAG_ABSENT: u8 = 3;

/// Domain separation for the trailer hash.
const BUNDLE_TRAILER_CONTEXT: &str = "jitos.ledger.bundle.v1";

/// Buffer size for bundle reads and writes.
const BUNDLE_IO_BUFFER_BYTES: usize = 256 * 1024;

/// What a verified bundle holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleInfo {
    /// The bundle layout version.
    pub format_version: u32,
    /// The store the records came from.
    pub store_id: [u8; 16],
    /// The genesis payload, when the bundle starts at seq 0.
    pub genesis: Option<Genesis>,
    /// The genesis record's hash, when the bundle starts at seq 0.
    pub genesis_hash: Option<Hash>,
    /// First seq.
    pub from: u64,
    /// Last seq.
    pub to: u64,
    /// Records held (`to - from + 1`).
    pub records: u64,
    /// Hash of the last record (seq `to`).
    pub head_hash: Hash,
    /// Blobs carried, each once (none in a version 1 bundle).
    pub blobs: u64,
    /// Blobs the records name that their source store did not hold, so the bundle cannot
    /// carry them.
    pub blobs_absent: u64,
    /// Size of the bundle file.
    pub bundle_bytes: u64,
}

impl BundleInfo {
    /// Whether the bundle carries the blobs its records name (version 2 and later).
    pub fn carries_blobs(&self) -> bool {
        self.format_version > BUNDLE_FORMAT_RECORDS_ONLY
    }
}

/// One entry of a bundle, as the reader returns it.
pub(crate) enum Entry {
    /// A record, checked and linked to the one before.
    Record(Record),
    /// A blob's bytes and their hash.
    Blob(Hash, Vec<u8>),
    /// A blob the next record names that the source did not hold (the reader keeps its
    /// hash for `check_named`).
    Absent,
}

/// The fixed-size header after magic and version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) store_id: [u8; 16],
    pub(crate) genesis_hash: Option<Hash>,
    pub(crate) from: u64,
    pub(crate) to: u64,
    pub(crate) record_count: u64,
    pub(crate) head_hash: Hash,
}

/// store id, genesis flag, genesis hash, from, to, record count, head hash.
const HEADER_BYTES: usize = 16 + 1 + 32 + 8 + 8 + 8 + 32;

impl Header {
    fn encode(&self) -> [u8; HEADER_BYTES] {
        let mut bytes = [0u8; HEADER_BYTES];
        let genesis_flag = [u8::from(self.genesis_hash.is_some())];
        let genesis_hash = self.genesis_hash.unwrap_or(Hash::ZERO);
        let fields: [&[u8]; 7] = [
            &self.store_id,
            &genesis_flag,
            &genesis_hash.0,
            &self.from.to_le_bytes(),
            &self.to.to_le_bytes(),
            &self.record_count.to_le_bytes(),
            &self.head_hash.0,
        ];
        let mut cursor = bytes.as_mut_slice();
        for field in fields {
            let (target, rest) = cursor.split_at_mut(field.len());
            target.copy_from_slice(field);
            cursor = rest;
        }
        bytes
    }

    /// Decodes and checks a header; the error is the reason it is not valid.
    fn decode(bytes: &[u8; HEADER_BYTES]) -> Result<Header, String> {
        let mut fields = Fields(bytes.as_slice());
        let store_id = fields.take::<16>();
        let genesis_flag = fields.take::<1>();
        let genesis_hash = fields.take::<32>();
        let from = u64::from_le_bytes(fields.take::<8>());
        let to = u64::from_le_bytes(fields.take::<8>());
        let record_count = u64::from_le_bytes(fields.take::<8>());
        let head_hash = Hash(fields.take::<32>());
        let genesis_hash = match (genesis_flag, from) {
            ([1], 0) => Some(Hash(genesis_hash)),
            ([0], from) if from > 0 => None,
            _ => return Err("the genesis flag does not match the first seq".to_owned()),
        };
        if from > to {
            return Err(format!("the range {from}..={to} is empty"));
        }
        if Some(record_count) != (to - from).checked_add(1) {
            return Err(format!(
                "record count {record_count} does not match the range {from}..={to}"
            ));
        }
        if record_count > BUNDLE_RECORDS_MAX {
            return Err(format!(
                "record count {record_count} exceeds BUNDLE_RECORDS_MAX ({BUNDLE_RECORDS_MAX})"
            ));
        }
        Ok(Header {
            store_id,
            genesis_hash,
            from,
            to,
            record_count,
            head_hash,
        })
    }
}

/// Takes fixed-size fields off the front of a buffer whose length the caller already checked;
/// a short buffer yields zeros rather than panicking.
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut field = [0u8; N];
        let n = N.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        field[..n].copy_from_slice(head);
        self.0 = rest;
        field
    }
}

/// Writes a bundle to a temporary file beside its destination; `finish` syncs and renames it.
pub(crate) struct BundleWriter {
    path: PathBuf,
    version: u32,
    output: BufWriter<NamedTempFile>,
    hasher: blake3::Hasher,
    bytes: u64,
}

impl BundleWriter {
    /// A writer of bundle layout `version`: `BUNDLE_FORMAT_VERSION`, or (in tests of the
    /// reader) the first, which carries records only.
    pub(crate) fn create(
        path: &Path,
        header: &Header,
        version: u32,
    ) -> Result<BundleWriter, BundleError> {
        let dir = crate::staging::parent_dir(path);
        let temp = tempfile::Builder::new()
            .prefix(".jitos-bundle-")
            .suffix(".partial")
            .tempfile_in(&dir)
            .map_err(io_error("create a temporary file in", &dir))?;
        let mut writer = BundleWriter {
            path: path.to_path_buf(),
            version,
            output: BufWriter::with_capacity(BUNDLE_IO_BUFFER_BYTES, temp),
            hasher: blake3::Hasher::new_derive_key(BUNDLE_TRAILER_CONTEXT),
            bytes: 0,
        };
        writer.write(&BUNDLE_MAGIC)?;
        writer.write(&version.to_le_bytes())?;
        writer.write(&header.encode())?;
        Ok(writer)
    }

    /// Appends one blob the next record names.
    pub(crate) fn blob(&mut self, bytes: &[u8]) -> Result<(), BundleError> {
        self.write(&[TAG_BLOB])?;
        self.write(&(bytes.len() as u64).to_le_bytes())?;
        self.write(bytes)
    }

    /// Appends the hash of a blob the next record names that the source does not hold.
    pub(crate) fn absent(&mut self, hash: &Hash) -> Result<(), BundleError> {
        self.write(&[TAG_ABSENT])?;
        self.write(&hash.0)
    }

    /// Appends one record (its stored encoding) with a length prefix.
    pub(crate) fn record(&mut self, encoded: &[u8]) -> Result<(), BundleError> {
        let len = u32::try_from(encoded.len())
            .ok()
            .filter(|len| *len as usize <= RECORD_BYTES_MAX)
            .ok_or_else(|| BundleError::Corrupt {
                path: self.path.clone(),
                reason: format!(
                    "a record of {} bytes exceeds RECORD_BYTES_MAX",
                    encoded.len()
                ),
            })?;
        if self.version > BUNDLE_FORMAT_RECORDS_ONLY {
            self.write(&[TAG_RECORD])?;
        }
        self.write(&len.to_le_bytes())?;
        self.write(encoded)
    }

    /// Writes the trailer, syncs the file, renames it into place and syncs the directory.
    pub(crate) fn finish(mut self) -> Result<u64, BundleError> {
        let trailer = self.hasher.finalize();
        self.write(trailer.as_bytes())?;
        let path = self.path;
        let temp = self
            .output
            .into_inner()
            .map_err(|error| io_error("write", &path)(error.into_error()))?;
        temp.as_file().sync_all().map_err(io_error("sync", &path))?;
        temp.persist(&path)
            .map_err(|error| io_error("rename the finished bundle to", &path)(error.error))?;
        sync_parent(&path).map_err(io_error("sync the directory of", &path))?;
        Ok(self.bytes)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), BundleError> {
        self.hasher.update(bytes);
        self.bytes += bytes.len() as u64;
        self.output
            .write_all(bytes)
            .map_err(io_error("write", &self.path))
    }
}

/// Reads a bundle front to back, checking everything: magic, version, header, every record's
/// decoding, seq, hash and parent link, the genesis record, the head, the trailer, and that
/// nothing follows it. Nothing it returns is trustworthy until `finish` succeeds.
pub(crate) struct BundleReader {
    path: PathBuf,
    input: BufReader<File>,
    hasher: blake3::Hasher,
    version: u32,
    pub(crate) header: Header,
    records_read: u64,
    previous: Hash,
    genesis: Option<Genesis>,
    bytes: u64,
    /// Every blob hash met so far, carried or absent: each may appear once.
    blobs_seen: BTreeSet<Hash>,
    /// Blobs met since the last record: the next record must name each.
    blobs_pending: BTreeSet<Hash>,
    /// The blobs that came right before the last record.
    blobs_before_last: BTreeSet<Hash>,
    blobs: u64,
    blobs_absent: u64,
}

impl BundleReader {
    pub(crate) fn open(path: &Path) -> Result<BundleReader, BundleError> {
        let file = File::open(path).map_err(io_error("open", path))?;
        let mut reader = BundleReader {
            path: path.to_path_buf(),
            input: BufReader::with_capacity(BUNDLE_IO_BUFFER_BYTES, file),
            hasher: blake3::Hasher::new_derive_key(BUNDLE_TRAILER_CONTEXT),
            header: Header {
                store_id: [0; 16],
                genesis_hash: None,
                from: 0,
                to: 0,
                record_count: 0,
                head_hash: Hash::ZERO,
            },
            version: 0,
            records_read: 0,
            previous: Hash::ZERO,
            genesis: None,
            bytes: 0,
            blobs_seen: BTreeSet::new(),
            blobs_pending: BTreeSet::new(),
            blobs_before_last: BTreeSet::new(),
            blobs: 0,
            blobs_absent: 0,
        };
        let mut magic = [0u8; 8];
        reader.read(&mut magic, "magic")?;
        if magic != BUNDLE_MAGIC {
            return Err(BundleError::BadMagic {
                path: path.to_path_buf(),
            });
        }
        let mut version = [0u8; 4];
        reader.read(&mut version, "version")?;
        let version = u32::from_le_bytes(version);
        if version > BUNDLE_FORMAT_VERSION {
            return Err(BundleError::UnsupportedVersion {
                path: path.to_path_buf(),
                found: version,
                supported: BUNDLE_FORMAT_VERSION,
            });
        }
        if version == 0 {
            return Err(
                reader.corrupt("bundle version 0 is not a version any jitos writes".to_owned())
            );
        }
        reader.version = version;
        let mut header = [0u8; HEADER_BYTES];
        reader.read(&mut header, "header")?;
        reader.header = Header::decode(&header).map_err(|reason| reader.corrupt(reason))?;
        Ok(reader)
    }

    /// The next entry, checked, or `None` once all `record_count` records have been read.
    pub(crate) fn next_entry(&mut self) -> Result<Option<Entry>, BundleError> {
        if self.records_read == self.header.record_count {
            return Ok(None);
        }
        let tag = if self.version == BUNDLE_FORMAT_RECORDS_ONLY {
            TAG_RECORD
        } else {
            let mut tag = [0u8; 1];
            self.read(&mut tag, "entries")?;
            tag[0]
        };
        match tag {
            TAG_RECORD => self.next_record().map(|r| Some(Entry::Record(r))),
            TAG_BLOB => {
                let mut len = [0u8; 8];
                self.read(&mut len, "blobs")?;
                let len = u64::from_le_bytes(len);
                // Checked before allocating, as a record's length is.
                let len = usize::try_from(len)
                    .ok()
                    .filter(|len| *len <= BLOB_BYTES_MAX)
                    .ok_or_else(|| {
                        self.corrupt(format!(
                            "a blob claims {len} bytes, over BLOB_BYTES_MAX ({BLOB_BYTES_MAX})"
                        ))
                    })?;
                let mut bytes = vec![0u8; len];
                self.read(&mut bytes, "blobs")?;
                let hash = blob_hash(&bytes);
                self.met_blob(hash)?;
                self.blobs += 1;
                Ok(Some(Entry::Blob(hash, bytes)))
            }
            TAG_ABSENT => {
                let mut hash = [0u8; 32];
                self.read(&mut hash, "blobs")?;
                let hash = Hash(hash);
                self.met_blob(hash)?;
                self.blobs_absent += 1;
                Ok(Some(Entry::Absent))
            }
            other => Err(self.corrupt(format!("an entry has the unknown tag {other}"))),
        }
    }

    /// Notes a blob entry; one the bundle already had is an error.
    fn met_blob(&mut self, hash: Hash) -> Result<(), BundleError> {
        if !self.blobs_seen.insert(hash) {
            return Err(self.corrupt(format!("blob {hash} appears twice")));
        }
        self.blobs_pending.insert(hash);
        Ok(())
    }

    /// Checks that the last record's blobs are exactly accounted for: every blob that came
    /// right before it is one it names, and every blob it names the bundle has carried (or
    /// marked absent at its source). A version 1 bundle carries no blobs; nothing to check.
    pub(crate) fn check_named(&self, named: &BTreeSet<Hash>) -> Result<(), BundleError> {
        if self.version == BUNDLE_FORMAT_RECORDS_ONLY {
            return Ok(());
        }
        let seq = self.header.from + self.records_read - 1;
        if let Some(stray) = self.blobs_before_last.difference(named).next() {
            return Err(self.corrupt(format!(
                "blob {stray} comes before record {seq}, which does not name it"
            )));
        }
        if let Some(missing) = named.iter().find(|h| !self.blobs_seen.contains(h)) {
            return Err(self.corrupt(format!(
                "record {seq} names blob {missing}, which the bundle neither carries nor marks \
                 absent at its source"
            )));
        }
        Ok(())
    }

    /// The next record, checked and linked to the one before.
    fn next_record(&mut self) -> Result<Record, BundleError> {
        let seq = self.header.from + self.records_read;
        let mut len = [0u8; 4];
        self.read(&mut len, "records")?;
        let len = u32::from_le_bytes(len) as usize;
        // Checked before allocating: a corrupt prefix must not make the reader allocate gigabytes.
        if len > RECORD_BYTES_MAX {
            return Err(self.corrupt(format!(
                "record {seq} claims {len} bytes, over RECORD_BYTES_MAX ({RECORD_BYTES_MAX})"
            )));
        }
        let mut encoded = vec![0u8; len];
        self.read(&mut encoded, "records")?;
        let record = Record::decode_checked(seq, &encoded)
            .map_err(|reason| self.corrupt(format!("record {seq}: {reason}")))?;
        if seq == 0 {
            self.check_genesis(&record)?;
        } else if self.records_read > 0 && record.parent != self.previous {
            return Err(self.corrupt(format!("record {seq} does not link to record {}", seq - 1)));
        }
        self.previous = record.hash;
        self.records_read += 1;
        self.blobs_before_last = std::mem::take(&mut self.blobs_pending);
        Ok(record)
    }

    /// Reads any records left, then checks the head, the trailer and the end of the file.
    pub(crate) fn finish(mut self) -> Result<BundleInfo, BundleError> {
        while self.next_entry()?.is_some() {}
        if self.previous != self.header.head_hash {
            return Err(self.corrupt("the last record is not the head the header names".to_owned()));
        }
        let expected = *self.hasher.finalize().as_bytes();
        let mut trailer = [0u8; 32];
        self.input
            .read_exact(&mut trailer)
            .map_err(|error| self.read_error(error, "trailer"))?;
        if trailer != expected {
            return Err(self.corrupt("the trailer hash does not match the contents".to_owned()));
        }
        let mut extra = [0u8; 1];
        let extra_bytes = self
            .input
            .read(&mut extra)
            .map_err(io_error("read", &self.path))?;
        if extra_bytes > 0 {
            return Err(self.corrupt("bytes follow the trailer".to_owned()));
        }
        Ok(BundleInfo {
            format_version: self.version,
            store_id: self.header.store_id,
            genesis: self.genesis,
            genesis_hash: self.header.genesis_hash,
            from: self.header.from,
            to: self.header.to,
            records: self.header.record_count,
            head_hash: self.header.head_hash,
            blobs: self.blobs,
            blobs_absent: self.blobs_absent,
            bundle_bytes: self.bytes + 32,
        })
    }

    fn check_genesis(&mut self, record: &Record) -> Result<(), BundleError> {
        let genesis = check_genesis_record(record).map_err(|reason| self.corrupt(reason))?;
        if genesis.store_id != self.header.store_id {
            return Err(self
                .corrupt("the genesis record names a different store than the header".to_owned()));
        }
        if Some(record.hash) != self.header.genesis_hash {
            return Err(
                self.corrupt("the genesis record is not the one the header names".to_owned())
            );
        }
        if genesis.format_version > FORMAT_VERSION {
            return Err(BundleError::FutureFormat {
                path: self.path.clone(),
                found: genesis.format_version,
                supported: FORMAT_VERSION,
            });
        }
        self.genesis = Some(genesis);
        Ok(())
    }

    fn read(&mut self, buffer: &mut [u8], part: &str) -> Result<(), BundleError> {
        self.input
            .read_exact(buffer)
            .map_err(|error| self.read_error(error, part))?;
        self.hasher.update(buffer);
        self.bytes += buffer.len() as u64;
        Ok(())
    }

    fn read_error(&self, error: io::Error, part: &str) -> BundleError {
        if error.kind() == io::ErrorKind::UnexpectedEof {
            BundleError::Truncated {
                path: self.path.clone(),
                part: part.to_owned(),
            }
        } else {
            io_error("read", &self.path)(error)
        }
    }

    fn corrupt(&self, reason: String) -> BundleError {
        BundleError::Corrupt {
            path: self.path.clone(),
            reason,
        }
    }
}

fn io_error(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> BundleError {
    let path = path.to_path_buf();
    move |source| BundleError::Io { op, path, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_rejects_inconsistency() {
        // A header decodes to itself; a wrong count or a genesis flag on a later start is refused.
        let header = Header {
            store_id: [4; 16],
            genesis_hash: Some(Hash([5; 32])),
            from: 0,
            to: 9,
            record_count: 10,
            head_hash: Hash([6; 32]),
        };
        assert_eq!(Header::decode(&header.encode()), Ok(header));
        let wrong_count = Header {
            record_count: 11,
            ..header
        };
        assert!(Header::decode(&wrong_count.encode()).is_err());
        let later = Header {
            from: 3,
            record_count: 7,
            ..header
        };
        assert!(Header::decode(&later.encode()).is_err());
    }
}
