//! Listings: aliases and key entries as `ListAliases` and `ListKeys` return them, and the paging
//! both use.

use crate::error::invalid;
use crate::{AliasName, KeyId, KmsError};

/// An alias and the key it points to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    /// Alias name.
    pub name: AliasName,
    /// `acs:kms:<region>:<account>:alias/<name>`.
    pub arn: String,
    /// Target key.
    pub key_id: KeyId,
}

/// A key as `ListKeys` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyListEntry {
    /// Key id.
    pub key_id: KeyId,
    /// Key ARN.
    pub arn: String,
}

/// A page request: number ≥ 1, size 1–100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// 1-based page number.
    pub number: u32,
    /// Items per page.
    pub size: u32,
}

impl Page {
    /// Validates; 0 means the default (page 1, size 10).
    pub fn new(number: u32, size: u32) -> Result<Self, KmsError> {
        let number = if number == 0 { 1 } else { number };
        let size = if size == 0 { 10 } else { size };
        if size > 100 {
            return Err(invalid("PageSize must be 1-100"));
        }
        Ok(Self { number, size })
    }
    /// The slice of `total` items this page covers, as a range (empty past the end).
    pub fn range(&self, total: usize) -> std::ops::Range<usize> {
        let start = (self.number as usize - 1)
            .saturating_mul(self.size as usize)
            .min(total);
        let end = start.saturating_add(self.size as usize).min(total);
        start..end
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paged<T> {
    /// Items of this page.
    pub items: Vec<T>,
    /// Items over all pages.
    pub total_count: u64,
    /// The page returned.
    pub page: Page,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn pages_partition_the_listing(total in 0usize..500, size in 1u32..=100) {
            let mut seen = 0;
            let mut number = 1;
            loop {
                let r = Page::new(number, size).map_err(|e| TestCaseError::fail(e.to_string()))?.range(total);
                if r.is_empty() { break; }
                prop_assert_eq!(r.start, seen);
                prop_assert!(r.len() <= size as usize);
                seen = r.end;
                number += 1;
            }
            prop_assert_eq!(seen, total);
        }
    }
}
