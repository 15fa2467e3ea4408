//! ListObjects (v1 and v2 share one engine): prefix, delimiter roll-up into common prefixes,
//! start-after, and max-keys pagination in UTF-8 byte order.

use cang_meta_api::{ListObjectsPage, ListObjectsQuery, MetaError, validate_max_keys};

use super::Store;
use super::object::StoredObject;
use super::tables::{BUCKETS, DbResult, OBJECTS, decode};

impl Store {
    /// Lists one page of a bucket's objects. Keys and common prefixes both count towards
    /// `max_keys`; `next_marker` is the last entry returned, which resumes the listing exactly.
    pub fn list_objects(&self, bucket: &str, query: &ListObjectsQuery) -> Result<ListObjectsPage, MetaError> {
        validate_max_keys(query.max_keys)?;
        let txn = self.read()?;
        if txn.open_table(BUCKETS).db()?.get(bucket).db()?.is_none() {
            return Err(MetaError::NoSuchBucket);
        }
        let objects = txn.open_table(OBJECTS).db()?;
        let (prefix, delimiter, after) = (&query.prefix, &query.delimiter, query.start_after.as_str());
        let max = query.max_keys as usize;
        let mut page = ListObjectsPage::default();
        let mut last_entry: Option<String> = None;
        let mut cursor = prefix.as_str().max(after).to_owned();
        'scan: loop {
            for entry in objects.range((bucket, cursor.as_str())..).db()? {
                let (k, v) = entry.db()?;
                let (b, key) = k.value();
                if b != bucket || !key.starts_with(prefix.as_str()) {
                    break 'scan;
                }
                if key <= after {
                    continue;
                }
                let rolled = cang_meta_api::common_prefix(key, prefix, delimiter);
                if let Some(cp) = rolled
                    && (cp <= after || last_entry.as_deref() == Some(cp))
                {
                    continue;
                }
                if page.objects.len() + page.common_prefixes.len() == max {
                    page.is_truncated = true;
                    page.next_marker = last_entry;
                    break 'scan;
                }
                match rolled {
                    Some(cp) => {
                        page.common_prefixes.push(cp.to_owned());
                        last_entry = Some(cp.to_owned());
                        // Jump past every key under this prefix instead of walking them.
                        if let Some(next) = successor(cp) {
                            cursor = next;
                            continue 'scan;
                        }
                    }
                    None => {
                        page.objects
                            .push(decode::<StoredObject>(v.value())?.info(bucket, key));
                        last_entry = Some(key.to_owned());
                    }
                }
            }
            break;
        }
        Ok(page)
    }
}

/// The smallest string greater than every string starting with `prefix`, when its last byte is
/// ASCII below DEL (true for the usual `/` delimiter); `None` otherwise (callers then scan on).
fn successor(prefix: &str) -> Option<String> {
    let last = *prefix.as_bytes().last()?;
    if last >= 0x7f {
        return None;
    }
    let mut s = prefix[..prefix.len() - 1].to_owned();
    s.push(char::from(last + 1));
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::successor;

    #[test]
    fn successor_bounds_the_prefix() {
        assert_eq!(successor("a/").as_deref(), Some("a0"));
        assert_eq!(successor("a/b-").as_deref(), Some("a/b."));
        assert_eq!(successor("藏"), None);
        assert_eq!(successor(""), None);
    }
}
