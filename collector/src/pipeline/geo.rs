//! Coarse geolocation of a truncated address: country, region and city,
//! never coordinates, postcode or network. Reads MaxMind DB files in both
//! record layouts: MaxMind's and DB-IP's (`country.iso_code`,
//! `subdivisions[].names`, `city.names`) and ip-location-db's
//! (`country_code`, `state1`, `city`). Lookups are cached by prefix.

mod mapped;

use crate::row::Text;
use arc_swap::ArcSwap;
use mapped::Mapped;
use quick_cache::sync::Cache;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Place {
    pub country_code: Text,
    pub region: Text,
    pub city: Text,
}

#[derive(Debug, thiserror::Error)]
#[error("GeoIP database {path}: {error}")]
pub struct GeoError {
    path: PathBuf,
    error: maxminddb::MaxMindDbError,
}

struct Database {
    path: PathBuf,
    /// The file as it was just before it was read.
    stamp: Option<Stamp>,
    reader: maxminddb::Reader<Data>,
}

/// What tells a new version of a file: another inode (a rename over it),
/// size or modification time.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    inode: u64,
    len: u64,
    modified: Option<SystemTime>,
}

impl Stamp {
    fn of(path: &Path) -> Option<Stamp> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path).ok()?;
        Some(Stamp {
            inode: meta.ino(),
            len: meta.len(),
            modified: meta.modified().ok(),
        })
    }
}

/// A database's bytes: read into memory, or mapped from a private copy.
enum Data {
    Read(Vec<u8>),
    Mapped(Mapped),
}

impl AsRef<[u8]> for Data {
    fn as_ref(&self) -> &[u8] {
        match self {
            Data::Read(bytes) => bytes,
            Data::Mapped(map) => map.as_ref(),
        }
    }
}

pub struct Geo {
    databases: Vec<Database>,
    cache: Cache<IpAddr, Arc<Place>>,
}

impl std::fmt::Debug for Geo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let paths: Vec<_> = self.databases.iter().map(|d| &d.path).collect();
        f.debug_struct("Geo").field("databases", &paths).finish()
    }
}

/// The databases in use, opened again when an operator replaces their
/// files (GeoLite2 is updated every week or month): lookups go on with the
/// old version until the new one is read whole, and a broken new file
/// leaves the old version in use.
pub struct LiveGeo {
    current: ArcSwap<Geo>,
    paths: Vec<PathBuf>,
    cache_entries: usize,
    /// Where mapped copies go; `None`: read into memory.
    copies: Option<PathBuf>,
}

impl std::fmt::Debug for LiveGeo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("LiveGeo")
            .field(&self.current.load())
            .finish()
    }
}

impl LiveGeo {
    /// As [`Geo::open_mapped`].
    pub fn open_mapped(
        paths: &[PathBuf],
        cache_entries: usize,
        copies: &Path,
    ) -> Result<LiveGeo, GeoError> {
        let geo = Geo::open_mapped(paths, cache_entries, copies)?;
        Ok(LiveGeo {
            current: ArcSwap::from_pointee(geo),
            paths: paths.to_vec(),
            cache_entries,
            copies: Some(copies.to_path_buf()),
        })
    }

    /// `geo` for good: never opened again.
    pub fn fixed(geo: Geo) -> LiveGeo {
        LiveGeo {
            current: ArcSwap::from_pointee(geo),
            paths: Vec::new(),
            cache_entries: 1,
            copies: None,
        }
    }

    pub fn current(&self) -> arc_swap::Guard<Arc<Geo>> {
        self.current.load()
    }

    /// Opens the files again if one changed since it was read: `Ok(true)`
    /// once the new version is in use. Blocking (copies the files).
    pub fn refresh(&self) -> Result<bool, GeoError> {
        if self.paths.is_empty() || !self.current.load().changed_on_disk() {
            return Ok(false);
        }
        // A copy is replaced by a rename: the old map keeps its own file.
        let geo = match &self.copies {
            Some(dir) => Geo::open_mapped(&self.paths, self.cache_entries, dir)?,
            None => Geo::open(&self.paths, self.cache_entries)?,
        };
        self.current.store(Arc::new(geo));
        Ok(true)
    }
}

/// Both layouts at once: absent fields stay `None`.
#[derive(Deserialize)]
struct Record<'a> {
    #[serde(borrow)]
    country: Option<Country<'a>>,
    #[serde(borrow)]
    subdivisions: Option<Vec<Named<'a>>>,
    #[serde(borrow)]
    city: Option<CityField<'a>>,
    country_code: Option<&'a str>,
    state1: Option<&'a str>,
}

#[derive(Deserialize)]
struct Country<'a> {
    iso_code: Option<&'a str>,
}

#[derive(Deserialize)]
struct Named<'a> {
    #[serde(borrow)]
    names: Option<BTreeMap<&'a str, &'a str>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum CityField<'a> {
    Name(&'a str),
    Record(#[serde(borrow)] Named<'a>),
}

fn english(named: &Named<'_>) -> Option<String> {
    named.names.as_ref()?.get("en").map(|s| (*s).to_owned())
}

impl Geo {
    /// Opens the databases, tried in order for each address, read into
    /// memory.
    pub fn open(paths: &[PathBuf], cache_entries: usize) -> Result<Geo, GeoError> {
        Geo::load(paths, cache_entries, |path, _| {
            std::fs::read(path).map(Data::Read)
        })
    }

    /// Opens the databases as [`Geo::open`] does, each mapped from a
    /// private copy in `dir` (a directory only this process writes, such as
    /// the locked spool's): only the pages lookups touch stay resident.
    /// Without room for a copy, that database is read into memory.
    pub fn open_mapped(
        paths: &[PathBuf],
        cache_entries: usize,
        dir: &Path,
    ) -> Result<Geo, GeoError> {
        Geo::load(paths, cache_entries, |path, i| {
            let copy = dir.join(format!("{i}.mmdb"));
            match std::fs::create_dir_all(dir).and_then(|()| Mapped::private_copy(path, &copy)) {
                Ok(map) => Ok(Data::Mapped(map)),
                // A full spool disk must not stop the collector from starting.
                Err(error) => {
                    tracing::warn!(%error, copy = %copy.display(), "GeoIP database not copied: read into memory instead");
                    std::fs::read(path).map(Data::Read)
                }
            }
        })
    }

    fn load(
        paths: &[PathBuf],
        cache_entries: usize,
        data: impl Fn(&Path, usize) -> std::io::Result<Data>,
    ) -> Result<Geo, GeoError> {
        let databases = paths
            .iter()
            .enumerate()
            .map(|(i, path)| {
                let error = |error| GeoError {
                    path: path.clone(),
                    error,
                };
                // Taken first: a file changed while read is read again.
                let stamp = Stamp::of(path);
                let bytes = data(path, i).map_err(|e| error(maxminddb::MaxMindDbError::Io(e)))?;
                maxminddb::Reader::from_source(bytes)
                    .map(|reader| Database {
                        path: path.clone(),
                        stamp,
                        reader,
                    })
                    .map_err(error)
            })
            .collect::<Result<_, _>>()?;
        Ok(Geo {
            databases,
            cache: Cache::new(cache_entries.max(1)),
        })
    }

    /// No database: every address is unknown.
    pub fn empty() -> Geo {
        Geo {
            databases: Vec::new(),
            cache: Cache::new(1),
        }
    }

    pub fn is_loaded(&self) -> bool {
        !self.databases.is_empty()
    }

    /// Build time of the oldest database, for its age metric.
    pub fn oldest_build(&self) -> Option<SystemTime> {
        self.databases
            .iter()
            .map(|d| {
                SystemTime::UNIX_EPOCH
                    + std::time::Duration::from_secs(d.reader.metadata().build_epoch)
            })
            .min()
    }

    /// Whether a database file is now another version than the one read (a
    /// file gone keeps the version in use).
    pub fn changed_on_disk(&self) -> bool {
        self.databases
            .iter()
            .any(|db| Stamp::of(&db.path).is_some_and(|now| db.stamp.as_ref() != Some(&now)))
    }

    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.databases.iter().map(|d| d.path.as_path())
    }

    /// The place of an already truncated address.
    pub fn lookup(&self, truncated: IpAddr) -> Arc<Place> {
        if let Some(place) = self.cache.get(&truncated) {
            return place;
        }
        let place = Arc::new(self.find(truncated));
        self.cache.insert(truncated, Arc::clone(&place));
        place
    }

    fn find(&self, ip: IpAddr) -> Place {
        for db in &self.databases {
            let Ok(result) = db.reader.lookup(ip) else {
                continue;
            };
            let Ok(Some(record)) = result.decode::<Record<'_>>() else {
                continue;
            };
            let country_code = record
                .country
                .and_then(|c| c.iso_code)
                .or(record.country_code)
                .unwrap_or_default()
                .to_owned();
            let region = record
                .subdivisions
                .as_ref()
                .and_then(|s| s.first())
                .and_then(english)
                .or_else(|| record.state1.map(str::to_owned))
                .unwrap_or_default();
            let city = match record.city {
                Some(CityField::Name(name)) => name.to_owned(),
                Some(CityField::Record(named)) => english(&named).unwrap_or_default(),
                None => String::new(),
            };
            if !country_code.is_empty() {
                return Place {
                    country_code: country_code.into(),
                    region: region.into(),
                    city: city.into(),
                };
            }
        }
        Place::default()
    }
}
